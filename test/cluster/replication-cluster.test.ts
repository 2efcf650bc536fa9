/**
 * Replication end to end, with a real Consul and three real `lignum serve --consul` processes
 * on loopback: a topic created through a node that is not the controller is assigned over the
 * three nodes, every node makes its replicas and takes the role the catalog gives it, acks=all
 * writes to each partition's leader are copied to both followers, and after a clean stop the
 * three data directories hold the same batches (offsets, CRCs, leader epochs).
 */
import {expect} from 'chai'
import {WireClient} from '../../src/client/index.js'
import {Connection} from '../../src/client/connection.js'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {Acks} from '../../src/generated/lignum/v1/lignum.js'
import type {LignumError} from '../../src/errors.js'
import {runCli} from '../helpers/cli.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import type {ServeProcess} from './serve-process.js'
import {REPLICA_LAG_MAX_MS, SETTLE_MS, controllerWithAllUp, startThreeNodes} from './three-nodes.js'
import {batchesIn as batchesOfPartition, partitionStatesIn, printLogs, type DumpedBatch, type StoredState} from './cluster-reads.js'

const TOPIC = 'replicated'
const PARTITIONS = 3
const RECORDS_PER_PARTITION = 2_000
const PRODUCE_BATCH_BYTES = 4096
// The leader checks for lagging followers every half lag bound and then writes the ISR to Consul.
const ISR_SHRINK_BOUND_MS = REPLICA_LAG_MAX_MS * 1.5 + 2_000
// How long a write refused for want of replicas is retried before it fails.
const REFUSED_DELIVERY_TIMEOUT_MS = 2_000

