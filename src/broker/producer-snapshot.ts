/**
 * Producer state snapshots in Kafka's own format (ProducerStateManager, snapshot version 1):
 * one file per snapshot in the partition directory, named by the log offset it was taken at,
 * `<20-digit offset>.snapshot`. A snapshot at offset S holds the batches below S that the
 * producer table remembers, each producer's oldest first; Kafka reads one producer's entries
 * in order and keeps the last, so it can read Lignum's, and Lignum keeps all of them.
 *
 *   version                 int16   1
 *   crc                     uint32  CRC-32C of every byte after this field
 *   entry count             int32
 *   per entry (46 bytes):
 *     producerId            int64
 *     producerEpoch         int16
 *     lastSequence          int32
 *     lastOffset            int64
 *     offsetDelta           int32   lastOffset minus the batch's base offset
 *     timestamp             int64   the batch's max timestamp
 *     coordinatorEpoch      int32   -1 (no transactions)
 *     currentTxnFirstOffset int64   -1
 *
 * Invariant: a snapshot is written whole (atomic-file.ts) or not at all; one that does not
 * parse or fails its CRC is refused (CORRUPT_RECORD) and the caller replays the log instead.
 */
import {crc32c} from '@node-rs/crc32'
import path from 'node:path'
import {LignumError} from '../errors.js'
import {fileSystem} from '../log/file-system.js'
import {replaceFileAtomically} from '../log/atomic-file.js'
import {SEQUENCE_MODULUS, type WrittenProducerBatch} from './producer-state.js'

const SNAPSHOT_VERSION = 1
const HEADER_BYTES = 10
const ENTRIES_OFFSET = 6
const ENTRY_BYTES = 46
const OFFSET_DIGITS = 20
const SNAPSHOT_NAME = /^(\d{20})\.snapshot$/

export function snapshotFileName(offset: number): string {
  return `${String(offset).padStart(OFFSET_DIGITS, '0')}.snapshot`
}

/** The offsets of the snapshots in `dir`, oldest first. */
export async function listSnapshotOffsets(dir: string): Promise<number[]> {
  const offsets: number[] = []
  for (const name of await fileSystem().readdir(dir)) {
    const match = SNAPSHOT_NAME.exec(name)
    if (match) offsets.push(Number(match[1]))
  }
  return offsets.sort((a, b) => a - b)
}

export function encodeProducerSnapshot(batches: WrittenProducerBatch[]): Buffer {
  const buffer = Buffer.alloc(HEADER_BYTES + batches.length * ENTRY_BYTES)
  buffer.writeInt16BE(SNAPSHOT_VERSION, 0)
  buffer.writeInt32BE(batches.length, ENTRIES_OFFSET)
  let position = HEADER_BYTES
  for (const batch of batches) {
    buffer.writeBigInt64BE(BigInt(batch.producerId), position)
    buffer.writeInt16BE(batch.producerEpoch, position + 8)
    buffer.writeInt32BE(batch.lastSequence, position + 10)
    buffer.writeBigInt64BE(BigInt(batch.lastOffset), position + 14)
    buffer.writeInt32BE(batch.lastOffset - batch.baseOffset, position + 22)
    buffer.writeBigInt64BE(BigInt(batch.maxTimestamp), position + 26)
    buffer.writeInt32BE(-1, position + 34)
    buffer.writeBigInt64BE(-1n, position + 38)
    position += ENTRY_BYTES
  }
  buffer.writeUInt32BE(crc32c(buffer.subarray(ENTRIES_OFFSET)) >>> 0, 2)
  return buffer
}

export function decodeProducerSnapshot(buffer: Buffer, file: string): WrittenProducerBatch[] {
  const bad = (why: string): never => {
    throw new LignumError('CORRUPT_RECORD', `${file} is not a producer snapshot (${why}); it is ignored and producer state is rebuilt from the log`)
  }
  if (buffer.length < HEADER_BYTES) bad(`${buffer.length} bytes, shorter than its header`)
  if (buffer.readInt16BE(0) !== SNAPSHOT_VERSION) bad(`version ${buffer.readInt16BE(0)} is not ${SNAPSHOT_VERSION}`)
  if (buffer.readUInt32BE(2) !== crc32c(buffer.subarray(ENTRIES_OFFSET)) >>> 0) bad('its CRC-32C does not match')
  const count = buffer.readInt32BE(ENTRIES_OFFSET)
  if (count < 0 || buffer.length !== HEADER_BYTES + count * ENTRY_BYTES) bad(`${count} entries do not fill ${buffer.length} bytes`)
  const batches: WrittenProducerBatch[] = []
  for (let position = HEADER_BYTES; position < buffer.length; position += ENTRY_BYTES) {
    const lastSequence = buffer.readInt32BE(position + 10)
    const lastOffset = Number(buffer.readBigInt64BE(position + 14))
    const offsetDelta = buffer.readInt32BE(position + 22)
    if (lastSequence < 0 || offsetDelta < 0 || lastOffset - offsetDelta < 0) bad(`an entry at byte ${position} has impossible sequences or offsets`)
    batches.push({
      producerId: Number(buffer.readBigInt64BE(position)),
      producerEpoch: buffer.readInt16BE(position + 8),
      baseSequence: (lastSequence - offsetDelta + SEQUENCE_MODULUS) % SEQUENCE_MODULUS,
      lastSequence,
      baseOffset: lastOffset - offsetDelta,
      lastOffset,
      maxTimestamp: Number(buffer.readBigInt64BE(position + 26)),
    })
  }
  return batches
}

export async function writeProducerSnapshot(dir: string, offset: number, batches: WrittenProducerBatch[]): Promise<void> {
  await replaceFileAtomically(path.join(dir, snapshotFileName(offset)), encodeProducerSnapshot(batches))
}

export async function readProducerSnapshot(dir: string, offset: number): Promise<WrittenProducerBatch[]> {
  const file = path.join(dir, snapshotFileName(offset))
  return decodeProducerSnapshot(await fileSystem().readFile(file), file)
}

export async function deleteProducerSnapshot(dir: string, offset: number): Promise<void> {
  await fileSystem().unlink(path.join(dir, snapshotFileName(offset))).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error
  })
}
