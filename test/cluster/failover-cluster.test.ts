/**
 * Failover end to end, with a real Consul and three real `lignum serve --consul` processes: the
 * leader of a partition is killed (-9) or frozen (SIGSTOP) under a steady acks=all load sent
 * through the client library; the controller elects the next leader from the ISR at the next
 * leader epoch; the load goes on there; every acknowledged write is on the new leader exactly
 * once, at the offset it was acknowledged at; the old leader comes back as a follower, and the
 * replicas are identical. A frozen leader thawed after its session ended acknowledges nothing.
 * A leader stopped by SIGTERM hands its leadership over before it drains and exits.
 */
import {expect} from 'chai'
import {WireClient, type Producer} from '../../src/client/index.js'
import {Connection} from '../../src/client/connection.js'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {Acks} from '../../src/generated/lignum/v1/lignum.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import {ServeProcess} from './serve-process.js'
import {LOCK_DELAY_MS, nodeNamed, REPLICA_LAG_MAX_MS, replicatedTopic, SESSION_TTL_MS, SETTLE_MS, startThreeNodes} from './three-nodes.js'
import {batchesIn as batchesOfPartition, printLogs, type DumpedBatch, type StoredState} from './cluster-reads.js'

// A dead leader's check goes critical a TTL after its last renewal; a controller that died
// with it is replaced a lock-delay later; then a Consul round trip or two and a write.
const ELECTION_BOUND_MS = SESSION_TTL_MS + LOCK_DELAY_MS + 5_000
// A zombie must be frozen past the point where its session surely ended and the lock-delay ran.
const FREEZE_MS = 2 * SESSION_TTL_MS + LOCK_DELAY_MS + 1_000
const TOPIC = 'failover'
const WRITES_BEFORE = 30
const WRITES_AFTER = 30
// A produce the client cannot deliver this long is given up and the next value sent (a frozen
// leader keeps its connection open; the client does not move on from it by itself yet).
const DELIVERY_TIMEOUT_MS = 1_000
const CONNECT_TIMEOUT_MS = 2_000

/**
 * A steady acks=all load, one write at a time: each acknowledged value with its offset and when.
 * A send the client gives up on (its delivery timeout, a node it cannot reach) is not sent
 * again: the load starts a new client and goes on with the next value, so a value is sent by one
 * producer only and any second copy of it in the log is a duplicate made by the cluster.
 */
class AckedLoad {
  readonly acknowledged = new Map<string, number>()
  readonly ackTimesMs: number[] = []
  gaveUp = 0
  private sent = 0
  private running: Promise<void> | undefined
  private stopping = false
  private client: WireClient | undefined
  private producer: Producer | undefined

  private constructor(private readonly addresses: string[]) {}

  static start(addresses: string[]): AckedLoad {
    const load = new AckedLoad(addresses)
    load.running = load.loop()
    return load
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const value = `v${this.sent++}`
      try {
        this.producer ??= await this.connect()
        const metadata = await this.producer.send(TOPIC, {partition: 0, value: Buffer.from(value)})
        this.acknowledged.set(value, metadata.offset)
        this.ackTimesMs.push(performance.now())
      } catch {
        this.gaveUp += 1
        this.disconnect()
      }
    }
  }

  /** Bootstraps from the nodes in turn, starting with a different one each time. */
  private async connect(): Promise<Producer> {
    const shift = this.gaveUp % this.addresses.length
    const brokers = [...this.addresses.slice(shift), ...this.addresses.slice(0, shift)]
    this.client = await WireClient.connect({brokers, connectTimeoutMs: CONNECT_TIMEOUT_MS})
    return this.client.producer({acks: 'all', deliveryTimeoutMs: DELIVERY_TIMEOUT_MS})
  }

  private disconnect(): void {
    void this.producer?.close().catch(() => {})
    this.client?.close()
    this.producer = undefined
    this.client = undefined
  }

  async untilAcknowledged(count: number): Promise<void> {
    await eventually(`${count} acknowledged writes`, async () => (this.acknowledged.size >= count ? true : undefined), SETTLE_MS)
  }

  /** The first acknowledgement received after `sinceMs` (performance.now). */
  firstAckAfter(sinceMs: number): number | undefined {
    return this.ackTimesMs.find((atMs) => atMs > sinceMs)
  }

  async stop(): Promise<void> {
    this.stopping = true
    await this.running
    await this.producer?.close()
    this.client?.close()
  }
}

