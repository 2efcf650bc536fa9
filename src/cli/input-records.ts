/**
 * Splits an input stream into records for `produce`: one per line (kcat's -P habits: with a
 * key delimiter the text before its first occurrence is the key), or with `binary`, records
 * framed by a 4-byte big-endian length. Yields the records of each chunk together, so the
 * per-record cost is a slice of the chunk and no promise.
 *
 * A record may span chunks; its pieces are kept in a list and joined once, so a long record
 * costs its length, not its length times the number of chunks. No record may exceed
 * INPUT_RECORD_BYTES_MAX: input without newlines, or text given to --binary, fails at once
 * instead of filling memory.
 */
import {LignumError} from '../errors.js'

/** Shaped as the encoder's RecordInput, so produce can hand it over without copying. */
export interface InputRecord {
  key: Buffer | null
  value: Buffer
  headers?: {key: string; value: Buffer | null}[]
}

export interface InputOptions {
  keyDelimiter?: string
  binary?: boolean
}

const NEWLINE = 0x0a
const LENGTH_PREFIX_BYTES = 4
// A record travels in one produce request, and a node accepts at most 64 MiB per request by
// default (requestBytesMax); anything longer is a mistake in the input, not a record.
export const INPUT_RECORD_BYTES_MAX = 64 * 1024 * 1024

export async function* readInputRecords(stream: AsyncIterable<Buffer>, options: InputOptions): AsyncGenerator<InputRecord[]> {
  yield* options.binary ? readFramed(stream) : readLines(stream, options.keyDelimiter ? Buffer.from(options.keyDelimiter, 'utf8') : undefined)
}

/** The start of a record that the chunks so far have not finished. */
class PartialRecord {
  private pieces: Buffer[] = []
  bytes = 0

  add(piece: Buffer): void {
    if (piece.length === 0) return
    this.pieces.push(piece)
    this.bytes += piece.length
  }

  /** The pieces so far followed by `rest`, as one buffer; empties the record. */
  take(rest: Buffer): Buffer {
    const whole = this.pieces.length === 0 ? rest : Buffer.concat([...this.pieces, rest])
    this.pieces = []
    this.bytes = 0
    return whole
  }
}

async function* readLines(stream: AsyncIterable<Buffer>, keyDelimiter: Buffer | undefined): AsyncGenerator<InputRecord[]> {
  const partial = new PartialRecord()
  let lineNumber = 1
  for await (const chunk of stream) {
    const records: InputRecord[] = []
    let start = 0
    for (let end = chunk.indexOf(NEWLINE); end >= 0; end = chunk.indexOf(NEWLINE, start)) {
      records.push(splitKey(partial.take(chunk.subarray(start, end)), keyDelimiter))
      start = end + 1
    }
    lineNumber += records.length
    partial.add(chunk.subarray(start))
    if (partial.bytes > INPUT_RECORD_BYTES_MAX) {
      throw new LignumError('INVALID_ARGUMENT', `line ${lineNumber} of the input is longer than ${INPUT_RECORD_BYTES_MAX} bytes; records are one per line (use --binary for length-prefixed records)`)
    }
    if (records.length > 0) yield records
  }
  // A last line without a newline is still a record.
  if (partial.bytes > 0) yield [splitKey(partial.take(Buffer.alloc(0)), keyDelimiter)]
}

function splitKey(line: Buffer, keyDelimiter: Buffer | undefined): InputRecord {
  if (!keyDelimiter) return {key: null, value: line}
  const at = line.indexOf(keyDelimiter)
  if (at < 0) return {key: null, value: line}
  return {key: line.subarray(0, at), value: line.subarray(at + keyDelimiter.length)}
}

async function* readFramed(stream: AsyncIterable<Buffer>): AsyncGenerator<InputRecord[]> {
  const partial = new PartialRecord()
  // What the partial record needs in all (prefix and bytes) before it can be cut from the input.
  let partialNeedsBytes = 0
  let consumedBytes = 0
  for await (const chunk of stream) {
    if (partial.bytes > 0 && partial.bytes + chunk.length < partialNeedsBytes) {
      partial.add(chunk)
      continue
    }
    // Only a record cut by the previous chunk's end is joined; whole records are slices of the chunk.
    const data = partial.take(chunk)
    const records: InputRecord[] = []
    let position = 0
    while (data.length - position >= LENGTH_PREFIX_BYTES) {
      const length = data.readUInt32BE(position)
      if (length > INPUT_RECORD_BYTES_MAX) throw implausibleLength(length, consumedBytes + position)
      if (data.length - position - LENGTH_PREFIX_BYTES < length) break
      records.push({key: null, value: data.subarray(position + LENGTH_PREFIX_BYTES, position + LENGTH_PREFIX_BYTES + length)})
      position += LENGTH_PREFIX_BYTES + length
    }
    consumedBytes += position
    const rest = data.subarray(position)
    partialNeedsBytes = rest.length >= LENGTH_PREFIX_BYTES ? LENGTH_PREFIX_BYTES + rest.readUInt32BE(0) : LENGTH_PREFIX_BYTES
    partial.add(rest)
    if (records.length > 0) yield records
  }
  if (partial.bytes > 0) {
    const rest = partial.take(Buffer.alloc(0))
    const missing = rest.length >= LENGTH_PREFIX_BYTES ? `a record of ${rest.readUInt32BE(0)} bytes, found ${rest.length - LENGTH_PREFIX_BYTES}` : `a 4-byte length, found ${rest.length} byte(s)`
    throw new LignumError('INVALID_ARGUMENT', `the binary input ends inside a record at byte ${consumedBytes}: expected ${missing}; each record is a 4-byte big-endian length followed by that many bytes`)
  }
}

function implausibleLength(length: number, atBytes: number): LignumError {
  return new LignumError('INVALID_ARGUMENT', `the binary input at byte ${atBytes} gives a record length of ${length} bytes, more than ${INPUT_RECORD_BYTES_MAX}; is it really 4-byte big-endian length-prefixed records? (without --binary, one record per line)`)
}
