/**
 * Topics from the catalog, with a real Consul and three real `lignum serve --consul` processes:
 * a topic's settings are stored in its catalog record and every replica opens it with them;
 * `topics list`, `topics describe` and Metadata read the catalog on every node, so a node holding no
 * replica of a topic still names it and every node gives the same answer; a node that is not
 * the controller creates and deletes topics; names of internal topics are refused.
 */
import {expect} from 'chai'
import {WireClient} from '../../src/client/index.js'
import {runCli} from '../helpers/cli.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import type {ServeProcess} from './serve-process.js'
import {SETTLE_MS, controllerWithAllUp, startThreeNodes} from './three-nodes.js'
import {printLogs} from './cluster-reads.js'

const CLUSTER = 'topic-catalog-1'
const SETTLED = 'settled'
const LONELY = 'lonely'
// Small segments, far below the node default: a replica that ignored the setting holds one segment.
const SEGMENT_BYTES = 16 * 1024
const RETENTION_MS = 3_600_000
const RECORDS = 400
const RECORD_BYTES = 200
// Batches well below the segment size, so segments roll many times.
const BATCH_BYTES = 2048

interface TopicSummary {
  name: string
  config: Record<string, string | number>
  partitions: {partition: number; leader: string; logEndOffset: number; highWatermark: number; segmentCount: number; sizeBytes: number}[]
}

