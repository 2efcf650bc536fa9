/**
 * Consumer-group offsets in cluster mode, with a real Consul and three real `lignum serve
 * --consul` processes: `__consumer_offsets` is a replicated catalog topic (RF 3, min ISR 2,
 * GROUP_OFFSETS_PARTITIONS partitions), offsets committed through one node (client API and
 * `lignum consume --group`) are read back through the others, still after a clean restart of
 * every node, and the three copies of every offsets partition are identical.
 */
import {expect} from 'chai'
import {LignumClient} from '../../src/client/index.js'
import type {LignumError} from '../../src/errors.js'
import {groupOffsetsPartitionOf} from '../../src/broker/group-offsets.js'
import {GROUP_OFFSETS_PARTITIONS, OFFSET_COMMIT_TIMEOUT_MS} from '../../src/server/group-coordinator.js'
import {runCli} from '../helpers/cli.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import type {ServeProcess} from './serve-process.js'
import {REPLICA_LAG_MAX_MS, SETTLE_MS, controllerWithAllUp, startThreeNodes} from './three-nodes.js'
import {batchesIn as batchesOfPartition, partitionStatesIn, printLogs, type DumpedBatch, type StoredState} from './cluster-reads.js'

const TOPIC = 'orders'
const OFFSETS_TOPIC = '__consumer_offsets'
const PARTITIONS = 3
// Enough groups that every node coordinates some: commits through one node are forwarded.
const GROUPS = Array.from({length: 12}, (_, index) => `group-${index}`)
const CLI_GROUP = 'cli-readers'
const RECORDS = 20
// Longer than a commit waits for the in-sync replicas (OFFSET_COMMIT_TIMEOUT_MS).
const COMMIT_LAG_MAX_MS = 8_000

