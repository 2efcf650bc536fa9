/**
 * Record batches built field by field, so tests can write batches that lie: any offset
 * deltas, counts, timestamps and attributes, with a CRC that holds over whatever they say.
 * The encoder (src/format/record-batch.ts) cannot make these; that is the point.
 */
import {gzipSync} from 'node:zlib'
import {crc32c} from '@node-rs/crc32'

export interface RawRecord {
  offsetDelta: number
  timestampDelta?: number
  key?: Buffer | null
  value?: Buffer | null
  headers?: {key: Buffer | null; value: Buffer | null}[]
}

export interface RawBatchOptions {
  /** Default: the number of records. */
  recordCount?: number
  /** Default: recordCount - 1. */
  lastOffsetDelta?: number
  baseOffset?: number
  baseTimestamp?: number
  /** Default: baseTimestamp + the largest timestamp delta. */
  maxTimestamp?: number
  /** Bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control; the codec bits follow `gzip`. */
  attributes?: number
  /** Compress the record bytes with gzip (sets codec 1). */
  gzip?: boolean
}

function zigzagVarint(value: number): Buffer {
  let rest = value >= 0 ? value * 2 : -value * 2 - 1
  const bytes: number[] = []
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  bytes.push(rest)
  return Buffer.from(bytes)
}

function nullable(bytes: Buffer | null | undefined): Buffer {
  if (bytes === null || bytes === undefined) return zigzagVarint(-1)
  return Buffer.concat([zigzagVarint(bytes.length), bytes])
}

/** One record's bytes, length prefix included. */
export function rawRecord(record: RawRecord): Buffer {
  const headers = record.headers ?? []
  const body = Buffer.concat([
    Buffer.from([0]),
    zigzagVarint(record.timestampDelta ?? 0),
    zigzagVarint(record.offsetDelta),
    nullable(record.key ?? null),
    nullable(record.value === undefined ? Buffer.from(`v${record.offsetDelta}`) : record.value),
    zigzagVarint(headers.length),
    ...headers.flatMap((header) => [nullable(header.key), nullable(header.value)]),
  ])
  return Buffer.concat([zigzagVarint(body.length), body])
}

/** A batch around `records` (raw bytes, e.g. from rawRecord, or anything at all) with a valid CRC. */
export function rawBatch(records: Buffer, recordDeltas: {timestampDeltaMax: number; count: number}, options: RawBatchOptions = {}): Buffer {
  const recordCount = options.recordCount ?? recordDeltas.count
  const baseTimestamp = options.baseTimestamp ?? 1_700_000_000_000
  const payload = options.gzip ? gzipSync(records) : records
  const header = Buffer.alloc(61)
  header.writeBigInt64BE(BigInt(options.baseOffset ?? 0), 0)
  header.writeInt32BE(61 + payload.length - 12, 8)
  header.writeInt32BE(-1, 12)
  header.writeInt8(2, 16)
  header.writeInt16BE(((options.attributes ?? 0) & ~0x07) | (options.gzip ? 1 : 0), 21)
  header.writeInt32BE(options.lastOffsetDelta ?? recordCount - 1, 23)
  header.writeBigInt64BE(BigInt(baseTimestamp), 27)
  header.writeBigInt64BE(BigInt(options.maxTimestamp ?? baseTimestamp + recordDeltas.timestampDeltaMax), 35)
  header.writeBigInt64BE(-1n, 43)
  header.writeInt16BE(-1, 51)
  header.writeInt32BE(-1, 53)
  header.writeInt32BE(recordCount, 57)
  const batch = Buffer.concat([header, payload])
  return withCrc(batch)
}

/** Recomputes the CRC of a batch whose bytes after the CRC were changed. */
export function withCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(21)) >>> 0, 17)
  return batch
}

/** A batch of records with the given offset deltas (values "v<delta>"), all else consistent. */
export function batchWithDeltas(deltas: number[], options: RawBatchOptions = {}): Buffer {
  const records = Buffer.concat(deltas.map((offsetDelta) => rawRecord({offsetDelta})))
  return rawBatch(records, {timestampDeltaMax: 0, count: deltas.length}, options)
}

/** 71 bytes: one 10-byte record under a header that claims 2^31 - 1 records. */
export function batchClaimingMaxRecords(): Buffer {
  const records = rawRecord({offsetDelta: 0, value: Buffer.from('abc')})
  return rawBatch(records, {timestampDeltaMax: 0, count: 1}, {recordCount: 0x7fff_ffff, lastOffsetDelta: 0x7fff_fffe})
}

/**
 * A gzip batch whose records inflate to `inflatedBytes` of zeros (a decompression bomb):
 * concatenated gzip members of 16 MiB each, so building it costs one small compression.
 */
export function gzipBomb(inflatedBytes = 1024 * 1024 * 1024, options: RawBatchOptions = {}): Buffer {
  const memberBytes = 16 * 1024 * 1024
  const member = gzipSync(Buffer.alloc(memberBytes), {level: 9})
  const members = Buffer.concat(Array.from({length: Math.ceil(inflatedBytes / memberBytes)}, () => member))
  const header = rawBatch(Buffer.alloc(0), {timestampDeltaMax: 0, count: 1}, options)
  const batch = Buffer.concat([header, members])
  batch.writeInt32BE(batch.length - 12, 8)
  batch.writeInt16BE(1, 21)
  return withCrc(batch)
}
