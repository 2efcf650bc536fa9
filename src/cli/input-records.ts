/**
 * Splits an input stream into records for `produce`: one per line (kcat's -P habits: with a
 * key delimiter the text before its first occurrence is the key), or with `binary`, records
 * framed by a 4-byte big-endian length. Yields the records of each chunk together, so the
 * per-record cost is a slice of the chunk and no promise.
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

export async function* readInputRecords(stream: AsyncIterable<Buffer>, options: InputOptions): AsyncGenerator<InputRecord[]> {
  yield* options.binary ? readFramed(stream) : readLines(stream, options.keyDelimiter ? Buffer.from(options.keyDelimiter, 'utf8') : undefined)
}

async function* readLines(stream: AsyncIterable<Buffer>, keyDelimiter: Buffer | undefined): AsyncGenerator<InputRecord[]> {
  let carry: Buffer | undefined
  for await (const chunk of stream) {
    const data = carry ? Buffer.concat([carry, chunk]) : chunk
    const records: InputRecord[] = []
    let start = 0
    for (let end = data.indexOf(NEWLINE, start); end >= 0; end = data.indexOf(NEWLINE, start)) {
      records.push(splitKey(data.subarray(start, end), keyDelimiter))
      start = end + 1
    }
    carry = start < data.length ? data.subarray(start) : undefined
    if (records.length > 0) yield records
  }
  // A last line without a newline is still a record.
  if (carry && carry.length > 0) yield [splitKey(carry, keyDelimiter)]
}

function splitKey(line: Buffer, keyDelimiter: Buffer | undefined): InputRecord {
  if (!keyDelimiter) return {key: null, value: line}
  const at = line.indexOf(keyDelimiter)
  if (at < 0) return {key: null, value: line}
  return {key: line.subarray(0, at), value: line.subarray(at + keyDelimiter.length)}
}

async function* readFramed(stream: AsyncIterable<Buffer>): AsyncGenerator<InputRecord[]> {
  let carry: Buffer = Buffer.alloc(0)
  let consumedBytes = 0
  for await (const chunk of stream) {
    const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk
    const records: InputRecord[] = []
    let position = 0
    while (data.length - position >= LENGTH_PREFIX_BYTES) {
      const length = data.readUInt32BE(position)
      if (data.length - position - LENGTH_PREFIX_BYTES < length) break
      records.push({key: null, value: data.subarray(position + LENGTH_PREFIX_BYTES, position + LENGTH_PREFIX_BYTES + length)})
      position += LENGTH_PREFIX_BYTES + length
    }
    consumedBytes += position
    carry = data.subarray(position)
    if (records.length > 0) yield records
  }
  if (carry.length > 0) {
    const expected = carry.length >= LENGTH_PREFIX_BYTES ? `${carry.readUInt32BE(0)} bytes` : 'a 4-byte length'
    throw new LignumError('INVALID_ARGUMENT', `the binary input ends inside a record at byte ${consumedBytes}: expected ${expected}, found ${carry.length - Math.min(carry.length, LENGTH_PREFIX_BYTES)}; each record is a 4-byte big-endian length followed by that many bytes`)
  }
}
