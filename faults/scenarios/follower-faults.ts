/** Faults on the followers of a partition: the leader keeps leading throughout. */
import {setTimeout as sleep} from 'node:timers/promises'
import {PARTITION} from '../cluster.js'
import {DOWN_MS_MIN, DOWN_MS_MAX, FROZEN_MS_MIN, TORN_BYTES_MAX, type Scenario} from '../scenario.js'

export const followerFaults: Scenario[] = [
  {
    name: 'slow-followers',
    summary: 'both followers SIGSTOPped past the lag bound, then SIGCONT: acks=all is refused (NOT_ENOUGH_REPLICAS), never acknowledged with one copy',
    expectsFailover: false,
    network: 'loopback',
    async apply(context) {
      const frozenMs = FROZEN_MS_MIN + context.random.between(0, 2_000)
      context.note(`froze ${context.roles.followers.join(', ')} for ${frozenMs} ms`)
      const fromMs = Date.now()
      for (const follower of context.roles.followers) context.cluster.freeze(follower)
      // Frozen, they write nothing more: what their files hold now is every copy the leader can count on until SIGCONT.
      const logEnds = await Promise.all(context.roles.followers.map((follower) => context.cluster.logEndOnDisk(follower)))
      context.note(`their logs end at ${logEnds.join(', ')}`)
      await sleep(Math.max(0, fromMs + frozenMs - Date.now()))
      const toMs = Date.now()
      for (const follower of context.roles.followers) context.cluster.thaw(follower)
      context.underReplicated({partition: PARTITION, fromMs, toMs, copiedBelowOffset: Math.max(...logEnds)})
    },
  },
  {
    name: 'follower-kill',
    summary: 'kill -9 one follower, restart it',
    expectsFailover: false,
    network: 'loopback',
    async apply(context) {
      const follower = context.random.pick(context.roles.followers)
      const downMs = context.random.between(DOWN_MS_MIN, DOWN_MS_MAX)
      context.note(`kill -9 ${follower}, down ${downMs} ms`)
      await context.cluster.killHard(follower)
      await sleep(downMs)
      await context.cluster.restart(follower)
    },
  },
  {
    name: 'follower-torn-tail',
    summary: 'kill -9 one follower, cut the last bytes of its active segment, restart it',
    expectsFailover: false,
    network: 'loopback',
    async apply(context) {
      const follower = context.random.pick(context.roles.followers)
      const bytes = context.random.between(1, TORN_BYTES_MAX)
      await context.cluster.killHard(follower)
      const cut = await context.cluster.tearTail(follower, bytes)
      context.note(`kill -9 ${follower}, cut ${cut} bytes off its active segment`)
      await sleep(context.random.between(DOWN_MS_MIN, DOWN_MS_MAX))
      await context.cluster.restart(follower)
    },
  },
  {
    name: 'rolling-followers',
    summary: 'SIGTERM and restart each follower in turn, waiting for a healthy cluster between',
    expectsFailover: false,
    network: 'loopback',
    async apply(context) {
      const order = context.random.next() < 0.5 ? context.roles.followers : [...context.roles.followers].reverse()
      context.note(`restarted ${order.join(' then ')}`)
      for (const follower of order) {
        await context.cluster.restart(follower)
        await context.cluster.waitHealthy()
      }
    },
  },
]