describe('replication in cluster mode (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  const consul = useConsul({kind: 'persistent', stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      printLogs(nodes, 40)
    }
  })

  /** The partition states as the controller wrote them in Consul, by partition. */
  async function partitionStates(cluster: string): Promise<Map<number, StoredState>> {
    return partitionStatesIn(consul().url, cluster, TOPIC)
  }

  function nodeById(id: string): ServeProcess {
    const node = nodes.find((candidate) => candidate.nodeId === id)
    if (!node) throw new Error(`no node ${id}`)
    return node
  }

  async function batchesIn(node: ServeProcess, partition: number): Promise<DumpedBatch[]> {
    return batchesOfPartition(node, TOPIC, partition)
  }

  /** Three nodes, a topic of 3 partitions (RF 3, min ISR 2) created through a node that is not the controller, every replica in its role. */
  async function replicatedTopic(cluster: string): Promise<Map<number, StoredState>> {
    nodes = await startThreeNodes(consul().url, cluster, 'n')
    const controller = await controllerWithAllUp(nodes)
    const notController = nodes.find((node) => node.nodeId !== controller)!

    const created = await runCli(['topics', 'create', TOPIC, '--partitions', String(PARTITIONS), '--replication-factor', '3', '--min-insync-replicas', '2', '--brokers', notController.address, '--json'])
    expect(created.code, created.stderr).to.equal(0)

    const states = await eventually('the catalog to hold every partition', async () => {
      const read = await partitionStates(cluster)
      return read.size === PARTITIONS ? read : undefined
    }, SETTLE_MS)
    const leaders = [...states.values()].map((state) => state.leader)
    expect(new Set(leaders).size, 'leaders on three different nodes').to.equal(3)
    for (const state of states.values()) {
      expect([...state.replicas].sort()).to.deep.equal(['n1', 'n2', 'n3'])
      expect([...state.isr].sort()).to.deep.equal(['n1', 'n2', 'n3'])
    }

    // Every node took the role the catalog gave it, for each partition.
    await eventually('every replica to apply its state', async () => {
      for (const [partition, state] of states) {
        for (const node of nodes) {
          const expected = node.nodeId === state.leader ? 'leading' : 'following'
          const applied = node.logged('partition state applied').some((line) => line.topic === TOPIC && line.partition === partition && line.outcome === expected)
          if (!applied) return undefined
        }
      }
      return true
    }, SETTLE_MS)
    return states
  }

  /** Sends `count` records with acks=all to the partition through its leader; the last offset acknowledged. */
  async function produceToLeader(leader: ServeProcess, partition: number, count: number, deliveryTimeoutMs?: number): Promise<number> {
    const client = await WireClient.connect({brokers: leader.address})
    try {
      // Small batches: the replicas are compared batch by batch.
      const producer = client.producer({acks: 'all', batchBytes: PRODUCE_BATCH_BYTES, deliveryTimeoutMs})
      const sent = []
      for (let index = 0; index < count; index++) sent.push(producer.send(TOPIC, {partition, value: Buffer.from(`p${partition}-${index}`)}))
      const acknowledged = await Promise.all(sent)
      await producer.close()
      return acknowledged.at(-1)!.offset
    } finally {
      client.close()
    }
  }

  afterEach(async () => {
    await Promise.all(nodes.map((node) => node.destroy()))
    nodes = []
  })

  it('copies acks=all writes to every replica; a follower refuses produce with NOT_LEADER; every node describes the catalog\'s roles; auto-created topics are replicated', async () => {
    const states = await replicatedTopic('replication-1')
    for (const node of nodes) {
      const client = await WireClient.connect({brokers: node.address})
      try {
        const described = await client.describeTopic(TOPIC)
        const roles = described.partitions.map(({leader, replicas, isr}) => ({leader, replicas, isr}))
        expect(roles, `topic metadata from ${node.nodeId}`).to.deep.equal([...states.values()].map(({leader, replicas, isr}) => ({leader, replicas, isr})))
      } finally {
        client.close()
      }
    }
    for (const [partition, state] of states) {
      expect(await produceToLeader(nodeById(state.leader!), partition, RECORDS_PER_PARTITION)).to.equal(RECORDS_PER_PARTITION - 1)
    }

    // A topic a client names without creating it is auto-created in the catalog with the
    // cluster's defaults (RF min(3, live nodes), min ISR min(2, RF)), not on one node alone.
    const autoClient = await WireClient.connect({brokers: nodes[0]!.address})
    try {
      expect(await autoClient.partitionCount('auto-created', true)).to.be.greaterThan(0)
    } finally {
      autoClient.close()
    }
    const record = await fetch(`${consul().url}/v1/kv/lignum/replication-1/topics/auto-created?raw`).then((response) => response.json()) as {replicationFactor: number; minInsyncReplicas: number}
    expect({replicationFactor: record.replicationFactor, minInsyncReplicas: record.minInsyncReplicas}).to.deep.equal({replicationFactor: 3, minInsyncReplicas: 2})

    const [firstPartition, firstState] = [...states][0]!
    const follower = nodes.find((node) => node.nodeId !== firstState.leader)!
    // Straight to the follower (a client would route it to the leader).
    const connection = new Connection(follower.address)
    try {
      const batch = encodeRecordBatch([{key: null, value: Buffer.from('refused')}])
      const answer = await connection.call(connection.grpc.produce, {partitions: [{topic: TOPIC, partition: firstPartition, records: [], recordBatch: batch, leaderEpoch: -1}], acks: Acks.ACKS_ALL, timeoutMs: 0, requestId: 1n})
      expect(answer.results[0]?.error?.code, answer.results[0]?.error?.message).to.equal('NOT_LEADER')
    } finally {
      connection.close()
    }

    await Promise.all(nodes.map((node) => node.stop()))
    for (const partition of states.keys()) {
      const copies = await Promise.all(nodes.map((node) => batchesIn(node, partition)))
      expect(copies[0]!.length, `batches of partition ${partition}`).to.be.greaterThan(1)
      expect(copies[0]!.at(-1)!.lastOffset).to.equal(RECORDS_PER_PARTITION - 1)
      expect(copies[1], `partition ${partition} on ${nodes[1]!.nodeId}`).to.deep.equal(copies[0])
      expect(copies[2], `partition ${partition} on ${nodes[2]!.nodeId}`).to.deep.equal(copies[0])
    }
  })

  it('drops a frozen follower from the ISR within the lag bound; acks=all goes on; a second frozen one makes acks=all NOT_ENOUGH_REPLICAS while acks=1 works; both rejoin once thawed; a topic deleted through any node goes from every node', async () => {
    const cluster = 'replication-2'
    const states = await replicatedTopic(cluster)
    const [partition, state] = [...states][0]!
    const leader = nodeById(state.leader!)
    const frozen = nodes.find((node) => node.nodeId !== state.leader)!
    expect(await produceToLeader(leader, partition, 10)).to.equal(9)

    // As in Kafka, a follower at the leader's log end stays in sync however long it is silent:
    // it is the write made while it is frozen that it fails to catch up with.
    const frozenAtMs = Date.now()
    frozen.signal('SIGSTOP')
    expect(await produceToLeader(leader, partition, 10), 'acks=all once the frozen follower left the ISR').to.equal(19)
    const isr = (await partitionStates(cluster)).get(partition)!.isr
    expect(isr, 'ISR after the write').to.not.include(frozen.nodeId)
    const shrinkMs = Date.now() - frozenAtMs
    expect(shrinkMs, 'time to leave the ISR').to.be.below(ISR_SHRINK_BOUND_MS)
    console.log(`      frozen follower left the ISR after ${shrinkMs} ms (replicaLagMaxMs ${REPLICA_LAG_MAX_MS})`)
    expect(await produceToLeader(leader, partition, 10), 'acks=all with two in-sync replicas').to.equal(29)

    // A second follower frozen: once it left too, acks=all is refused before anything is
    // appended (min ISR 2), and acks=1 still works.
    const second = nodes.find((node) => node !== leader && node !== frozen)!
    second.signal('SIGSTOP')
    await produceToLeader(leader, partition, 1, REFUSED_DELIVERY_TIMEOUT_MS).catch(() => -1)
    await eventually(`${second.nodeId} to leave the ISR of partition ${partition}`, async () => {
      const isr = (await partitionStates(cluster)).get(partition)!.isr
      return isr.length === 1 ? isr : undefined
    }, SETTLE_MS)
    const client = await WireClient.connect({brokers: leader.address})
    try {
      // The producer retries NOT_ENOUGH_REPLICAS until its delivery timeout, then reports it.
      const strict = client.producer({acks: 'all', deliveryTimeoutMs: REFUSED_DELIVERY_TIMEOUT_MS})
      const refused = await strict.send(TOPIC, {partition, value: Buffer.from('refused')}).then(() => undefined, (error: LignumError) => error)
      expect(refused?.code, `acks=all below min ISR: ${refused?.message}`).to.equal('NOT_ENOUGH_REPLICAS')
      await strict.close().catch(() => {})
      const loose = client.producer({acks: 1})
      const first = await loose.send(TOPIC, {partition, value: Buffer.from('acks=1')})
      const next = await loose.send(TOPIC, {partition, value: Buffer.from('acks=1 again')})
      expect(next.offset, 'the refused write appended nothing').to.equal(first.offset + 1)
      await loose.close()
    } finally {
      client.close()
    }

    frozen.signal('SIGCONT')
    second.signal('SIGCONT')
    await eventually(`${frozen.nodeId} and ${second.nodeId} to rejoin the ISR of partition ${partition}`, async () => {
      const isr = (await partitionStates(cluster)).get(partition)!.isr
      return isr.length === 3 ? isr : undefined
    }, SETTLE_MS)

    // Through a node that is not the controller, once the thawed node's view has settled again.
    const controller = await eventually('all three up again under one controller', async () => {
      const status = await leader.status()
      return status.controller !== null && status.nodes.every((node) => node.status === 'up') ? status.controller : undefined
    }, SETTLE_MS)
    const deleted = await runCli(['topics', 'delete', TOPIC, '--brokers', nodes.find((node) => node.nodeId !== controller)!.address])
    expect(deleted.code, deleted.stderr).to.equal(0)
    await eventually('every node to drop its replicas of the deleted topic', async () => {
      return nodes.every((node) => node.logged('topic deleted').some((line) => line.topic === TOPIC)) || undefined
    }, SETTLE_MS)
    expect((await partitionStates(cluster)).size, 'partition states left in Consul').to.equal(0)
  })

  it('a follower restarted after SIGTERM catches up and rejoins the ISR; the replicas are identical again', async () => {
    const cluster = 'replication-3'
    const states = await replicatedTopic(cluster)
    const [partition, state] = [...states][0]!
    const leader = nodeById(state.leader!)
    const follower = nodes.find((node) => node.nodeId !== state.leader)!
    expect(await produceToLeader(leader, partition, 10)).to.equal(9)

    await follower.stop()
    // acks=all waits for the stopped follower until it leaves the ISR, then goes on with two.
    expect(await produceToLeader(leader, partition, 20)).to.equal(29)
    expect((await partitionStates(cluster)).get(partition)!.isr).to.not.include(follower.nodeId)

    const restarted = await follower.restart()
    nodes[nodes.indexOf(follower)] = restarted
    await eventually(`${follower.nodeId} to rejoin the ISR of partition ${partition}`, async () => {
      const isr = (await partitionStates(cluster)).get(partition)!.isr
      return isr.includes(follower.nodeId) ? isr : undefined
    }, SETTLE_MS)
    expect(await produceToLeader(leader, partition, 10)).to.equal(39)

    await Promise.all(nodes.map((node) => node.stop()))
    const copies = await Promise.all(nodes.map((node) => batchesIn(node, partition)))
    expect(copies[0]!.at(-1)!.lastOffset).to.equal(39)
    expect(copies[1]).to.deep.equal(copies[0])
    expect(copies[2]).to.deep.equal(copies[0])
  })
})
