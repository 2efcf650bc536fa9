/**
 * What the failover benchmark's two sides share: the shape of one measurement, the topic every
 * run creates, how the partition to fail is chosen, and polling for a state to be reached.
 */
import os from 'node:os'
import {setTimeout as sleep} from 'node:timers/promises'

/** Three partitions over three nodes: every node leads one, so one led by a non-controller exists. */
export const partitionsPerTopic = 3
export const replicationFactor = 3
export const minInsyncReplicas = 2
/** Acknowledgements on the chosen partition before the kill: the load is steady, connections are warm. */
export const acksBeforeKill = 200
/** Each failover here takes seconds; a minute means it did not happen, and the run says so. */
export const failoverTimeoutMs = 60_000
/** Start-up, catch-up and ISR expansion on a loaded 2-core machine. */
export const settleTimeoutMs = 120_000
const pollMs = 100

/** Which node is killed: a partition leader that is not the controller, or one that is both. */
export type Victim = 'leader' | 'leader-and-controller'
export const victims: readonly Victim[] = ['leader', 'leader-and-controller']

export interface FailoverSample {
  system: string
  profile: string
  run: number
  victim: Victim
  killedNode: string
  newLeader: string | null
  /**
   * kill -9 to the acknowledgement of the first record sent after it (acks=all), null when none
   * came within failoverTimeoutMs. (The record in flight at the kill is either answered by the
   * old leader before it died, or retried and answered by the new one just before the next.)
   */
  failoverMs: number | null
  /**
   * kill -9 to when the new leader was known: Lignum, the controller's "partition leader
   * elected" log line; Kafka, the first Admin describe (polled every 50 ms) naming another leader.
   */
  leaderKnownMs: number | null
  /** Lignum only: kill -9 to the new leader's "partition state applied … leading". */
  leadingMs?: number | null
  /** Sends the client gave up on during the run (none expected: the client retries through). */
  sendErrors: number
  loadAverage1m: number
  error?: string
}

export function loadAverage1m(): number {
  return Math.round(os.loadavg()[0]! * 100) / 100
}

/** The partition to fail: the lowest-numbered one whose leader is (or is not) the controller. */
export function choosePartition<Node>(leaders: {partition: number; leader: Node}[], controller: Node, victim: Victim): {partition: number; leader: Node} | undefined {
  const wanted = (leader: Node) => (victim === 'leader-and-controller' ? leader === controller : leader !== controller)
  return [...leaders].sort((left, right) => left.partition - right.partition).find((candidate) => wanted(candidate.leader))
}

/** Polls `probe` until it returns a value; throws naming `what` past `timeoutMs`. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      lastError = error
    }
    await sleep(pollMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`)
}
