/**
 * A replica damaged on disk, as `lignum cluster status` shows it, with three real nodes and a
 * real Consul: a follower is stopped, one bit of a closed segment of its copy flipped (only
 * the CRC can tell) and the node started again; its background verification finds the flip
 * and its registration names the replica damaged. Every node's status must then show that
 * replica's storage as damaged (the others verified), call the cluster unhealthy with the
 * repair command, and exit 7.
 */
import {expect} from 'chai'
import path from 'node:path'
import {LignumClient} from '../../src/client/index.js'
import {errorTable} from '../../src/errors.js'
import type {ClusterStatus} from '../../src/ui/cluster-status-table.js'
import {runCli} from '../helpers/cli.js'
import {useConsul} from '../helpers/consul-suite.js'
import {flipBitInFirstSegment} from '../helpers/segment-damage.js'
import {eventually} from './member-process.js'
import type {ServeProcess} from './serve-process.js'
import {printLogs} from './cluster-reads.js'
import {replicatedTopic, SETTLE_MS, startThreeNodes} from './three-nodes.js'

const CLUSTER = 'damaged-replica'
const TOPIC = 'flipped'
// Small segments, so a few hundred records leave the follower several closed ones.
const SEGMENT_BYTES = 2_048
const RECORDS = 400

describe('a replica damaged on disk in cluster status (three real nodes, real Consul)', function () {
  this.timeout(240_000)
  const consul = useConsul({stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []

  afterEach(function () {
    if (this.currentTest?.state === 'failed') printLogs(nodes, 30)
  })

  it(`shows the damaged replica on every node, and exits ${errorTable.UNDER_REPLICATED.exitCode} naming it and the repair command`, async () => {
    nodes = await startThreeNodes(consul().url, CLUSTER, 'd')
    const state = await replicatedTopic(nodes, consul().url, CLUSTER, TOPIC, ['--segment-bytes', String(SEGMENT_BYTES)])
    const client = await LignumClient.connect({brokers: nodes.map((node) => node.address)})
    try {
      const producer = client.producer({acks: 'all', batchBytes: 256})
      await Promise.all(Array.from({length: RECORDS}, (_, index) => producer.send(TOPIC, {value: `record-${index}-${'x'.repeat(40)}`})))
      await producer.close()
    } finally {
      client.close()
    }
    const index = nodes.findIndex((node) => node.nodeId !== state.leader)
    const follower = nodes[index]!
    await follower.stop()
    await flipBitInFirstSegment(path.join(follower.dataDir, `${TOPIC}-0`))
    nodes[index] = await follower.startAgain()

    const damaged = `${TOPIC}-0 on ${follower.nodeId}`
    for (const asked of nodes) {
      const status = await eventually(`${asked.nodeId} to show ${damaged}`, async () => {
        const answer = await runCli(['cluster', 'status', '--json', '--brokers', asked.address])
        const document = JSON.parse(answer.stdout) as ClusterStatus
        return document.health.damagedReplicas.includes(damaged) ? {answer, document} : undefined
      }, SETTLE_MS)
      const replicas = status.document.partitions.find((entry) => entry.topic === TOPIC)!.replicaStatus
      expect(Object.fromEntries(replicas.map((replica) => [replica.node, replica.storage]))).to.deep.equal(Object.fromEntries(nodes.map((node) => [node.nodeId, node === nodes[index] ? 'damaged' : 'verified'])))
      expect(status.answer.code, status.answer.stderr).to.equal(errorTable.UNDER_REPLICATED.exitCode)
      expect(status.answer.stderr.trimEnd().split('\n'), status.answer.stderr).to.have.length(1)
      expect(status.answer.stderr).to.include(`1 damaged replica to repair with lignum segments repair (${damaged})`)
    }
    const text = await runCli(['cluster', 'status', '--brokers', nodes[0]!.address])
    const row = text.stdout.split('\n').find((line) => line.startsWith(`${TOPIC} `) && line.includes(` ${follower.nodeId} `) && line.trimEnd().endsWith('damaged'))
    expect(row, text.stdout).to.not.equal(undefined)
  })
})
