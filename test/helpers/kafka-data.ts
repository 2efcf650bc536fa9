/**
 * Kafka-shaped data built by code, for tests of how Lignum reads what Kafka writes:
 * transactional batches and their control batches (commit and abort markers), and index files
 * with Kafka's preallocated, zero-filled tail (what a kill -9 of a Kafka broker leaves).
 *
 * A control batch (attributes bit 5, and bit 4: markers are transactional) holds one record:
 *
 *   key   = version int16 (0) | type int16 (0 abort, 1 commit)
 *   value = version int16 (0) | coordinatorEpoch int32          (Kafka's EndTransactionMarker)
 */
import {crc32c} from '@node-rs/crc32'
import {open} from 'node:fs/promises'
import {encodeRecordBatch, type RecordInput} from '../../src/format/record-batch.js'

const ATTRIBUTES_POSITION = 21
const CRC_POSITION = 17
const TRANSACTIONAL_BIT = 0x10
const CONTROL_BIT = 0x20
const MARKER_VERSION = 0
/** Kafka's segment.index.bytes default: a new index file is preallocated to this size. */
export const KAFKA_INDEX_PREALLOCATED_BYTES = 10 * 1024 * 1024

export interface TransactionProducer {
  producerId: number
  producerEpoch: number
}

/** Sets attribute bits of an encoded batch and recomputes its CRC (which covers the attributes). */
function withAttributeBits(batch: Buffer, bits: number): Buffer {
  batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_POSITION) | bits, ATTRIBUTES_POSITION)
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_POSITION)) >>> 0, CRC_POSITION)
  return batch
}

/** A batch of a transactional producer's records (read uncommitted, they are data like any other). */
export function encodeTransactionalBatch(records: RecordInput[], producer: TransactionProducer, baseSequence: number): Buffer {
  return withAttributeBits(encodeRecordBatch(records, {...producer, baseSequence}), TRANSACTIONAL_BIT)
}

/** The marker Kafka's transaction coordinator writes to end a transaction. */
export function encodeControlBatch(marker: 'commit' | 'abort', producer: TransactionProducer, timestamp: number, coordinatorEpoch = 0): Buffer {
  const key = Buffer.alloc(4)
  key.writeInt16BE(MARKER_VERSION, 0)
  key.writeInt16BE(marker === 'commit' ? 1 : 0, 2)
  const value = Buffer.alloc(6)
  value.writeInt16BE(MARKER_VERSION, 0)
  value.writeInt32BE(coordinatorEpoch, 2)
  return withAttributeBits(encodeRecordBatch([{key, value, timestamp}], {...producer, baseSequence: -1}), TRANSACTIONAL_BIT | CONTROL_BIT)
}

/** Extends an index file with zeros to Kafka's preallocated size (rounded down to whole entries, as Kafka does). */
export async function preallocateLikeKafka(file: string, entryBytes: number): Promise<number> {
  const size = KAFKA_INDEX_PREALLOCATED_BYTES - (KAFKA_INDEX_PREALLOCATED_BYTES % entryBytes)
  const handle = await open(file, 'r+')
  try {
    const zeroBytes = size - (await handle.stat()).size
    await handle.truncate(size)
    return zeroBytes
  } finally {
    await handle.close()
  }
}
