/**
 * `consume -o` / `--from` as kcat and rpk users spell it, parsed once into where each
 * partition starts and where it stops:
 *
 *   beginning | start | oldest   the log start        end | newest | -0   the log end
 *   N             offset N                              N:M | :M          offsets N (or the start) up to M (exclusive)
 *   +N            N after the log start                 -N                N before the log end
 *   stored        the group's committed offset (needs -G)
 *   @T  s@T       the first record at or after time T   e@T               stop before the first record at or after T
 *   @T1:T2 @T1: @:T2   from T1 (or the start) to T2 (or on)
 *
 * A time T is milliseconds since the epoch, an ISO-8601 date or time (2026-01-31, 2026-01-31T12:00:00Z),
 * or a duration ago (-1h, -30m, -90s, -500ms, -2d); as the end of a range it may also be a
 * duration after the start (@-2h:1h). Anything else is one INVALID_ARGUMENT line naming these forms.
 *
 * Invariants: a range never ends before it starts (both offsets, or both times, are checked);
 * `-0` is the end, never offset 0 (Number("-0") would read from the start).
 */
import {LignumError} from '../errors.js'
import type {StartPosition} from '../client/index.js'

export interface OffsetSpec {
  /** Where each partition starts, unless a start time is given; 'stored' is the group's committed offset. */
  from: StartPosition | 'stored'
  /** Start at the first record at or after this time (ms since the epoch). */
  fromTimeMs?: number
  /** Stop before the first record at or after this time (ms since the epoch). */
  toTimeMs?: number
  /** Stop before this offset (exclusive). */
  toOffset?: number
}

export const OFFSET_FORMS = 'beginning, end, stored, N, +N, -N (-0 is the end), N:M, @T, @T1:T2, s@T or e@T, where a time T is epoch ms, an ISO-8601 date or -1h (an hour ago)'

const DURATION_UNIT_MS = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000} as const
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/
const OFFSET = /^\d+$/

export function parseOffsetSpec(text: string, nowMs: number = Date.now()): OffsetSpec {
  const spec = parseForm(text.trim(), nowMs)
  if (spec === undefined) throw badSpec(text)
  return spec
}

function parseForm(text: string, nowMs: number): OffsetSpec | undefined {
  switch (text) {
    case 'beginning':
    case 'start':
    case 'oldest':
      return {from: 'beginning'}
    case 'end':
    case 'newest':
    case '-0':
      return {from: 'end'}
    case 'stored':
      return {from: 'stored'}
  }
  if (text.startsWith('s@')) return {from: 'beginning', fromTimeMs: parseTimeMs(text.slice(2), text, nowMs)}
  if (text.startsWith('e@')) return {from: 'beginning', toTimeMs: parseTimeMs(text.slice(2), text, nowMs)}
  if (text.startsWith('@')) return parseTimeRange(text.slice(1), text, nowMs)
  if (text.startsWith('+') && OFFSET.test(text.slice(1))) return {from: {fromStart: safeInteger(text.slice(1), text)}}
  if (text.startsWith('-') && OFFSET.test(text.slice(1))) {
    const count = safeInteger(text.slice(1), text)
    return {from: count === 0 ? 'end' : -count}
  }
  if (OFFSET.test(text)) return {from: safeInteger(text, text)}
  if (text.includes(':')) return parseOffsetRange(text)
  return undefined
}

function parseOffsetRange(text: string): OffsetSpec | undefined {
  const [first, last, ...rest] = text.split(':')
  if (rest.length > 0 || !(first === '' || OFFSET.test(first)) || !(last === '' || OFFSET.test(last))) return undefined
  const from = first === '' ? 'beginning' : safeInteger(first, text)
  const toOffset = last === '' ? undefined : safeInteger(last, text)
  if (typeof from === 'number' && toOffset !== undefined && toOffset < from) {
    throw new LignumError('INVALID_ARGUMENT', `--from ${text} ends before it starts; write the start offset first, e.g. 10:20`)
  }
  return {from, toOffset}
}

