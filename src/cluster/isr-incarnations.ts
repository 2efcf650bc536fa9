/**
 * Which process of each ISR member joined the ISR (Kafka's KIP-903 broker epoch in the ISR).
 * A partition state may record, for each ISR member, the incarnation its node registered with
 * when it joined: recorded at topic creation for every replica (all logs empty), and by the
 * leader's ISR expansion for the member it adds (the incarnation whose fetches caught it up).
 * A member whose live registration now shows another incarnation restarted since, and may have
 * lost its unsynced tail: it is no longer known to hold what the ISR promises, so the
 * controller takes it out (`withoutRestartedFollowers`), and its leader adds it back once it
 * has caught up again, under its new incarnation.
 *
 * Invariants: the map only names ISR members; a member with nothing recorded (a state written
 * before incarnations were recorded) is left alone, so an older cluster upgrades safely; the
 * controller never empties the ISR (the last member stays, as Kafka keeps it), and never
 * removes the leader (a restarted leader's term is ended by leader-election.ts instead).
 */
import type {PartitionAssignment} from './controller-state.js'

/** ISR member (node id) → the incarnation it joined with. */
export type IsrIncarnations = Readonly<Record<string, string>>

/** `recorded` restricted to the members of `isr`; undefined when none is left. */
export function incarnationsOfIsr(recorded: IsrIncarnations | undefined, isr: readonly string[]): Record<string, string> | undefined {
  if (!recorded) return undefined
  const kept: Record<string, string> = {}
  for (const node of isr) {
    const incarnation = recorded[node]
    if (incarnation !== undefined) kept[node] = incarnation
  }
  return Object.keys(kept).length > 0 ? kept : undefined
}

/**
 * The record after a leader's ISR change to `isr`: members that stay keep what was recorded
 * for them (a leader's later knowledge never overwrites it: that would hide a restart from the
 * controller), members it adds get the incarnation the leader saw catch up, when it says.
 */
export function incarnationsAfterIsrChange(current: Pick<PartitionAssignment, 'isr' | 'isrIncarnations'>, isr: readonly string[], added: IsrIncarnations = {}): Record<string, string> | undefined {
  const next: Record<string, string> = {}
  for (const node of isr) {
    const incarnation = current.isr.includes(node) ? current.isrIncarnations?.[node] : added[node]
    if (incarnation !== undefined) next[node] = incarnation
  }
  return Object.keys(next).length > 0 ? next : undefined
}

/** What the controller writes to take restarted followers out of a partition's ISR. */
export interface RestartedFollowersRemoval<State> {
  next: State
  removed: string[]
}

/**
 * The state without the ISR followers (members other than the leader) whose live
 * registration (`incarnations`: node → incarnation, live nodes only) shows another incarnation
 * than the one recorded for them; undefined when there is none. Never empties the ISR: when
 * every member restarted, the first in ISR order stays.
 */
export function withoutRestartedFollowers<State extends Pick<PartitionAssignment, 'leader' | 'isr' | 'isrIncarnations'>>(
  current: State,
  incarnations: ReadonlyMap<string, string>,
): RestartedFollowersRemoval<State> | undefined {
  const restarted = (node: string) => {
    const recorded = current.isrIncarnations?.[node]
    const registered = incarnations.get(node)
    return node !== current.leader && recorded !== undefined && registered !== undefined && registered !== recorded
  }
  let isr = current.isr.filter((node) => !restarted(node))
  if (isr.length === current.isr.length) return undefined
  if (isr.length === 0) isr = current.isr.slice(0, 1)
  const removed = current.isr.filter((node) => !isr.includes(node))
  if (removed.length === 0) return undefined
  const isrIncarnations = incarnationsOfIsr(current.isrIncarnations, isr)
  const {isrIncarnations: _previous, ...rest} = current
  return {next: {...rest, isr, ...(isrIncarnations ? {isrIncarnations} : {})} as State, removed}
}
