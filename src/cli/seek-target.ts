/**
 * What `lignum groups seek` moves a group to (`--to`) and where (`-t`), as kafka-consumer-groups
 * spells them: `beginning`, `end`, an absolute offset, or `@<time>` (milliseconds since the
 * epoch, or an ISO 8601 time) for the first offset at or after it; `-t TOPIC` for all its
 * partitions, `-t TOPIC:0,2` for some. Anything else is a one-line usage error.
 */
import {LignumError} from '../errors.js'

export type SeekTarget = {kind: 'beginning'} | {kind: 'end'} | {kind: 'offset'; offset: number} | {kind: 'time'; timestampMs: number}

export interface TopicSelection {
  topic: string
  /** Undefined: every partition of the topic. */
  partitions?: number[]
}

const TO_USAGE = 'use beginning, end, an offset (e.g. 42), or @<epoch-ms> / @<ISO time> (e.g. @1767225600000, @2026-01-01T00:00:00Z)'

export function parseSeekTarget(text: string): SeekTarget {
  const trimmed = text.trim()
  if (trimmed === 'beginning' || trimmed === 'earliest') return {kind: 'beginning'}
  if (trimmed === 'end' || trimmed === 'latest') return {kind: 'end'}
  if (/^\d+$/.test(trimmed)) return {kind: 'offset', offset: safeWhole(trimmed, text)}
  if (trimmed.startsWith('@')) return {kind: 'time', timestampMs: parseTimeMs(trimmed.slice(1), text)}
  throw new LignumError('INVALID_ARGUMENT', `--to "${text}" is not a position; ${TO_USAGE}`)
}

function parseTimeMs(text: string, original: string): number {
  if (/^\d+$/.test(text)) return safeWhole(text, original)
  // Only full ISO dates: Date.parse also takes loose forms ("1", "May 5") whose meaning varies.
  const timestampMs = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : Number.NaN
  if (!Number.isFinite(timestampMs) || timestampMs < 0) throw new LignumError('INVALID_ARGUMENT', `--to "${original}" is not a time; ${TO_USAGE}`)
  return timestampMs
}

function safeWhole(digits: string, original: string): number {
  const value = Number(digits)
  if (!Number.isSafeInteger(value)) throw new LignumError('INVALID_ARGUMENT', `--to "${original}" is larger than Lignum supports (below 2^53); ${TO_USAGE}`)
  return value
}

export function parseTopicSelection(text: string): TopicSelection {
  const separator = text.lastIndexOf(':')
  if (separator < 0) return {topic: text}
  const topic = text.slice(0, separator)
  const list = text.slice(separator + 1)
  const partitions = list.split(',').map((part) => part.trim())
  if (topic === '' || partitions.some((part) => !/^\d+$/.test(part))) {
    throw new LignumError('INVALID_ARGUMENT', `-t "${text}" is not a topic or topic:partitions; use e.g. -t orders or -t orders:0,2`)
  }
  return {topic, partitions: [...new Set(partitions.map(Number))].sort((a, b) => a - b)}
}