describe('topics from the catalog in cluster mode (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  const consul = useConsul({kind: 'persistent', stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      printLogs(nodes, 40)
    }
  })

  async function cli<T>(args: string[]): Promise<T> {
    const result = await runCli([...args, '--json'], {timeoutMs: 60_000})
    expect(result.code, `lignum ${args.join(' ')}: ${result.stderr}`).to.equal(0)
    return JSON.parse(result.stdout) as T
  }

  async function describedEverywhere(topic: string): Promise<TopicSummary[]> {
    return Promise.all(nodes.map((node) => cli<TopicSummary>(['topics', 'describe', topic, '--brokers', node.address])))
  }

  it('stores topic settings in the catalog and every replica applies them; list and describe answer alike on every node, holding a replica or not; a node that is not the controller creates and deletes', async () => {
    nodes = await startThreeNodes(consul().url, CLUSTER, 'n')
    const controller = await controllerWithAllUp(nodes)
    const notController = nodes.find((node) => node.nodeId !== controller)!

    await cli(['topics', 'create', SETTLED, '--partitions', '1', '--replication-factor', '3', '--segment-bytes', String(SEGMENT_BYTES), '--retention-ms', String(RETENTION_MS), '--flush-policy', 'always', '--brokers', notController.address])
    const record = (await fetch(`${consul().url}/v1/kv/lignum/${CLUSTER}/topics/${SETTLED}?raw`).then((response) => response.json())) as {settings: Record<string, string>}
    expect(record.settings, 'settings in the catalog record').to.deep.equal({segmentBytes: String(SEGMENT_BYTES), retentionMs: String(RETENTION_MS), flushPolicy: 'always'})

    // One replica only: two nodes hold none of it.
    await cli(['topics', 'create', LONELY, '--partitions', '2', '--replication-factor', '1', '--brokers', notController.address])

    const leader = await eventually(`the leader of ${SETTLED} to lead`, async () => {
      const [described] = await describedEverywhere(SETTLED)
      const named = nodes.find((node) => node.nodeId === described!.partitions[0]!.leader)
      return named?.logged('partition state applied').some((line) => line.topic === SETTLED && line.outcome === 'leading') ? named : undefined
    }, SETTLE_MS)
    const value = 'v'.repeat(RECORD_BYTES)
    const produced = await runCli(['produce', '-t', SETTLED, '--partition', '0', '--acks', 'all', '--batch-size', String(BATCH_BYTES), '--brokers', leader.address], {input: Array.from({length: RECORDS}, () => value).join('\n') + '\n', timeoutMs: 60_000})
    expect(produced.code, produced.stderr).to.equal(0)

    // Every replica rolled its segments at the topic's segment size, not the node default,
    // and, once the followers heard the last high watermark, every node answers the same.
    const settled = await eventually(`every node to describe ${SETTLED} alike`, async () => {
      const described = await describedEverywhere(SETTLED)
      const [first] = described
      const alike = described.every((other) => JSON.stringify(other) === JSON.stringify(first))
      return alike && first!.partitions[0]!.highWatermark === RECORDS ? first : undefined
    }, SETTLE_MS)
    expect(settled.config).to.deep.equal({retentionMs: RETENTION_MS, segmentBytes: SEGMENT_BYTES, flushPolicy: 'always'})
    expect(settled.partitions[0]!.segmentCount, 'segments of each replica').to.be.at.least(Math.floor((RECORDS * RECORD_BYTES) / SEGMENT_BYTES))

    // The catalog's facts of a topic with one replica: the same from the node that holds it and
    // from the two that do not (their offsets are -1: they hold nothing to count).
    const catalogFacts = async (node: ServeProcess) => {
      const client = await WireClient.connect({brokers: node.address})
      try {
        return (await client.listTopics()).map((topic) => ({
          name: topic.name,
          config: topic.config,
          partitions: topic.partitions.map(({partition, leader, leaderEpoch, replicas, isr}) => ({partition, leader, leaderEpoch, replicas, isr})),
        }))
      } finally {
        client.close()
      }
    }
    const facts = await Promise.all(nodes.map((node) => catalogFacts(node)))
    expect(facts[0]!.map((topic) => topic.name)).to.deep.equal([LONELY, SETTLED])
    expect(facts[1], `topics listed by ${nodes[1]!.nodeId}`).to.deep.equal(facts[0])
    expect(facts[2], `topics listed by ${nodes[2]!.nodeId}`).to.deep.equal(facts[0])
    const lonelyHolders = new Set(facts[0]!.find((topic) => topic.name === LONELY)!.partitions.flatMap((partition) => partition.replicas))
    const outsider = nodes.find((node) => !lonelyHolders.has(node.nodeId))!
    const seenByOutsider = await cli<TopicSummary>(['topics', 'describe', LONELY, '--brokers', outsider.address])
    expect(seenByOutsider.partitions.map((partition) => partition.logEndOffset), `${LONELY} from ${outsider.nodeId}, which holds none of it`).to.deep.equal([-1, -1])
    // Metadata, which clients route by, reads the catalog too.
    const outsiderClient = await WireClient.connect({brokers: outsider.address})
    try {
      expect(await outsiderClient.partitionCount(LONELY, false), `${LONELY}'s partitions in ${outsider.nodeId}'s metadata`).to.equal(2)
    } finally {
      outsiderClient.close()
    }
    const listed = await Promise.all(nodes.map((node) => cli<{topics: TopicSummary[]}>(['topics', 'list', '--brokers', node.address])))
    for (const answer of listed) expect(answer.topics.map((topic) => topic.name)).to.deep.equal([LONELY, SETTLED])

    // Internal names belong to the cluster.
    const reserved = await runCli(['topics', 'create', '__mine', '--brokers', notController.address])
    expect(reserved.code).to.not.equal(0)
    expect(reserved.stderr).to.match(/reserved/)
    const offsetsDelete = await runCli(['topics', 'delete', '__consumer_offsets', '--brokers', notController.address])
    expect(offsetsDelete.code).to.not.equal(0)
    expect(offsetsDelete.stderr).to.match(/belong to the cluster/)

    const deleted = await runCli(['topics', 'delete', LONELY, '--brokers', notController.address])
    expect(deleted.code, deleted.stderr).to.equal(0)
    for (const node of nodes) {
      const after = await cli<{topics: TopicSummary[]}>(['topics', 'list', '--brokers', node.address])
      expect(after.topics.map((topic) => topic.name), `topics on ${node.nodeId} after the delete`).to.deep.equal([SETTLED])
    }
  })
})