function parseTimeRange(body: string, text: string, nowMs: number): OffsetSpec {
  const colon = body.indexOf(':', timeEnd(body))
  if (colon < 0) return {from: 'beginning', fromTimeMs: parseTimeMs(body, text, nowMs)}
  const first = body.slice(0, colon)
  const last = body.slice(colon + 1)
  const fromTimeMs = first === '' ? undefined : parseTimeMs(first, text, nowMs)
  let toTimeMs: number | undefined
  if (last !== '' && DURATION.test(last)) {
    // A bare duration as the end counts from the start: @-2h:1h is the hour that began two hours ago.
    if (fromTimeMs === undefined) throw new LignumError('INVALID_ARGUMENT', `--from ${text}: an end of ${last} counts from the start time, so give one, e.g. @-2h:${last}`)
    toTimeMs = fromTimeMs + durationMs(last)
  } else if (last !== '') {
    toTimeMs = parseTimeMs(last, text, nowMs)
  }
  if (fromTimeMs !== undefined && toTimeMs !== undefined && toTimeMs < fromTimeMs) {
    throw new LignumError('INVALID_ARGUMENT', `--from ${text} ends (${new Date(toTimeMs).toISOString()}) before it starts (${new Date(fromTimeMs).toISOString()}); write the earlier time first`)
  }
  return {from: 'beginning', fromTimeMs, toTimeMs}
}

/**
 * Where the first time of a range may end: an ISO time holds colons of its own (12:00:00), so
 * the range's colon is searched after the time part of an ISO date.
 */
function timeEnd(body: string): number {
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?/.exec(body)
  return iso ? iso[0].length : 0
}

function parseTimeMs(time: string, text: string, nowMs: number): number {
  if (OFFSET.test(time)) return safeInteger(time, text)
  if (time.startsWith('-') && DURATION.test(time.slice(1))) return nowMs - durationMs(time.slice(1))
  if (/^\d{4}-\d{2}-\d{2}/.test(time)) {
    const timeMs = Date.parse(time)
    if (!Number.isNaN(timeMs)) return timeMs
  }
  throw badSpec(text)
}

function durationMs(duration: string): number {
  const match = DURATION.exec(duration) as RegExpExecArray
  return Math.round(Number(match[1]) * DURATION_UNIT_MS[match[2] as keyof typeof DURATION_UNIT_MS])
}

function safeInteger(digits: string, text: string): number {
  const value = Number(digits)
  if (!Number.isSafeInteger(value)) throw new LignumError('INVALID_ARGUMENT', `--from ${text} is larger than any offset or time (${Number.MAX_SAFE_INTEGER} at most)`)
  return value
}

function badSpec(text: string): LignumError {
  return new LignumError('INVALID_ARGUMENT', `--from "${text}" is not a position; use ${OFFSET_FORMS}`)
}

/** Where consumption starts and stops, as ConsumeOptions takes it; `stored` needs a group. */
export interface ConsumeRange {
  from?: StartPosition
  fromTimeMs?: number
  toTimeMs?: number
  toOffset?: number
}

export function consumeRangeOf(spec: OffsetSpec, options: {group?: string; toOffset?: number; fromText?: string}): ConsumeRange {
  if (spec.from === 'stored' && options.group === undefined) {
    throw new LignumError('INVALID_ARGUMENT', '--from stored starts at a group\'s committed offsets; name the group with -G, e.g. -o stored -G billing')
  }
  if (spec.toOffset !== undefined && options.toOffset !== undefined) {
    throw new LignumError('INVALID_ARGUMENT', `--from ${options.fromText} already says where to stop; drop --to, or give the start alone`)
  }
  const toOffset = spec.toOffset ?? options.toOffset
  if (typeof spec.from === 'number' && spec.from >= 0 && toOffset !== undefined && toOffset < spec.from) {
    throw new LignumError('INVALID_ARGUMENT', `--to ${toOffset} is below --from ${spec.from}; --to is exclusive and must be at least --from`)
  }
  // With a group, a partition it committed starts there anyway; `stored` asks for nothing else.
  return {from: spec.from === 'stored' ? undefined : spec.from, fromTimeMs: spec.fromTimeMs, toTimeMs: spec.toTimeMs, toOffset}
}
