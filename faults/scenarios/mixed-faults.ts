/**
 * Faults that cross: a producer's retries carried across a change of leader (the batches a
 * frozen leader appended and its followers copied, but never answered, must be answered by
 * the new leader with their first offsets, not appended again), and random schedules of the
 * node and disk faults from a seed, built from FaultCluster's primitives alone.
 *
 * A schedule stays healable: one node at a time is faulted, and each fault is healed (the
 * node restarted or thawed) before the next starts; the next may start before the cluster is
 * healthy again, so failovers can follow each other closely.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {DOWN_MS_MAX, DOWN_MS_MIN, TORN_BYTES_MAX, awaitFailover, awaitFullIsr, watchLeadership, type Scenario, type ScenarioContext} from '../scenario.js'
import {NODE_IDS} from '../cluster.js'
import {SMALL_SEGMENT_BYTES} from './disk-faults.js'

// The second follower frozen shorter than the lag bound (2 s), so the leader, frozen next, has not shrunk it away.
const HELD_MS_MIN = 500
const HELD_MS_MAX = 1_200
// Frozen past the session TTL (3 s) and lock-delay (1 s): the controller elects another leader meanwhile.
const FROZEN_LEADER_MS_MIN = 6_000
const FROZEN_LEADER_MS_MAX = 8_000
// A schedule: a few faults, each a node away for a short while, with short gaps. Each restart
// costs seconds on a loaded machine, so three faults at most keep a run near a minute.
const SCHEDULE_FAULTS_MIN = 2
const SCHEDULE_FAULTS_MAX = 3
const FAULT_MS_MIN = 1_000
const FAULT_MS_MAX = 3_000
const GAP_MS_MAX = 2_000

type FaultKind = 'kill -9' | 'SIGTERM' | 'SIGSTOP' | 'torn tail' | 'unflushed loss'
const FAULT_KINDS: FaultKind[] = ['kill -9', 'SIGTERM', 'SIGSTOP', 'torn tail', 'unflushed loss']

/** One fault on one node, healed before it returns; what it did. */
async function applyFault(context: ScenarioContext, kind: FaultKind, node: string, ms: number): Promise<string> {
  const {cluster} = context
  let detail = ''
  if (kind === 'SIGSTOP') {
    cluster.freeze(node)
    await watchLeadership(context, ms)
    cluster.thaw(node)
    return `SIGSTOP ${node} for ${ms} ms`
  }
  if (kind === 'SIGTERM') await cluster.node(node).stop()
  else await cluster.killHard(node)
  if (kind === 'torn tail') detail = `, cut ${await cluster.tearTail(node, context.random.between(1, TORN_BYTES_MAX))} bytes`
  if (kind === 'unflushed loss') {
    const lost = await cluster.loseUnflushed(node)
    detail = `, cut ${lost.bytesCut} unflushed bytes (recovery point ${lost.recoveryPoint})`
  }
  await watchLeadership(context, ms)
  await cluster.restart(node)
  return `${kind === 'SIGTERM' ? 'SIGTERM' : 'kill -9'} ${node}${detail}, down ${ms} ms`
}

export const mixedFaults: Scenario[] = [
  {
    name: 'idempotent-retry-failover',
    summary: 'batches copied to the next leader but never answered: the second follower frozen (the high watermark stops), then the leader frozen past the session TTL while the first follower, holding them, is elected; kill -9 the old leader: the producer\'s retries are answered with their first offsets, nothing duplicated',
    expectsFailover: true,
    network: 'loopback',
    async apply(context) {
      const {cluster, roles, random} = context
      // The first follower in assignment order is the one elected; the second, frozen, holds the high watermark back.
      const [successor, holder] = roles.followers as [string, string]
      cluster.freeze(holder)
      const heldMs = random.between(HELD_MS_MIN, HELD_MS_MAX)
      await sleep(heldMs)
      cluster.freeze(roles.leader)
      cluster.thaw(holder)
      const frozenMs = random.between(FROZEN_LEADER_MS_MIN, FROZEN_LEADER_MS_MAX)
      await watchLeadership(context, frozenMs)
      await cluster.killHard(roles.leader)
      const downMs = random.between(1_000, 3_000)
      context.note(`SIGSTOP ${holder} for ${heldMs} ms (what ${successor} copied meanwhile goes unanswered), then SIGSTOP leader ${roles.leader} for ${frozenMs} ms, kill -9, down ${downMs} ms more`)
      await sleep(downMs)
      await cluster.restart(roles.leader)
      const answered = await Promise.all(roles.followers.map(async (follower) => `${follower} ${await cluster.duplicatesAnswered(follower) ?? '?'}`))
      context.note(`resent batches answered with their first offsets (lignum_produce_duplicates_total): ${answered.join(', ')}`)
    },
  },
  {
    name: 'idempotent-retry-leader-kill',
    summary: 'batches copied to the next leader but never answered, then the leader killed: the second follower frozen (the high watermark stops), kill -9 the leader and thaw the follower; the first follower, holding the batches, is elected and must answer the producer\'s retries with their first offsets; restart the old leader',
    expectsFailover: true,
    network: 'loopback',
    async apply(context) {
      const {cluster, roles, random} = context
      const [successor, holder] = roles.followers as [string, string]
      await awaitFullIsr(context)
      cluster.freeze(holder)
      const heldMs = random.between(HELD_MS_MIN, HELD_MS_MAX)
      await sleep(heldMs)
      const killedMs = Date.now()
      await cluster.killHard(roles.leader)
      cluster.thaw(holder)
      context.note(`SIGSTOP ${holder} for ${heldMs} ms (what ${successor} copied meanwhile goes unanswered), then kill -9 leader ${roles.leader}`)
      await awaitFailover(context, [roles.leader], killedMs)
      await sleep(random.between(DOWN_MS_MIN, DOWN_MS_MAX))
      const answered = await Promise.all(roles.followers.map(async (follower) => `${follower} ${await cluster.duplicatesAnswered(follower) ?? '?'}`))
      context.note(`resent batches answered with their first offsets before the restart (lignum_produce_duplicates_total): ${answered.join(', ')}`)
      await cluster.restart(roles.leader)
    },
  },
  {
    name: 'mixed-schedule',
    summary: 'a seeded schedule of 2-3 faults (kill -9, SIGTERM, SIGSTOP/SIGCONT, torn tail, unflushed loss) on random nodes at random times, one node at a time',
    expectsFailover: false,
    network: 'loopback',
    segmentBytes: SMALL_SEGMENT_BYTES,
    async apply(context) {
      const {random} = context
      const count = random.between(SCHEDULE_FAULTS_MIN, SCHEDULE_FAULTS_MAX)
      for (let index = 0; index < count; index++) {
        await sleep(random.between(0, GAP_MS_MAX))
        const done = await applyFault(context, random.pick(FAULT_KINDS), random.pick(NODE_IDS), random.between(FAULT_MS_MIN, FAULT_MS_MAX))
        context.note(done)
      }
    },
  },
]
