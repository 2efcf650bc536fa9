/**
 * A partition log's settings: segment size and age, retention, index interval and flush
 * policy, with Kafka's defaults, and the check that refuses a setting the log cannot keep.
 */
import {LignumError} from '../errors.js'
import {BATCH_HEADER_BYTES} from '../format/record-batch.js'
import {SEGMENT_BYTES_MAX} from './segment.js'

export type FlushPolicy = 'always' | 'never' | {intervalMs: number}

export interface PartitionLogConfig {
  segmentBytes: number
  segmentMs: number
  /** -1 keeps segments forever. */
  retentionMs: number
  /** -1 is unlimited. */
  retentionBytes: number
  indexIntervalBytes: number
  flushPolicy: FlushPolicy
}

const DAY_MS = 24 * 60 * 60 * 1000

export const defaultPartitionLogConfig: PartitionLogConfig = {
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  retentionMs: 7 * DAY_MS,
  retentionBytes: -1,
  indexIntervalBytes: 4096,
  flushPolicy: {intervalMs: 1000},
}

export function validateConfig(config: PartitionLogConfig): PartitionLogConfig {
  const bad = (what: string) => new LignumError('CONFIG', `log configuration: ${what}`)
  if (!Number.isInteger(config.segmentBytes) || config.segmentBytes < BATCH_HEADER_BYTES || config.segmentBytes > SEGMENT_BYTES_MAX) {
    throw bad(`segmentBytes ${config.segmentBytes} must be a whole number from ${BATCH_HEADER_BYTES} to ${SEGMENT_BYTES_MAX}`)
  }
  if (!(config.segmentMs > 0)) throw bad(`segmentMs ${config.segmentMs} must be positive`)
  if (!Number.isInteger(config.retentionMs) || config.retentionMs < -1) throw bad(`retentionMs ${config.retentionMs} must be -1 (forever) or a whole number of milliseconds`)
  if (!Number.isInteger(config.retentionBytes) || config.retentionBytes < -1) throw bad(`retentionBytes ${config.retentionBytes} must be -1 (unlimited) or a whole number of bytes`)
  if (!Number.isInteger(config.indexIntervalBytes) || config.indexIntervalBytes < 0) throw bad(`indexIntervalBytes ${config.indexIntervalBytes} must be a whole number of bytes`)
  const policy = config.flushPolicy
  if (policy !== 'always' && policy !== 'never' && !(typeof policy === 'object' && policy.intervalMs > 0)) {
    throw bad(`flushPolicy must be "always", "never" or {intervalMs: N} with N > 0`)
  }
  return config
}
