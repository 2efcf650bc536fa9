/**
 * Snappy as Kafka frames it. Kafka's Java producer writes snappy-java's stream framing (xerial):
 * a 16-byte header (magic, version 1, compatible version 1), then chunks of a 4-byte big-endian
 * length and one raw snappy block each. Its reader takes that framing or, without the magic,
 * one raw snappy block (what librdkafka-based and other clients wrote); so does this one.
 *
 * Bounded: every raw block starts with its inflated length as a varint, read and checked
 * against what is left of the bound before the block is inflated (the decoder then writes
 * exactly that many bytes or fails).
 */
import {compressSync, uncompressSync} from 'snappy'
import {doesNotDecompress, inflatesPastBound} from './inflate-bound.js'

/** snappy-java's header: 0x82 "SNAPPY" 0x00, version 1, minimum compatible version 1. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
const XERIAL_HEADER_BYTES = 16
const XERIAL_VERSION = 1
const CHUNK_LENGTH_BYTES = 4
/** snappy-java's default block size (SnappyOutputStream), so chunks match what Kafka writes. */
const XERIAL_BLOCK_BYTES = 32 * 1024
/** A uint32 varint takes at most 5 bytes. */
const VARINT_BYTES_MAX = 5

export function compressSnappy(plain: Buffer): Buffer {
  const parts: Buffer[] = [xerialHeader()]
  for (let at = 0; at < plain.length; at += XERIAL_BLOCK_BYTES) {
    const block = compressSync(plain.subarray(at, at + XERIAL_BLOCK_BYTES))
    const length = Buffer.allocUnsafe(CHUNK_LENGTH_BYTES)
    length.writeInt32BE(block.length)
    parts.push(length, block)
  }
  return Buffer.concat(parts)
}

function xerialHeader(): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_BYTES)
  XERIAL_MAGIC.copy(header)
  header.writeInt32BE(XERIAL_VERSION, 8)
  header.writeInt32BE(XERIAL_VERSION, 12)
  return header
}

export function decompressSnappy(data: Buffer, maxBytes: number, where: string): Buffer {
  if (!isXerial(data)) return inflateBlock(data, maxBytes, where)
  const parts: Buffer[] = []
  let total = 0
  let at = XERIAL_HEADER_BYTES
  while (at < data.length) {
    if (at + CHUNK_LENGTH_BYTES > data.length) throw doesNotDecompress('snappy', where, `a chunk length at byte ${at} is cut short`)
    const length = data.readInt32BE(at)
    at += CHUNK_LENGTH_BYTES
    if (length < 0 || at + length > data.length) throw doesNotDecompress('snappy', where, `the chunk at byte ${at - CHUNK_LENGTH_BYTES} claims ${length} bytes, ${data.length - at} are left`)
    const part = inflateBlock(data.subarray(at, at + length), maxBytes - total, where, maxBytes)
    total += part.length
    parts.push(part)
    at += length
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, total)
}

function isXerial(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_BYTES && data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)
}

/** One raw snappy block, refused before inflating when its stated length passes `bytesLeft`. */
function inflateBlock(block: Buffer, bytesLeft: number, where: string, maxBytes = bytesLeft): Buffer {
  const stated = statedLength(block, where)
  if (stated > bytesLeft) throw inflatesPastBound('snappy', where, maxBytes)
  try {
    return uncompressSync(block, {asBuffer: true}) as Buffer
  } catch (error) {
    throw doesNotDecompress('snappy', where, (error as Error).message, error)
  }
}

/** The varint in front of a raw snappy block: the bytes it inflates to. */
function statedLength(block: Buffer, where: string): number {
  let value = 0
  for (let index = 0; index < VARINT_BYTES_MAX; index++) {
    if (index >= block.length) break
    const byte = block[index]
    value += (byte & 0x7f) * 2 ** (7 * index)
    if ((byte & 0x80) === 0) return value
  }
  throw doesNotDecompress('snappy', where, 'the block does not start with its length')
}