describe('failover in cluster mode (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  const consul = useConsul({kind: 'persistent', stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      printLogs(nodes, 60)
    }
  })

  afterEach(async () => {
    await Promise.all(nodes.map((node) => node.destroy()))
    nodes = []
  })

  async function partitionState(cluster: string): Promise<StoredState> {
    const response = await fetch(`${consul().url}/v1/kv/lignum/${cluster}/partitions/${TOPIC}/0?raw`)
    return (await response.json()) as StoredState
  }

  async function batchesIn(node: ServeProcess): Promise<DumpedBatch[]> {
    return batchesOfPartition(node, TOPIC, 0)
  }

  /** Three nodes, one partition (RF 3, min ISR 2), every replica in sync. */
  async function replicatedPartition(cluster: string): Promise<StoredState> {
    nodes = await startThreeNodes(consul().url, cluster, 'n')
    return replicatedTopic(nodes, consul().url, cluster, TOPIC)
  }

  /** Every acknowledged value is in the log of `node` once, at the offset it was acknowledged at. */
  async function expectAllAcknowledgedOnce(node: ServeProcess, acknowledged: Map<string, number>): Promise<void> {
    const client = await WireClient.connect({brokers: node.address})
    const seen = new Map<string, number[]>()
    try {
      for await (const record of client.consume({topic: TOPIC, partitions: [0], from: 'beginning', stopAtEnd: true})) {
        const value = record.value!.toString()
        seen.set(value, [...(seen.get(value) ?? []), record.offset])
      }
    } finally {
      client.close()
    }
    const lost = [...acknowledged.keys()].filter((value) => !seen.has(value))
    const duplicated = [...seen].filter(([, offsets]) => offsets.length > 1)
    const moved = [...acknowledged].filter(([value, offset]) => seen.has(value) && seen.get(value)![0] !== offset)
    expect({lost, duplicated, moved}, `the log of ${node.nodeId}`).to.deep.equal({lost: [], duplicated: [], moved: []})
  }

  async function expectIdenticalReplicas(): Promise<void> {
    await Promise.all(nodes.map((node) => node.stop()))
    const copies = await Promise.all(nodes.map((node) => batchesIn(node)))
    expect(copies[0]!.length).to.be.greaterThan(0)
    expect(copies[1], `replica on ${nodes[1]!.nodeId}`).to.deep.equal(copies[0])
    expect(copies[2], `replica on ${nodes[2]!.nodeId}`).to.deep.equal(copies[0])
  }

  it('kill -9 of the leader: the next in-sync replica leads at the next epoch, acks=all goes on there, nothing acknowledged is lost or doubled, the killed node rejoins as follower', async () => {
    const cluster = 'failover-1'
    const before = await replicatedPartition(cluster)
    const leader = nodeNamed(nodes, before.leader!)
    const load = AckedLoad.start(nodes.map((node) => node.address))
    await load.untilAcknowledged(WRITES_BEFORE)

    const killedAtMs = performance.now()
    await leader.killHard()
    const after = await eventually('a new leader elected from the ISR', async () => {
      const state = await partitionState(cluster)
      return state.leader !== null && state.leader !== leader.nodeId ? state : undefined
    }, ELECTION_BOUND_MS)
    const survivors = before.replicas.filter((node) => node !== leader.nodeId && before.isr.includes(node))
    expect(after.leader, 'the first live in-sync replica in assignment order').to.equal(survivors[0])
    expect(after.leaderEpoch).to.equal(before.leaderEpoch + 1)
    expect(after.isr).to.not.include(leader.nodeId)

    await load.untilAcknowledged(load.acknowledged.size + WRITES_AFTER)
    const firstAckMs = load.firstAckAfter(killedAtMs)!
    console.log(`      failover: kill -9 to the next acknowledged acks=all write ${Math.round(firstAckMs - killedAtMs)} ms (TTL ${SESSION_TTL_MS} ms, lock-delay ${LOCK_DELAY_MS} ms, replica lag ${REPLICA_LAG_MAX_MS} ms)`)
    await load.stop()
    await expectAllAcknowledgedOnce(nodeNamed(nodes, after.leader!), load.acknowledged)

    nodes[nodes.indexOf(leader)] = await leader.restart()
    await eventually(`${leader.nodeId} to rejoin the ISR`, async () => ((await partitionState(cluster)).isr.includes(leader.nodeId) ? true : undefined), SETTLE_MS)
    const state = await partitionState(cluster)
    expect(state.leader, 'the restarted node follows').to.equal(after.leader)
    await expectIdenticalReplicas()
  })

  it('SIGTERM of the leader: it stops acknowledging, leaves, and the controller elects the next in-sync replica before the old process exits; nothing acknowledged is lost', async () => {
    const cluster = 'failover-3'
    const before = await replicatedPartition(cluster)
    const leader = nodeNamed(nodes, before.leader!)
    const load = AckedLoad.start(nodes.map((node) => node.address))
    await load.untilAcknowledged(WRITES_BEFORE)

    const terminatedAtMs = performance.now()
    leader.signal('SIGTERM')
    const after = await eventually('a new leader elected from the ISR', async () => {
      const state = await partitionState(cluster)
      return state.leader !== null && state.leader !== leader.nodeId ? state : undefined
    }, SETTLE_MS)
    const survivors = before.replicas.filter((node) => node !== leader.nodeId && before.isr.includes(node))
    expect(after.leader, 'the first live in-sync replica in assignment order').to.equal(survivors[0])
    expect(after.leaderEpoch).to.equal(before.leaderEpoch + 1)
    await leader.untilExited()
    expect(leader.exitCode, 'a clean shutdown').to.equal(0)

    // The order of events, as the leaving node saw them: it read the new leader at the next
    // epoch in Consul, and only then drained and exited.
    const messages = leader.logs.map((line) => line.msg)
    const handedOff = messages.indexOf('leadership handed off')
    expect(handedOff, 'the leaving node saw its leadership move before it stopped').to.be.greaterThan(-1)
    expect(handedOff).to.be.lessThan(messages.indexOf('node stopped'))
    expect(leader.logs[handedOff]!.partitions).to.deep.equal([{topic: TOPIC, partition: 0, leader: after.leader, leaderEpoch: before.leaderEpoch + 1}])

    await load.untilAcknowledged(load.acknowledged.size + WRITES_AFTER)
    const firstAckMs = load.firstAckAfter(terminatedAtMs)!
    console.log(`      failover: SIGTERM to the next acknowledged acks=all write ${Math.round(firstAckMs - terminatedAtMs)} ms; old process exited after ${Math.round(leader.exitedAtMs! - terminatedAtMs)} ms`)
    await load.stop()
    await expectAllAcknowledgedOnce(nodeNamed(nodes, after.leader!), load.acknowledged)

    nodes[nodes.indexOf(leader)] = await leader.restart()
    await eventually(`${leader.nodeId} to rejoin the ISR`, async () => ((await partitionState(cluster)).isr.includes(leader.nodeId) ? true : undefined), SETTLE_MS)
    await expectIdenticalReplicas()
  })

  it('a leader frozen past its session acknowledges nothing once thawed: the load went on at the new leader, and it rejoins as follower', async () => {
    const cluster = 'failover-2'
    const before = await replicatedPartition(cluster)
    const zombie = nodeNamed(nodes, before.leader!)
    const load = AckedLoad.start(nodes.map((node) => node.address))
    await load.untilAcknowledged(WRITES_BEFORE)

    const frozenAtMs = Date.now()
    zombie.signal('SIGSTOP')
    const after = await eventually('a new leader elected from the ISR', async () => {
      const state = await partitionState(cluster)
      return state.leader !== null && state.leader !== zombie.nodeId ? state : undefined
    }, ELECTION_BOUND_MS)
    expect(after.leaderEpoch).to.equal(before.leaderEpoch + 1)
    await load.untilAcknowledged(load.acknowledged.size + WRITES_AFTER)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, frozenAtMs + FREEZE_MS - Date.now())))

    // Sent while it is frozen, so they are the first thing it reads when thawed: raw gRPC, no
    // client routing. acks=1 too: a leader that acted on its old role would acknowledge that at once.
    const connection = new Connection(zombie.address)
    try {
      const produce = (acks: Acks, value: string) => connection.call(connection.grpc.produce, {
        partitions: [{topic: TOPIC, partition: 0, records: [], recordBatch: encodeRecordBatch([{key: null, value: Buffer.from(value)}]), leaderEpoch: -1}],
        acks,
        timeoutMs: 5_000,
        requestId: 1n,
      })
      const answers = [produce(Acks.ACKS_LEADER, 'zombie-1'), produce(Acks.ACKS_ALL, 'zombie-all')]
      await new Promise((resolve) => setTimeout(resolve, 200))
      zombie.signal('SIGCONT')
      for (const answer of await Promise.all(answers)) {
        const error = answer.results[0]?.error
        expect(error?.code, `a thawed old leader's answer: ${error?.code} ${error?.message}`).to.be.oneOf(['NOT_LEADER', 'FENCED_LEADER_EPOCH'])
      }
    } finally {
      connection.close()
    }

    await eventually(`${zombie.nodeId} to rejoin the ISR as follower`, async () => {
      const state = await partitionState(cluster)
      return state.isr.includes(zombie.nodeId) && state.leader === after.leader ? true : undefined
    }, SETTLE_MS)
    await load.untilAcknowledged(load.acknowledged.size + 10)
    await load.stop()
    expect([...load.acknowledged.keys()].some((value) => value.startsWith('zombie'))).to.equal(false)
    await expectAllAcknowledgedOnce(nodeNamed(nodes, after.leader!), load.acknowledged)
    await expectIdenticalReplicas()
  })
})
