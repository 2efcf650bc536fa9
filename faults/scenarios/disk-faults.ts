/**
 * Faults of a replica's disk: a torn tail on the leader, a bit flipped in a follower's closed
 * segment (found, never served, never elected until repaired), and the data a replica had not
 * fsynced lost with a kill -9. Acknowledged acks=all writes must survive each, since the other
 * replicas hold them.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {MIN_INSYNC_REPLICAS} from '../cluster.js'
import {awaitFailover, DOWN_MS_MIN, FAILOVER_TIMEOUT_MS, pollFor, DOWN_MS_MAX, TORN_BYTES_MAX, watchLeadership, type Scenario, type ScenarioContext} from '../scenario.js'

// Rolls a segment every second or two under the steady load, so closed segments exist within seconds.
export const SMALL_SEGMENT_BYTES = 8 * 1024
// Closed segments a follower must hold before one is damaged: the flip lands below its recovery point.
const CLOSED_SEGMENTS_MIN = 1
// The leader stays down past the session TTL, so the controller elects while the damaged replica is live.
const LEADER_DOWN_MS = 5_000
const LEADERSHIP_POLL_MS = 250

/** Polls who leads while `ms` pass; every leader seen, in order. */
async function leadersSeen(context: ScenarioContext, ms: number, excluding: string[]): Promise<string[]> {
  const seen: string[] = []
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const state = await context.cluster.partitionState(excluding)
    if (state?.leader && seen.at(-1) !== state.leader) seen.push(state.leader)
    if (state?.leader && state.leader !== context.roles.leader) context.leadershipMoved = true
    await sleep(LEADERSHIP_POLL_MS)
  }
  return seen
}

export const diskFaults: Scenario[] = [
  {
    name: 'leader-torn-tail',
    summary: 'kill -9 the leader, cut the last bytes of its active segment, restart it',
    expectsFailover: true,
    network: 'loopback',
    async apply(context) {
      const {leader} = context.roles
      const bytes = context.random.between(1, TORN_BYTES_MAX)
      const killedAtMs = Date.now()
      await context.cluster.killHard(leader)
      const cut = await context.cluster.tearTail(leader, bytes)
      context.note(`kill -9 leader ${leader}, cut ${cut} bytes off its active segment`)
      await awaitFailover(context, [leader], killedAtMs)
      await context.cluster.restart(leader)
    },
  },
  {
    name: 'follower-bit-flip',
    summary: 'a bit flipped in a closed segment of the follower first in line: reported damaged, never elected when the leader dies, repaired, rejoins',
    expectsFailover: true,
    network: 'loopback',
    segmentBytes: SMALL_SEGMENT_BYTES,
    async apply(context) {
      const {cluster, roles, random} = context
      // The follower that the election would take first when the leader dies: damaged, it must be passed over.
      const damaged = roles.followers[0]!
      await cluster.waitForClosedSegments(damaged, CLOSED_SEGMENTS_MIN)
      const hard = random.next() < 0.5
      if (hard) await cluster.killHard(damaged)
      else await cluster.node(damaged).stop()
      const flipped = await cluster.flipBitInClosedSegment(damaged, random)
      context.note(`${hard ? 'kill -9' : 'SIGTERM'} ${damaged}, flipped a bit in ${flipped.file} at position ${flipped.position} (batch at offset ${flipped.offset}), restarted`)
      await cluster.restart(damaged)
      const foundFromMs = Date.now()
      await cluster.waitReportedDamaged(damaged, true)
      context.note(`${damaged} reported its replica damaged ${((Date.now() - foundFromMs) / 1000).toFixed(1)} s after its restart`)
      // The other follower must be in sync for the leader's death to leave a clean candidate besides the damaged one.
      const candidate = roles.followers[1]!
      const inSync = await pollFor(async () => ((await cluster.partitionState())?.isr.includes(candidate) ? true : undefined), FAILOVER_TIMEOUT_MS)
      if (!inSync) context.expectationFailed(`${candidate} did not rejoin the ISR within ${FAILOVER_TIMEOUT_MS} ms, so the leader was not killed with a clean candidate`)
      const killedAtMs = Date.now()
      await cluster.killHard(roles.leader)
      const leaders = await leadersSeen(context, LEADER_DOWN_MS, [roles.leader])
      // The damaged replica may have left the ISR (its fetches stopped at the damage): then the
      // candidate alone is in sync, below min ISR, and acks=all rightly waits for the killed
      // leader's return. The failover is then measured up to the first ack after that return.
      const inSyncLive = (await cluster.partitionState([roles.leader]))?.isr.filter((node) => node !== roles.leader) ?? []
      const waitsForReturn = inSyncLive.length < MIN_INSYNC_REPLICAS
      if (waitsForReturn) {
        context.note(`the ISR without ${roles.leader} is [${inSyncLive.join(', ')}], below min ISR ${MIN_INSYNC_REPLICAS}: acks=all waits for its return`)
        await cluster.restart(roles.leader)
      }
      const leaderAfter = await awaitFailover(context, [roles.leader], killedAtMs)
      if (leaderAfter && leaders.at(-1) !== leaderAfter) leaders.push(leaderAfter)
      context.note(`kill -9 leader ${roles.leader}; leaders seen while it was down: ${leaders.join(', ') || 'none'}`)
      if (leaders.includes(damaged)) context.expectationFailed(`the damaged replica ${damaged} was elected leader (leaders seen: ${leaders.join(', ')})`)
      if (!waitsForReturn) await cluster.restart(roles.leader)
      // Back in the ISR before the damaged replica stops for its repair: else the ISR falls below
      // min ISR and writes are refused meanwhile. Not a healthy cluster: the damaged replica may
      // have left the ISR, and only its repair brings it back.
      const rejoined = await pollFor(async () => ((await cluster.partitionState())?.isr.includes(roles.leader) ? true : undefined), FAILOVER_TIMEOUT_MS)
      if (!rejoined) context.expectationFailed(`the restarted ${roles.leader} did not rejoin the ISR within ${FAILOVER_TIMEOUT_MS} ms`)
      await cluster.node(damaged).stop()
      const repaired = JSON.parse(await cluster.repair(damaged)) as {keep?: {logEndOffset?: number}}
      await cluster.restart(damaged)
      await cluster.waitReportedDamaged(damaged, false)
      context.note(`${damaged} repaired (its log kept up to offset ${repaired.keep?.logEndOffset ?? '?'}), restarted, no longer reported damaged`)
    },
  },
  {
    name: 'unflushed-loss',
    summary: 'kill -9 a replica and cut its active segment back to its recovery point (what it had fsynced), restart it',
    expectsFailover: false,
    network: 'loopback',
    async apply(context) {
      const {cluster, roles, random} = context
      const victim = random.pick([roles.leader, ...roles.followers])
      await cluster.killHard(victim)
      const lost = await cluster.loseUnflushed(victim)
      const downMs = random.between(DOWN_MS_MIN, DOWN_MS_MAX)
      context.note(`kill -9 ${victim === roles.leader ? 'leader ' : ''}${victim}, cut ${lost.bytesCut} unflushed bytes (recovery point ${lost.recoveryPoint}), down ${downMs} ms`)
      await watchLeadership(context, downMs)
      await cluster.restart(victim)
    },
  },
]
