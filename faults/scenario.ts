/**
 * What a fault scenario is and what it is given: each applies its faults to a running cluster
 * under load and heals them before it returns; what it chose from the seed (which node, how
 * long, how many bytes) goes into its notes so a run can be replayed and read. A scenario
 * marked `expectsFailover` takes a partition's leader away: a run in which no other node ever
 * led the partition fails its expectations (leader election exists, so it must have moved).
 * A scenario states what else it expects through `expectationFailed`; the run counts each one
 * that did not hold, and `npm run faults` exits 1 on any, as on a checker violation.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import type {ProducedRecord, UnderReplicatedWindow} from './checker.js'
import {REPLICA_LAG_MAX_MS, type FaultCluster, type PartitionRoles} from './cluster.js'
import type {NetworkLab} from './netns.js'

export interface ScenarioContext {
  cluster: FaultCluster
  roles: PartitionRoles
  random: Random
  note(text: string): void
  underReplicated(window: UnderReplicatedWindow): void
  /** A node other than the original leader was seen leading the partition. */
  leadershipMoved: boolean
  /** Records that a behaviour the scenario demands did not happen (a failed run, as a violation is). */
  expectationFailed(text: string): void
  /** When the first acks=all acknowledgement of a record sent after `fromMs` came, if one has. */
  acknowledgedAfter(fromMs: number): number | undefined
  /** Seconds from a leader's failure to the next acknowledged write, one per failover measured. */
  failover(seconds: number): void
  /** A write the scenario sent itself (a probe), for the checker beside the load's. */
  probed(record: ProducedRecord): void
  /** The network namespaces the nodes and Consul run in, for a scenario on `netns`. */
  network: NetworkLab | undefined
}

export interface Scenario {
  name: string
  summary: string
  /** Takes a partition's leader away: another node must lead it meanwhile, or the run fails. */
  expectsFailover: boolean
  /** loopback: every process on 127.0.0.1; netns: each node and Consul in a network namespace of its own (root only). */
  network: 'loopback' | 'netns'
  /** The topic's segment size, for a scenario that needs closed segments within seconds (default: the node's). */
  segmentBytes?: number
  apply(context: ScenarioContext): Promise<void>
}

/** A seeded generator (mulberry32): the same seed, the same choices. */
export class Random {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let mixed = this.state
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1)
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61)
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  pick<T>(items: T[]): T {
    return items[Math.floor(this.next() * items.length)]!
  }
}

// A node down this long misses a few hundred records and is back before the producer's delivery timeout.
export const DOWN_MS_MIN = 2_000
export const DOWN_MS_MAX = 5_000
// Frozen followers must outlast the leader's lag check (every half lag bound) and its ISR write.
export const FROZEN_MS_MIN = REPLICA_LAG_MAX_MS * 1.5 + 2_000
// A torn tail cuts into the last batch or two (the workload's batches are a few hundred bytes).
export const TORN_BYTES_MAX = 300
const LEADERSHIP_POLL_MS = 250
// A dead leader's session lapses within twice the TTL (6 s); the election, a node restart and
// the client's metadata refresh on a loaded 2-core machine take a few seconds more.
export const FAILOVER_TIMEOUT_MS = 30_000
// Cut past the session TTL (3 s) and the lag bound: the follower leaves the ISR and its session expires.
export const ISOLATED_MS_MIN = 6_000
export const ISOLATED_MS_MAX = 9_000

/** Waits `ms` while asking the surviving nodes who leads the partition, noting when another node does. */
export async function watchLeadership(context: ScenarioContext, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  const {leader} = context.roles
  while (Date.now() < deadline) {
    const state = await context.cluster.partitionState([leader])
    if (state?.leader && state.leader !== leader) context.leadershipMoved = true
    await sleep(LEADERSHIP_POLL_MS)
  }
}

/**
 * After the nodes in `gone` failed at `sinceMs`: waits until a live node other than them leads
 * the partition and an acks=all write is acknowledged after `sinceMs`, and returns the new
 * leader (noting the failover time); undefined, with the expectation failed, if that did not
 * happen within FAILOVER_TIMEOUT_MS.
 */
export async function awaitFailover(context: ScenarioContext, gone: string[], sinceMs: number): Promise<string | undefined> {
  const deadline = Date.now() + FAILOVER_TIMEOUT_MS
  let leader: string | undefined
  while (Date.now() < deadline) {
    const state = await context.cluster.partitionState(gone)
    leader = state?.leader && !gone.includes(state.leader) ? state.leader : undefined
    if (leader && leader !== context.roles.leader) context.leadershipMoved = true
    const ackedAtMs = context.acknowledgedAfter(sinceMs)
    if (leader && ackedAtMs !== undefined) {
      const seconds = (ackedAtMs - sinceMs) / 1000
      context.failover(seconds)
      context.note(`${leader} leads, first write acknowledged ${seconds.toFixed(1)} s after the fault`)
      return leader
    }
    await sleep(LEADERSHIP_POLL_MS)
  }
  context.expectationFailed(`no node other than ${gone.join(', ')} led and acknowledged a write within ${FAILOVER_TIMEOUT_MS} ms (leader seen: ${leader ?? 'none'})`)
  return undefined
}

/**
 * Waits until a live node other than those in `gone` leads the partition, and returns it;
 * undefined, with the expectation failed, if none did within FAILOVER_TIMEOUT_MS. For faults
 * that leave fewer live replicas than the min ISR, where the new leader rightly refuses acks=all.
 */
export async function awaitLeader(context: ScenarioContext, gone: string[]): Promise<{leader: string; leaderEpoch: number} | undefined> {
  const found = await pollFor(async () => {
    const state = await context.cluster.partitionState(gone)
    return state?.leader && !gone.includes(state.leader) ? {leader: state.leader, leaderEpoch: state.leaderEpoch} : undefined
  }, FAILOVER_TIMEOUT_MS)
  if (found && found.leader !== context.roles.leader) context.leadershipMoved = true
  if (!found) context.expectationFailed(`no node other than ${gone.join(', ')} led the partition within ${FAILOVER_TIMEOUT_MS} ms`)
  return found
}

/**
 * Waits (up to FAILOVER_TIMEOUT_MS) until every replica of the partition is in its ISR, and
 * returns the ISR seen last. A leader fault on a partition whose ISR is the leader alone (the
 * followers fell behind the lag bound on a loaded machine) leaves no clean candidate, so that
 * run would test nothing but the offline state: faults are applied to a full ISR.
 */
export async function awaitFullIsr(context: ScenarioContext): Promise<string[]> {
  let isr: string[] = []
  await pollFor(async () => {
    const state = await context.cluster.partitionState()
    isr = state?.isr ?? []
    return state && state.leader && state.isr.length === state.replicas.length ? true : undefined
  }, FAILOVER_TIMEOUT_MS)
  return isr
}

/** Polls `probe` until it returns a value or `timeoutMs` passes. */
export async function pollFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const found = await probe().catch(() => undefined)
    if (found !== undefined) return found
    await sleep(LEADERSHIP_POLL_MS)
  }
  return undefined
}
