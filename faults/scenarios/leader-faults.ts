/**
 * Faults that take a partition's leader away: the controller must elect another from the ISR,
 * and writes must go on through it. Each waits for the failover itself (another node leads and
 * acknowledges a write: awaitFailover) rather than for a fixed time, and fails its expectation
 * when that does not happen.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {NODE_IDS} from '../cluster.js'
import {DOWN_MS_MIN, DOWN_MS_MAX, FAILOVER_TIMEOUT_MS, awaitFailover, awaitFullIsr, awaitLeader, pollFor, type Scenario, type ScenarioContext} from '../scenario.js'

const HARD_BOUNCES = 5
// Between kills of all three replicas: a few hundred writes' time, so their logs differ.
const BETWEEN_KILLS_MS_MAX = 500

/** The partition's leader now, as the live nodes other than `excluding` report it. */
async function currentLeader(context: ScenarioContext, excluding: string[] = []): Promise<{leader: string; leaderEpoch: number} | undefined> {
  return pollFor(async () => {
    const state = await context.cluster.partitionState(excluding)
    return state?.leader ? {leader: state.leader, leaderEpoch: state.leaderEpoch} : undefined
  }, FAILOVER_TIMEOUT_MS)
}

/** The nodes in an order the seed chooses. */
function shuffled(context: ScenarioContext, ids: string[]): string[] {
  const order = [...ids]
  for (let index = order.length - 1; index > 0; index--) {
    const other = context.random.between(0, index)
    ;[order[index], order[other]] = [order[other]!, order[index]!]
  }
  return order
}

export const leaderFaults: Scenario[] = [
  {
    name: 'leader-clean-bounce',
    summary: 'SIGTERM the leader; another node leads and acknowledges writes; restart the old one',
    expectsFailover: true,
    network: 'loopback',
    async apply(context) {
      const downMs = context.random.between(DOWN_MS_MIN, DOWN_MS_MAX)
      const {leader} = context.roles
      const isr = await awaitFullIsr(context)
      context.note(`SIGTERM leader ${leader} (ISR ${isr.join(',')}), down at least ${downMs} ms`)
      const stoppedMs = Date.now()
      await context.cluster.node(leader).stop()
      await awaitFailover(context, [leader], stoppedMs)
      await sleep(Math.max(0, stoppedMs + downMs - Date.now()))
      await context.cluster.restart(leader)
    },
  },
  {
    name: 'leader-hard-bounce',
    summary: `kill -9 the current leader, wait until another leads and acknowledges writes, restart the old one, wait healthy; ${HARD_BOUNCES} times`,
    expectsFailover: true,
    network: 'loopback',
    async apply(context) {
      for (let bounce = 1; bounce <= HARD_BOUNCES; bounce++) {
        await awaitFullIsr(context)
        const current = await currentLeader(context)
        if (!current) {
          context.expectationFailed(`bounce ${bounce}: no leader to kill`)
          return
        }
        const downMs = context.random.between(0, DOWN_MS_MIN)
        context.note(`bounce ${bounce}: kill -9 leader ${current.leader} (epoch ${current.leaderEpoch})`)
        const killedMs = Date.now()
        await context.cluster.killHard(current.leader)
        await awaitFailover(context, [current.leader], killedMs)
        await sleep(Math.max(0, killedMs + downMs - Date.now()))
        await context.cluster.restart(current.leader)
        await context.cluster.waitHealthy()
      }
    },
  },
  {
    name: 'double-fast-failover',
    summary: 'kill -9 the leader A, then the new leader B as soon as it leads (before the third has caught up), then restart A and B',
    expectsFailover: true,
    network: 'loopback',
    async apply(context) {
      const first = context.roles.leader
      const isr = await awaitFullIsr(context)
      context.note(`kill -9 leader ${first} (ISR ${isr.join(',')})`)
      await context.cluster.killHard(first)
      const next = await awaitLeader(context, [first])
      if (!next) {
        await context.cluster.restart(first)
        return
      }
      context.note(`kill -9 new leader ${next.leader} (epoch ${next.leaderEpoch}) as soon as it led`)
      const secondKilledMs = Date.now()
      await context.cluster.killHard(next.leader)
      // One live replica of three is below the min ISR: the third must lead, and refuse acks=all until another returns.
      const third = await awaitLeader(context, [first, next.leader])
      if (third) context.note(`${third.leader} leads at epoch ${third.leaderEpoch}`)
      const order = context.random.next() < 0.5 ? [first, next.leader] : [next.leader, first]
      context.note(`restart ${order.join(' then ')}`)
      for (const id of order) await context.cluster.restart(id)
      await awaitFailover(context, [], secondKilledMs)
    },
  },
  {
    name: 'all-replicas-killed',
    summary: 'kill -9 all three replicas one after another, then restart them: the partition comes back with every acknowledged write',
    expectsFailover: false,
    network: 'loopback',
    async apply(context) {
      const kills = shuffled(context, NODE_IDS)
      context.note(`kill -9 ${kills.join(', ')}`)
      for (const id of kills) {
        await context.cluster.killHard(id)
        await sleep(context.random.between(0, BETWEEN_KILLS_MS_MAX))
      }
      await sleep(context.random.between(DOWN_MS_MIN, DOWN_MS_MAX))
      const restarts = shuffled(context, NODE_IDS)
      context.note(`restart ${restarts.join(', ')}`)
      await Promise.all(restarts.map(async (id, index) => {
        await sleep(index * context.random.between(0, BETWEEN_KILLS_MS_MAX))
        await context.cluster.restart(id)
      }))
    },
  },
  {
    name: 'rolling-restart',
    summary: 'SIGTERM and restart all three nodes in turn, the leader included, waiting for a healthy cluster between',
    expectsFailover: true,
    network: 'loopback',
    async apply(context) {
      const order = shuffled(context, NODE_IDS)
      context.note(`restarted ${order.join(' then ')}`)
      for (const id of order) {
        const isr = await awaitFullIsr(context)
        const leading = (await context.cluster.partitionState())?.leader === id
        if (leading) context.note(`${id} leads (ISR ${isr.join(',')}) when stopped`)
        const stoppedMs = Date.now()
        await context.cluster.node(id).stop()
        if (leading) await awaitFailover(context, [id], stoppedMs)
        await context.cluster.restart(id)
        await context.cluster.waitHealthy()
      }
    },
  },
]
