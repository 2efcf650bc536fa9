/**
 * Durations on the command line: a number of milliseconds ("1500"), or a number with a unit
 * ("500ms", "2s", "1.5m"). Anything else is a usage error naming the flag and examples.
 */
import {LignumError} from '../errors.js'

// Node's timers hold at most 2^31-1 ms (about 24.8 days); a day is more than any wait a CLI needs.
export const DURATION_MS_MAX = 24 * 60 * 60 * 1000

const UNIT_MS = {ms: 1, s: 1000, m: 60_000} as const

export function parseDurationMs(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  const durationMs = match ? Math.round(Number(match[1]) * UNIT_MS[(match[2] ?? 'ms') as keyof typeof UNIT_MS]) : Number.NaN
  if (!Number.isFinite(durationMs)) {
    throw new LignumError('INVALID_ARGUMENT', `${flag} "${text}" is not a duration; use e.g. 60s, 500ms, 2m or a number of milliseconds`)
  }
  if (durationMs > DURATION_MS_MAX) throw new LignumError('INVALID_ARGUMENT', `${flag} ${text} is longer than the most allowed, ${DURATION_MS_MAX / 3_600_000} hours; give a shorter one`)
  return durationMs
}
