/**
 * Network partitions on network namespaces (root only): each node and Consul has an address
 * of its own, so a member can be cut from everyone (its link down) or from one peer (a
 * blackhole route each way, netns.ts).
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {LOCK_DELAY_MS, PARTITION, SESSION_TTL_MS, TOPIC} from '../cluster.js'
import {DirectProducer, type ProbeAnswer} from '../direct-produce.js'
import {FAILOVER_TIMEOUT_MS, ISOLATED_MS_MIN, ISOLATED_MS_MAX, awaitFailover, awaitFullIsr, pollFor, type Scenario, type ScenarioContext} from '../scenario.js'
import type {NetworkLab} from '../netns.js'

const CONSUL_MEMBER = 'consul'
// Consul ends a session whose renewals stopped within twice its TTL, and holds its locks for
// the lock-delay after; frozen past both (and a margin for a loaded machine), the zombie's
// session is surely gone and another node leads.
const ZOMBIE_FROZEN_MS_MIN = 2 * SESSION_TTL_MS + LOCK_DELAY_MS + 2_000
// Probes sent to the frozen leader: half at its own epoch, half at -1 ("unknown").
const ZOMBIE_PROBES = 6
// After the thaw, the zombie stays cut from Consul this long: its probes are answered within
// milliseconds of the thaw, from what it believed when it froze.
const ZOMBIE_BLIND_AFTER_THAW_MS = 2_000

function labOf(context: ScenarioContext, scenario: string): NetworkLab {
  if (!context.network) throw new Error(`${scenario} runs on network namespaces`)
  return context.network
}

/** The controller as a node other than `excluding` reports it. */
async function controllerSeen(context: ScenarioContext, excluding: string[]): Promise<string | undefined> {
  for (const id of ['n1', 'n2', 'n3'].filter((candidate) => !excluding.includes(candidate))) {
    const status = await context.cluster.node(id).status().catch(() => undefined)
    if (status?.controller) return status.controller
  }
  return undefined
}

