/**
 * LZ4 in the frame format (KIP-57: Kafka's batches of magic 1 and later carry a standard LZ4
 * frame with a correct header checksum). Written by lz4-napi with independent blocks and no
 * checksums, as Kafka's own producer writes them.
 *
 * Read by a decoder of this module's own, because a native frame decoder inflates without a
 * bound: the frame is parsed here, and every block decoded into one output that may not grow
 * past `maxBytes` (a bomb is refused at the first byte past it, having allocated at most that).
 * Blocks decode into one buffer, so frames with dependent blocks read as well.
 */
import {compressFrameSync} from 'lz4-napi'
import {doesNotDecompress, inflatesPastBound} from './inflate-bound.js'

const FRAME_MAGIC = 0x184d2204
const FRAME_VERSION = 0b01
const FLAG_BLOCK_CHECKSUM = 0x10
const FLAG_CONTENT_SIZE = 0x08
const FLAG_CONTENT_CHECKSUM = 0x04
const FLAG_DICTIONARY_ID = 0x01
const BLOCK_UNCOMPRESSED_BIT = 0x8000_0000
const MIN_MATCH_BYTES = 4
/** An output starts at this size (or the bound, if smaller) and doubles as it fills. */
const OUTPUT_BYTES_INITIAL = 64 * 1024

export function compressLz4(plain: Buffer): Buffer {
  return compressFrameSync(plain, {contentChecksum: false, blockChecksums: false})
}

class Output {
  buffer: Buffer
  length = 0

  constructor(
    sizeHint: number,
    private readonly maxBytes: number,
    private readonly where: string,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(sizeHint, OUTPUT_BYTES_INITIAL)))
  }

  /** Room for `bytes` more, or the bomb refused. */
  reserve(bytes: number): void {
    const needed = this.length + bytes
    if (needed <= this.buffer.length) return
    if (needed > this.maxBytes) throw inflatesPastBound('lz4', this.where, this.maxBytes)
    const grown = Buffer.allocUnsafe(Math.min(this.maxBytes, Math.max(needed, this.buffer.length * 2)))
    this.buffer.copy(grown, 0, 0, this.length)
    this.buffer = grown
  }
}

export function decompressLz4(data: Buffer, maxBytes: number, where: string): Buffer {
  const fail = (reason: string) => doesNotDecompress('lz4', where, reason)
  if (data.length < 7 || data.readUInt32LE(0) !== FRAME_MAGIC) throw fail('it is not an LZ4 frame (no frame magic)')
  const flags = data[4]
  if (flags >> 6 !== FRAME_VERSION) throw fail(`frame version ${flags >> 6} is not 1`)
  let at = 6
  if (flags & FLAG_CONTENT_SIZE) at += 8
  if (flags & FLAG_DICTIONARY_ID) throw fail('the frame needs a dictionary')
  at += 1 // the header checksum: the batch's CRC-32C already covers these bytes
  const output = new Output(data.length * 4, maxBytes, where)
  for (;;) {
    if (at + 4 > data.length) throw fail('the frame is cut short before its end mark')
    const word = data.readUInt32LE(at)
    at += 4
    if (word === 0) break
    const size = word & ~BLOCK_UNCOMPRESSED_BIT
    if (at + size > data.length) throw fail(`a block at byte ${at - 4} claims ${size} bytes, ${data.length - at} are left`)
    const block = data.subarray(at, at + size)
    if (word & BLOCK_UNCOMPRESSED_BIT) {
      output.reserve(size)
      block.copy(output.buffer, output.length)
      output.length += size
    } else {
      decodeBlock(block, output, fail)
    }
    at += size
    if (flags & FLAG_BLOCK_CHECKSUM) at += 4
  }
  if (flags & FLAG_CONTENT_CHECKSUM) at += 4
  if (at > data.length) throw fail('the frame is cut short in its checksum')
  return output.buffer.subarray(0, output.length)
}

/** One LZ4 block (sequences of literals and a back-reference) appended to `output`. */
function decodeBlock(src: Buffer, output: Output, fail: (reason: string) => Error): void {
  let ip = 0
  const end = src.length
  const lengthAfter = (start: number): number => {
    let length = start
    let byte: number
    do {
      if (ip >= end) throw fail('a length runs past the block')
      byte = src[ip++]
      length += byte
    } while (byte === 255)
    return length
  }
  while (ip < end) {
    const token = src[ip++]
    let literals = token >> 4
    if (literals === 15) literals = lengthAfter(literals)
    if (ip + literals > end) throw fail('literals run past the block')
    output.reserve(literals)
    copyBytes(src, ip, output.buffer, output.length, literals)
    output.length += literals
    ip += literals
    // The last sequence is literals alone.
    if (ip === end) return
    if (ip + 2 > end) throw fail('a match offset runs past the block')
    const offset = src[ip] | (src[ip + 1] << 8)
    ip += 2
    if (offset === 0 || offset > output.length) throw fail(`a match reaches back ${offset} bytes, before the start of the output`)
    let match = token & 15
    if (match === 15) match = lengthAfter(match)
    match += MIN_MATCH_BYTES
    output.reserve(match)
    copyMatch(output.buffer, output.length, offset, match)
    output.length += match
  }
  throw fail('the block ends in the middle of a sequence')
}

/** Below this many bytes a loop beats Buffer.copy, whose native call costs more than the bytes (most LZ4 sequences are short). */
const NATIVE_COPY_BYTES_MIN = 64

function copyBytes(from: Buffer, start: number, to: Buffer, at: number, length: number): void {
  if (length >= NATIVE_COPY_BYTES_MIN) {
    from.copy(to, at, start, start + length)
    return
  }
  for (let index = 0; index < length; index++) to[at + index] = from[start + index]
}

/** Copies `length` bytes from `offset` back; they may overlap what is being written (a run). */
function copyMatch(buffer: Buffer, at: number, offset: number, length: number): void {
  const from = at - offset
  if (offset >= length) return copyBytes(buffer, from, buffer, at, length)
  for (let index = 0; index < length; index++) buffer[at + index] = buffer[from + index]
}
