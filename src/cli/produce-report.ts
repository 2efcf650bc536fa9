/**
 * What a `lignum produce` run came to, and how it is told: the summary (`--json`'s output),
 * the --stats line, the line after Ctrl-C, and the one-line errors for input that went wrong
 * part way and for records not acknowledged. Every record read is accounted for: acknowledged,
 * failed, or (a --file once retries were spent) not sent.
 */
import {assert} from '../assert.js'
import {LignumError} from '../errors.js'
import type {ProducerStats} from '../client/producer.js'
import type {SendOutcome} from './produce-input.js'

export interface ProduceSummary {
  topic: string
  recordsSent: number
  recordsAcknowledged: number
  recordsFailed: number
  bytes: number
  elapsedMs: number
  recordsPerSecond: number
  interrupted?: boolean
}

// A run shorter than this would divide by zero: its rate is taken over a millisecond.
const ELAPSED_SECONDS_MIN = 0.001

export function summarize(topic: string, outcome: SendOutcome, stats: ProducerStats, elapsedMs: number): ProduceSummary {
  return {
    topic,
    recordsSent: outcome.recordsSent,
    recordsAcknowledged: stats.recordsAcknowledged,
    recordsFailed: stats.recordsFailed,
    bytes: outcome.bytes,
    elapsedMs,
    recordsPerSecond: Math.round(outcome.recordsSent / Math.max(elapsedMs / 1000, ELAPSED_SECONDS_MIN)),
  }
}

/** --stats, on stderr. */
export function statsLine(summary: ProduceSummary): string {
  return `produced ${summary.recordsAcknowledged} of ${summary.recordsSent} records (${summary.bytes} bytes) to ${summary.topic} in ${summary.elapsedMs} ms: ${summary.recordsPerSecond} records/s\n`
}

/** After Ctrl-C, on stderr: what was acknowledged and what failed of what was read. */
export function interruptedLine(summary: ProduceSummary): string {
  return `Interrupted: ${summary.recordsAcknowledged} of ${summary.recordsSent} records acknowledged, ${summary.recordsFailed} failed (${summary.bytes} bytes read) to ${summary.topic} in ${summary.elapsedMs} ms\n`
}

/** Input that went wrong part way, saying whether the records before it were produced. */
export function inputFailure(inputError: LignumError, recordsAcknowledged: number): LignumError {
  const produced = recordsAcknowledged === 0 ? 'no record was produced' : `the ${recordsAcknowledged} record(s) before it were produced`
  return new LignumError(inputError.code, `${inputError.message} (${produced})`, {hint: inputError.hint})
}

/**
 * One line: how many records were not acknowledged of how many, and why; the exit code is the
 * cause's (5 when the cluster could not take them in time: no leader, too few in-sync
 * replicas, no answer within the delivery timeout).
 */
export function notAcknowledgedError(stats: ProducerStats, recordsSent: number, recordsUnsent: number, stdinLeft: boolean): LignumError {
  const cause = stats.firstError
  // Every record read and not acknowledged counts, whatever became of it.
  const notAcknowledged = recordsSent + recordsUnsent - stats.recordsAcknowledged
  assert(stats.recordsAcknowledged + stats.recordsFailed === recordsSent, `${recordsSent} records sent, but ${stats.recordsAcknowledged} acknowledged and ${stats.recordsFailed} failed`)
  const unsent = recordsUnsent > 0 ? `; ${recordsUnsent} of them were not sent, as retries were spent` : ''
  const rest = stdinLeft ? '; stdin was not read further, as retries were spent' : ''
  return new LignumError(cause?.code ?? 'INTERNAL', `${notAcknowledged} of ${recordsSent + recordsUnsent} records were not acknowledged: ${cause?.message ?? 'unknown error'}${unsent}${rest}`, {hint: cause?.hint})
}