export const networkFaults: Scenario[] = [
  {
    name: 'isolated-follower',
    summary: 'one follower cut from the leader, the other follower and Consul by a network partition, then healed',
    expectsFailover: false,
    network: 'netns',
    async apply(context) {
      const network = labOf(context, 'isolated-follower')
      const follower = context.random.pick(context.roles.followers)
      const isolatedMs = context.random.between(ISOLATED_MS_MIN, ISOLATED_MS_MAX)
      context.note(`isolated ${follower} for ${isolatedMs} ms`)
      await network.isolate(follower)
      try {
        await sleep(isolatedMs)
      } finally {
        await network.heal(follower)
      }
    },
  },
  {
    name: 'isolated-leader',
    summary: 'the leader cut from its followers and from Consul by a network partition: another node leads and acknowledges writes; then healed',
    expectsFailover: true,
    network: 'netns',
    async apply(context) {
      const network = labOf(context, 'isolated-leader')
      const {leader} = context.roles
      await awaitFullIsr(context)
      const isolatedMs = context.random.between(ISOLATED_MS_MIN, ISOLATED_MS_MAX)
      context.note(`isolated leader ${leader} for at least ${isolatedMs} ms`)
      const isolatedAtMs = Date.now()
      await network.isolate(leader)
      try {
        await awaitFailover(context, [leader], isolatedAtMs)
        await sleep(Math.max(0, isolatedAtMs + isolatedMs - Date.now()))
      } finally {
        await network.heal(leader)
      }
    },
  },
  {
    name: 'zombie-leader',
    summary: 'SIGSTOP the leader past twice the session TTL plus lock-delay, its link to Consul cut meanwhile, then SIGCONT: writes sent to it directly while frozen, at its old epoch, must all be refused',
    expectsFailover: true,
    network: 'netns',
    async apply(context) {
      const network = labOf(context, 'zombie-leader')
      const {leader, leaderEpoch} = context.roles
      await awaitFullIsr(context)
      const frozenMs = ZOMBIE_FROZEN_MS_MIN + context.random.between(0, 2_000)
      const direct = await DirectProducer.open(context.cluster.node(leader).address)
      let cut = false
      try {
        context.note(`SIGSTOP leader ${leader} (epoch ${leaderEpoch}) for ${frozenMs} ms, cut from Consul until ${ZOMBIE_BLIND_AFTER_THAW_MS} ms after SIGCONT`)
        const frozenAtMs = Date.now()
        context.cluster.freeze(leader)
        // Cut too, or Consul's news (its session gone, the new leader) would wait in its socket and
        // be read before the probes: the probes must meet a node that knows only its lease ran out.
        await network.cut(leader, CONSUL_MEMBER)
        cut = true
        const logsBefore = context.cluster.logs(leader).length
        await awaitFailover(context, [leader], frozenAtMs)
        // Queued in its socket while it is frozen: among the first things it reads when thawed.
        const answers: Promise<ProbeAnswer>[] = []
        for (let index = 0; index < ZOMBIE_PROBES; index++) {
          answers.push(direct.send(TOPIC, PARTITION, `zombie-probe-${index}`, index % 2 === 0 ? leaderEpoch : -1))
        }
        await sleep(Math.max(0, frozenAtMs + frozenMs - Date.now()))
        context.cluster.thaw(leader)
        const answered = await Promise.all(answers)
        await sleep(ZOMBIE_BLIND_AFTER_THAW_MS)
        await network.mend(leader, CONSUL_MEMBER)
        cut = false
        for (const answer of answered) context.probed(answer.record)
        const acknowledged = answered.filter((answer) => answer.error === undefined)
        context.note(`probes sent to the frozen ${leader}: ${answered.length - acknowledged.length} refused (${[...new Set(answered.map((answer) => answer.error?.split(':')[0] ?? 'acknowledged'))].join(', ')}), ${acknowledged.length} acknowledged`)
        for (const answer of acknowledged) {
          context.expectationFailed(`the thawed zombie ${leader} acknowledged ${answer.record.value} at offset ${answer.record.outcome.kind === 'acknowledged' ? answer.record.outcome.offset : '?'} in its old epoch ${leaderEpoch}`)
        }
        const fenced = context.cluster.logs(leader).slice(logsBefore).some((line) => line.msg.startsWith('not acting as leader until the lease is valid'))
        context.note(fenced ? `${leader} logged that it stopped acting as leader` : `${leader} did not log a lease lapse`)
      } finally {
        direct.close()
        context.cluster.thaw(leader)
        if (cut) await network.mend(leader, CONSUL_MEMBER)
      }
    },
  },
  {
    name: 'controller-cut-from-consul',
    summary: 'only the controller\'s link to Consul cut (it still reaches the other nodes): another node becomes controller, the old one steps down, writes go on; then mended',
    expectsFailover: false,
    network: 'netns',
    async apply(context) {
      const network = labOf(context, 'controller-cut-from-consul')
      const controller = await pollFor(() => controllerSeen(context, []), FAILOVER_TIMEOUT_MS)
      if (!controller) {
        context.expectationFailed('the cluster had no controller to cut')
        return
      }
      const cutMs = context.random.between(ISOLATED_MS_MIN, ISOLATED_MS_MAX)
      const leads = controller === context.roles.leader
      context.note(`cut controller ${controller}${leads ? ' (the partition leader too)' : ''} from Consul for at least ${cutMs} ms`)
      const logsBefore = context.cluster.logs(controller).length
      const cutAtMs = Date.now()
      await network.cut(controller, CONSUL_MEMBER)
      try {
        const successor = await pollFor(async () => {
          const seen = await controllerSeen(context, [controller])
          return seen && seen !== controller ? seen : undefined
        }, FAILOVER_TIMEOUT_MS)
        if (!successor) context.expectationFailed(`no other node became controller within ${FAILOVER_TIMEOUT_MS} ms of cutting ${controller} from Consul`)
        else context.note(`${successor} became controller ${((Date.now() - cutAtMs) / 1000).toFixed(1)} s after the cut`)
        const sinceMs = Date.now()
        if (leads) await awaitFailover(context, [controller], cutAtMs)
        else if (await pollFor(async () => context.acknowledgedAfter(sinceMs), FAILOVER_TIMEOUT_MS) === undefined) {
          context.expectationFailed(`no write acknowledged within ${FAILOVER_TIMEOUT_MS} ms after the new controller took over`)
        }
        await sleep(Math.max(0, cutAtMs + cutMs - Date.now()))
        const steppedDown = context.cluster.logs(controller).slice(logsBefore).some((line) => line.msg === 'stepped down as controller')
        if (!steppedDown) context.expectationFailed(`${controller}, cut from Consul, did not log that it stepped down as controller`)
      } finally {
        await network.mend(controller, CONSUL_MEMBER)
      }
    },
  },
]