describe('consumer group offsets in cluster mode (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  const consul = useConsul({kind: 'persistent', stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      printLogs(nodes, 60)
    }
  })

  async function kv<T>(cluster: string, key: string): Promise<T | undefined> {
    const response = await fetch(`${consul().url}/v1/kv/lignum/${cluster}/${key}?raw`)
    if (response.status === 404) return undefined
    return (await response.json()) as T
  }

  async function partitionStates(cluster: string, topic: string): Promise<Map<number, StoredState>> {
    return partitionStatesIn(consul().url, cluster, topic)
  }

  async function startNodes(cluster: string, replicaLagMaxMs = REPLICA_LAG_MAX_MS): Promise<void> {
    nodes = await startThreeNodes(consul().url, cluster, 'n', {replicaLagMaxMs})
  }

  /** Every node took the role the catalog gives it for every partition of `topic`. */
  async function rolesApplied(cluster: string, topic: string, partitions: number): Promise<Map<number, StoredState>> {
    const states = await eventually(`the catalog to hold every partition of ${topic}`, async () => {
      const read = await partitionStates(cluster, topic)
      return read.size === partitions ? read : undefined
    }, SETTLE_MS)
    await eventually(`every replica of ${topic} to apply its state`, async () => {
      for (const [partition, state] of states) {
        for (const node of nodes.filter((candidate) => state.replicas.includes(candidate.nodeId))) {
          const expected = node.nodeId === state.leader ? 'leading' : 'following'
          const applied = node.logged('partition state applied').some((line) => line.topic === topic && line.partition === partition && line.outcome === expected)
          if (!applied) return undefined
        }
      }
      return true
    }, SETTLE_MS)
    return states
  }

  async function withClient<T>(node: ServeProcess, use: (client: LignumClient) => Promise<T>): Promise<T> {
    const client = await LignumClient.connect({brokers: node.address})
    try {
      return await use(client)
    } finally {
      client.close()
    }
  }

  /** A group's committed offsets of TOPIC as one node answers, retried while it says retriable (a coordinator still reading its table). */
  async function offsetsThrough(node: ServeProcess, group: string): Promise<{partition: number; offset: number}[]> {
    return eventually(`${node.nodeId} to answer group ${group}'s offsets`, () =>
      withClient(node, (client) => client.fetchOffsets(group, TOPIC)).then(
        (offsets) => offsets.map(({partition, offset}) => ({partition, offset})),
        (error: LignumError) => {
          if (!error.retriable) throw error
          return undefined
        },
      ), SETTLE_MS)
  }

  function committedFor(groupIndex: number): {partition: number; offset: number}[] {
    return Array.from({length: PARTITIONS}, (_, partition) => ({partition, offset: 100 * groupIndex + partition + 1}))
  }

  async function batchesIn(node: ServeProcess, partition: number): Promise<DumpedBatch[]> {
    return batchesOfPartition(node, OFFSETS_TOPIC, partition)
  }

  afterEach(async () => {
    await Promise.all(nodes.map((node) => node.destroy()))
    nodes = []
  })

  it('offsets committed through one node are read back through every node, also after a clean restart of all; the offsets replicas are identical', async () => {
    const cluster = 'group-offsets-1'
    await startNodes(cluster)
    const [first, second, third] = nodes as [ServeProcess, ServeProcess, ServeProcess]
    const created = await runCli(['topics', 'create', TOPIC, '--partitions', String(PARTITIONS), '--replication-factor', '3', '--brokers', first.address, '--json'])
    expect(created.code, created.stderr).to.equal(0)
    const states = await rolesApplied(cluster, TOPIC, PARTITIONS)

    // Through the client API, every group through the first node.
    await withClient(first, async (client) => {
      for (const [index, group] of GROUPS.entries()) await client.commitOffsets(group, TOPIC, committedFor(index))
    })

    // `__consumer_offsets` is a catalog topic created through the controller: RF min(3, live
    // nodes), min ISR min(2, RF), its fixed partition count, kept for ever and fsynced.
    const offsetsTopic = await kv<{partitions: number; replicationFactor: number; minInsyncReplicas: number; settings: Record<string, string>}>(cluster, `topics/${OFFSETS_TOPIC}`)
    expect(offsetsTopic, 'the offsets topic in the catalog').to.not.equal(undefined)
    expect({partitions: offsetsTopic!.partitions, replicationFactor: offsetsTopic!.replicationFactor, minInsyncReplicas: offsetsTopic!.minInsyncReplicas}).to.deep.equal({partitions: GROUP_OFFSETS_PARTITIONS, replicationFactor: 3, minInsyncReplicas: 2})
    expect(offsetsTopic!.settings).to.include({retentionMs: '-1', flushPolicy: 'always'})
    const offsetsStates = await rolesApplied(cluster, OFFSETS_TOPIC, GROUP_OFFSETS_PARTITIONS)
    const coordinators = new Set(GROUPS.map((group) => offsetsStates.get(groupOffsetsPartitionOf(group, GROUP_OFFSETS_PARTITIONS))!.leader))
    expect(coordinators.size, 'groups coordinated by every node, so some commits were forwarded').to.equal(3)

    // Through the CLI: a group consumer on the leader of partition 0 commits what it read.
    const produced = await runCli(['produce', '-t', TOPIC, '--partition', '0', '--acks', 'all', '--brokers', nodes.find((node) => node.nodeId === states.get(0)!.leader)!.address], {
      input: Array.from({length: RECORDS}, (_, index) => `record-${index}`).join('\n') + '\n',
      timeoutMs: 60_000,
    })
    expect(produced.code, produced.stderr).to.equal(0)
    const consumed = await runCli(['consume', '-t', TOPIC, '--partition', '0', '--group', CLI_GROUP, '-e', '--brokers', nodes.find((node) => node.nodeId === states.get(0)!.leader)!.address], {timeoutMs: 60_000})
    expect(consumed.code, consumed.stderr).to.equal(0)
    expect(consumed.stdout.trim().split('\n')).to.have.length(RECORDS)

    for (const node of [first, second, third]) {
      for (const [index, group] of GROUPS.entries()) expect(await offsetsThrough(node, group), `group ${group} through ${node.nodeId}`).to.deep.equal(committedFor(index))
      expect(await offsetsThrough(node, CLI_GROUP), `the CLI's group through ${node.nodeId}`).to.deep.equal([{partition: 0, offset: RECORDS}])
    }

    // A clean restart of every node: each coordinator reads its table from the replicated log.
    await Promise.all(nodes.map((node) => node.stop()))
    nodes = await Promise.all(nodes.map((node) => node.restart()))
    await controllerWithAllUp(nodes)
    for (const node of nodes) {
      for (const [index, group] of GROUPS.entries()) expect(await offsetsThrough(node, group), `group ${group} through ${node.nodeId} after the restart`).to.deep.equal(committedFor(index))
      expect(await offsetsThrough(node, CLI_GROUP), `the CLI's group through ${node.nodeId} after the restart`).to.deep.equal([{partition: 0, offset: RECORDS}])
    }

    await Promise.all(nodes.map((node) => node.stop()))
    let batchesSeen = 0
    for (let partition = 0; partition < GROUP_OFFSETS_PARTITIONS; partition++) {
      const copies = await Promise.all(nodes.map((node) => batchesIn(node, partition)))
      batchesSeen += copies[0]!.length
      expect(copies[1], `${OFFSETS_TOPIC}-${partition} on ${nodes[1]!.nodeId}`).to.deep.equal(copies[0])
      expect(copies[2], `${OFFSETS_TOPIC}-${partition} on ${nodes[2]!.nodeId}`).to.deep.equal(copies[0])
    }
    expect(batchesSeen, 'commit batches over the offsets partitions').to.be.at.least(GROUPS.length + 1)
  })

  it('a commit the in-sync replicas do not hold is not acknowledged, and is not answered by a fetch', async () => {
    // Frozen followers stay in the ISR past the commit's timeout: the commit cannot be covered.
    expect(COMMIT_LAG_MAX_MS).to.be.above(OFFSET_COMMIT_TIMEOUT_MS)
    await startNodes('group-offsets-2', COMMIT_LAG_MAX_MS)
    const group = 'unreplicated'
    // The topic, then a first commit that every replica holds (retried: a follower that asked
    // the new offsets partition's leader before it led waits for the ISR to change).
    const created = await runCli(['topics', 'create', TOPIC, '--partitions', '1', '--brokers', nodes[0]!.address])
    expect(created.code, created.stderr).to.equal(0)
    await rolesApplied('group-offsets-2', TOPIC, 1)
    await eventually('a first commit', () => withClient(nodes[0]!, (client) => client.commitOffsets(group, TOPIC, [{partition: 0, offset: 5}])).then(() => true, (error: LignumError) => {
      if (!error.retriable) throw error
      return undefined
    }), SETTLE_MS)
    await eventually('every offsets partition with its three replicas in sync', async () => {
      const states = await partitionStates('group-offsets-2', OFFSETS_TOPIC)
      return states.size === GROUP_OFFSETS_PARTITIONS && [...states.values()].every((state) => state.isr.length === 3) ? true : undefined
    }, SETTLE_MS)
    const offsetsStates = await rolesApplied('group-offsets-2', OFFSETS_TOPIC, GROUP_OFFSETS_PARTITIONS)
    const coordinator = nodes.find((node) => node.nodeId === offsetsStates.get(groupOffsetsPartitionOf(group, GROUP_OFFSETS_PARTITIONS))!.leader)!
    const followers = nodes.filter((node) => node !== coordinator)
    for (const follower of followers) follower.signal('SIGSTOP')
    const refused = await withClient(coordinator, (client) => client.commitOffsets(group, TOPIC, [{partition: 0, offset: 9}])).then(() => undefined, (error: LignumError) => error)
    expect(refused?.code, `a commit no follower holds: ${refused?.message}`).to.equal('REQUEST_TIMED_OUT')
    expect(await withClient(coordinator, (client) => client.fetchOffsets(group, TOPIC))).to.deep.equal([{topic: TOPIC, partition: 0, offset: 5}])
    for (const follower of followers) follower.signal('SIGCONT')
  })
})
