/**
 * A leader killed (-9) and restarted on the same data directory and node id within its session
 * TTL, with real nodes and a real Consul: Consul never sees the node down (the new process
 * renews the very check the old session is tied to), so only the incarnation the new process
 * registers tells the controller that the leadership it gave ended with the old process
 * (Kafka's broker epoch). The restarted node lost the unflushed tail of its log (cut as a power
 * loss would, the topic never fsyncing); resuming at its old epoch with that shorter log would
 * make the followers truncate acknowledged records to it and write new ones over them.
 *
 * Two cases: the controller lives on another node and sees the new incarnation at once; or the
 * restarted node was the controller too, so until another node takes the controller lock
 * (the lock-delay after the restarted process ends its predecessor's session) nobody elects,
 * and the restarted node itself must hold back: take no write and answer no follower (told
 * where its epoch ends, they would truncate acknowledged records to its shorter log).
 *
 * What must hold: the leadership moves on at a higher leader epoch, given to another
 * incarnation; every record the producer (acks=all) sent, before, around and after the
 * restart, is acknowledged once at consecutive offsets and is on the leader once, in order; the
 * three replicas end with identical batches.
 */
import {open, readdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {expect} from 'chai'
import {WireClient, type Producer} from '../../src/client/index.js'
import {batchPositions} from '../../src/format/record-batch.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import type {ServeProcess} from './serve-process.js'
import {batchesIn, partitionStatesIn, printLogs, valuesServedBy, type StoredState} from './cluster-reads.js'
import {LOCK_DELAY_MS, nodeNamed, replicatedPartitions, SESSION_TTL_MS, SETTLE_MS, startThreeNodes} from './three-nodes.js'

const TOPIC = 'restarted'
// One partition led by each node (round-robin), so one is led by the controller's node and one is not.
const PARTITIONS = 3
// Ten times the other cluster tests' TTL: a restart on a loaded 2-core machine (a new
// Node.js process, the log opened) must surely land inside it; at a load average of 30 it
// took up to 12.7 s. The test takes no longer for it: the restarted process ends its earlier
// session at start, and the incarnation, not the TTL, moves the leadership on.
const RESTART_SESSION_TTL_MS = 10 * SESSION_TTL_MS
// The check is renewed every third of the TTL, so a new process registered within the other
// two thirds of it after the kill renewed the check before Consul could mark it critical.
const WITHIN_TTL_MS = (RESTART_SESSION_TTL_MS * 2) / 3
// Longer than a follower's fetch backoff: when the restarted node was the controller, its
// followers try it again, and again, in the gap before another node may take the lock.
const RESTART_LOCK_DELAY_MS = 3 * LOCK_DELAY_MS
const RECORDS_BEFORE = 600
// Sent just before the kill: in flight when it strikes.
const RECORDS_AROUND = 600
// Sent once the restarted process is up: only a leadership settled after the restart acknowledges them.
const RECORDS_AFTER = 600
// The restarted leader keeps the batches below this offset (all acknowledged before the kill)
// and loses the rest of its log, as if its page cache were gone.
const OFFSET_KEPT_BELOW = RECORDS_BEFORE / 2
const DELIVERY_TIMEOUT_MS = 120_000

/** Sends `values` in order, one record each; resolves with their offsets, in the order of `values`. */
function sendAll(producer: Producer, partition: number, values: string[]): Promise<number>[] {
  return values.map((value) => producer.send(TOPIC, {partition, value}).then((metadata) => metadata.offset))
}

/** Rejects naming how many were not acknowledged once `waitMs` passed. */
async function allAcknowledged(offsets: Promise<number>[], waitMs: number): Promise<number[]> {
  let acknowledged = 0
  for (const offset of offsets) void offset.then(() => acknowledged++, () => {})
  let timer: NodeJS.Timeout | undefined
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${offsets.length - acknowledged} of ${offsets.length} records unacknowledged after ${waitMs} ms`)), waitMs)
  })
  return Promise.race([Promise.all(offsets), gaveUp]).finally(() => clearTimeout(timer))
}

/**
 * Cuts the node's active segment (the node must be down) at the first batch at or past
 * `offset`: the unflushed tail a power loss takes. The topic never fsyncs, so its recovery
 * point stays below the cut and the restarted node recovers it as a clean, shorter log.
 */
async function loseTailFrom(node: ServeProcess, partition: number, offset: number): Promise<{bytesCut: number; logEndOffset: number}> {
  const directory = path.join(node.dataDir, `${TOPIC}-${partition}`)
  const active = (await readdir(directory)).filter((file) => file.endsWith('.log')).sort().at(-1)
  if (!active) throw new Error(`${node.nodeId} holds no segment of ${TOPIC}-${partition}`)
  const file = path.join(directory, active)
  const contents = await readFile(file)
  const cut = batchesOf(contents).find((batch) => batch.lastOffset >= offset)
  if (!cut) throw new Error(`${node.nodeId}'s log of ${TOPIC}-${partition} ends below offset ${offset}`)
  const handle = await open(file, 'r+')
  try {
    await handle.truncate(cut.position)
  } finally {
    await handle.close()
  }
  return {bytesCut: contents.length - cut.position, logEndOffset: cut.baseOffset}
}

function batchesOf(contents: Buffer): {position: number; baseOffset: number; lastOffset: number}[] {
  return [...batchPositions(contents)].map(({position, header}) => ({position, baseOffset: header.baseOffset, lastOffset: header.baseOffset + header.lastOffsetDelta}))
}

describe('a leader restarted within its session TTL (real nodes, real Consul, kill -9 and lost unflushed data)', function () {
  this.timeout(300_000)
  const consul = useConsul({stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []

  afterEach(function () {
    if (this.currentTest?.state === 'failed') printLogs(nodes, 60)
  })

  async function stateOf(cluster: string, partition: number): Promise<StoredState> {
    return (await partitionStatesIn(consul().url, cluster, TOPIC)).get(partition)!
  }

  /**
   * Three nodes, a topic of PARTITIONS partitions that never fsyncs; the partition led by the
   * controller's node (or by another), the victim, and its state.
   */
  async function partitionLedBy(cluster: string, controllerLeads: boolean): Promise<{partition: number; before: StoredState; leader: ServeProcess}> {
    nodes = await startThreeNodes(consul().url, cluster, `${cluster}-`, {sessionTtlMs: RESTART_SESSION_TTL_MS, lockDelayMs: RESTART_LOCK_DELAY_MS})
    const states = await replicatedPartitions(nodes, consul().url, cluster, TOPIC, PARTITIONS, ['--flush-policy', 'never'])
    const {controller} = await nodes[0]!.status()
    const [partition, before] = [...states].find(([, state]) => (state.leader === controller) === controllerLeads)!
    expect(before.leaderIncarnation, 'the leadership names the process it was given to').to.be.a('string')
    return {partition, before, leader: nodeNamed(nodes, before.leader)}
  }

  async function restartedWithinTtl(cluster: string, controllerLeads: boolean): Promise<void> {
    const {partition, before, leader} = await partitionLedBy(cluster, controllerLeads)
    const client = await WireClient.connect({brokers: nodes.map((node) => node.address)})
    try {
      const producer = client.producer({acks: 'all', batchBytes: 2048, deliveryTimeoutMs: DELIVERY_TIMEOUT_MS})
      const values = Array.from({length: RECORDS_BEFORE + RECORDS_AROUND + RECORDS_AFTER}, (_, index) => `v${index}`)
      const first = await eventually('the new topic to take writes', async () => producer.send(TOPIC, {partition, value: values[0]!}).then((metadata) => [metadata.offset], () => undefined), SETTLE_MS)
      first.push(...(await allAcknowledged(sendAll(producer, partition, values.slice(1, RECORDS_BEFORE)), SETTLE_MS)))

      const around = sendAll(producer, partition, values.slice(RECORDS_BEFORE, RECORDS_BEFORE + RECORDS_AROUND))
      const killedAtMs = performance.now()
      await leader.killHard()
      const lost = await loseTailFrom(leader, partition, OFFSET_KEPT_BELOW)
      const restarted = await leader.restart()
      nodes[nodes.indexOf(leader)] = restarted
      await eventually(`${restarted.nodeId} to join again`, async () => (restarted.logged('joined the cluster').length > 0 ? true : undefined), SETTLE_MS)
      const downMs = performance.now() - killedAtMs
      console.log(`      ${leader.nodeId}${controllerLeads ? ' (the controller)' : ''}: kill -9, ${lost.bytesCut} bytes of ${TOPIC}-${partition} cut (log end ${lost.logEndOffset}), joined again ${Math.round(downMs)} ms after the kill (TTL ${RESTART_SESSION_TTL_MS} ms)`)
      expect(downMs, 'back within the TTL: Consul never saw the node down').to.be.lessThan(WITHIN_TTL_MS)

      const after = sendAll(producer, partition, values.slice(RECORDS_BEFORE + RECORDS_AROUND))
      const during = await allAcknowledged([...around, ...after], SETTLE_MS)
      await producer.close()
      expect([...first, ...during], 'each record acknowledged once, at consecutive offsets').to.deep.equal(values.map((_, index) => index))
      expect(producer.stats.recordsFailed).to.equal(0)

      const settled = await stateOf(cluster, partition)
      expect(settled.leaderEpoch, 'the restarted process did not resume at its old epoch').to.be.greaterThan(before.leaderEpoch)
      expect(settled.leaderIncarnation, 'the leadership was given to another process').to.be.a('string').and.not.equal(before.leaderIncarnation)
      expect(await valuesServedBy(nodeNamed(nodes, settled.leader), TOPIC, partition), 'the leader holds every record once, in order').to.deep.equal(values)

      await eventually('the three replicas identical, every record in each', async () => {
        // Everything was acknowledged, so the high watermark covers every batch: all must match.
        const copies = await Promise.all(nodes.map((node) => batchesIn(node, TOPIC, partition)))
        for (const [index, copy] of copies.entries()) {
          expect(copy.at(-1)?.lastOffset, `the log end on ${nodes[index]!.nodeId}`).to.equal(values.length - 1)
          expect(copy, `the batches on ${nodes[index]!.nodeId} against ${nodes[0]!.nodeId}'s`).to.deep.equal(copies[0])
        }
        return true
      }, SETTLE_MS)
      // Recorded at creation, then again when the new leader took the restarted node back into
      // the ISR: under the incarnation its fetches carried over gRPC, not the one it joined as.
      const joinedAs = before.isrIncarnations?.[restarted.nodeId]
      expect(joinedAs, 'the ISR records the process each member joined as').to.be.a('string')
      await eventually('the restarted node back in the ISR under its new incarnation', async () => {
        const state = await stateOf(cluster, partition)
        const now = state.isrIncarnations?.[restarted.nodeId]
        return state.isr.includes(restarted.nodeId) && now !== undefined && now !== joinedAs ? true : undefined
      }, SETTLE_MS)
    } finally {
      client.close()
    }
  }

  afterEach(async () => {
    await Promise.all(nodes.map((node) => node.destroy()))
    nodes = []
  })

  it('a leader on another node than the controller: the controller moves the leadership on at a higher epoch; nothing acknowledged is lost or doubled, the replicas end identical', async () => {
    await restartedWithinTtl('restart-leader', false)
  })

  it('a leader that was the controller too: it holds back until another controller elects at a higher epoch; nothing acknowledged is lost or doubled, the replicas end identical', async () => {
    await restartedWithinTtl('restart-controller', true)
  })
})
