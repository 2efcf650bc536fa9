/**
 * Splits an input stream into records for `produce`: one per line (kcat's -P habits: with a
 * key delimiter the text before its first occurrence is the key; -D another record delimiter
 * than the newline; -Z an empty key or value is null), each record read through an input
 * template (-f '%k %v') or as a JSON line (--format json), or with `binary`, records framed by
 * a 4-byte big-endian length. Yields the records of each chunk together, so the per-record
 * cost is a slice of the chunk and no promise.
 *
 * A record may span chunks; its pieces are kept in a list and joined once, so a long record
 * costs its length, not its length times the number of chunks (a delimiter of several bytes
 * may span chunks too). No record may exceed INPUT_RECORD_BYTES_MAX: input without
 * delimiters, or text given to --binary, fails at once instead of filling memory.
 */
import {LignumError} from '../errors.js'
import {compileInputTemplate, type RecordParser} from './input-template.js'
import {parseJsonRecord} from './json-input.js'

/** Shaped as the encoder's RecordInput, so produce can hand it over without copying. */
export interface InputRecord {
  key: Buffer | null
  value: Buffer | null
  headers?: {key: string; value: Buffer | null}[]
  timestamp?: number
  /** The partition the input names (--format json, or %p in a template). */
  partition?: number
}

export interface InputOptions {
  keyDelimiter?: Buffer
  binary?: boolean
  /** Between records; a newline by default. */
  recordDelimiter?: Buffer
  /** 'json', or an input template such as '%k %v'. */
  format?: string
  /** -Z: an empty key or value is null. */
  emptyIsNull?: boolean
}

const NEWLINE = Buffer.from('\n')
const LENGTH_PREFIX_BYTES = 4
// A record travels in one produce request, and a node accepts at most 64 MiB per request by
// default (requestBytesMax); anything longer is a mistake in the input, not a record.
export const INPUT_RECORD_BYTES_MAX = 64 * 1024 * 1024

export async function* readInputRecords(stream: AsyncIterable<Buffer>, options: InputOptions): AsyncGenerator<InputRecord[]> {
  const records = options.binary ? readFramed(stream) : readDelimited(stream, options.recordDelimiter ?? NEWLINE, recordParser(options))
  if (!options.emptyIsNull) return yield* records
  for await (const batch of records) {
    for (const record of batch) nullWhenEmpty(record)
    yield batch
  }
}

function nullWhenEmpty(record: InputRecord): void {
  if (record.key?.length === 0) record.key = null
  if (record.value?.length === 0) record.value = null
}

/** How one delimited record becomes an InputRecord; undefined skips it (a blank JSON line). */
type DelimitedParser = (bytes: Buffer, recordNumber: number) => InputRecord | undefined

function recordParser(options: InputOptions): DelimitedParser {
  if (options.format === 'json') return parseJsonRecord
  if (options.format !== undefined) return compileInputTemplate(options.format, options.recordDelimiter ?? NEWLINE) satisfies RecordParser
  return (bytes) => splitKey(bytes, options.keyDelimiter)
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

  /** Its last `bytes` bytes (fewer if it is shorter). */
  tail(bytes: number): Buffer {
    const pieces: Buffer[] = []
    let needed = bytes
    for (let index = this.pieces.length - 1; index >= 0 && needed > 0; index--) {
      const piece = this.pieces[index]
      pieces.unshift(piece.subarray(Math.max(0, piece.length - needed)))
      needed -= piece.length
    }
    return Buffer.concat(pieces)
  }

  /** The pieces so far followed by `rest`, as one buffer; empties the record. */
  take(rest: Buffer): Buffer {
    const whole = this.pieces.length === 0 ? rest : Buffer.concat([...this.pieces, rest])
    this.pieces = []
    this.bytes = 0
    return whole
  }
}

async function* readDelimited(stream: AsyncIterable<Buffer>, delimiter: Buffer, parse: DelimitedParser): AsyncGenerator<InputRecord[]> {
  const partial = new PartialRecord()
  let recordNumber = 1
  const unit = delimiter.equals(NEWLINE) ? 'line' : 'record'
  for await (const chunk of stream) {
    const records: InputRecord[] = []
    const add = (bytes: Buffer) => {
      const record = parse(bytes, recordNumber++)
      if (record) records.push(record)
    }
    let start = 0
    try {
      if (partial.bytes > 0) start = delimiterAcrossChunks(partial, chunk, delimiter, add)
      for (let end = chunk.indexOf(delimiter, start); end >= 0; end = chunk.indexOf(delimiter, start)) {
        add(partial.take(chunk.subarray(start, end)))
        start = end + delimiter.length
      }
    } catch (error) {
      // A record that does not parse: the good ones before it in this chunk still go out.
      if (records.length > 0) yield records
      throw error
    }
    partial.add(chunk.subarray(start))
    if (partial.bytes > INPUT_RECORD_BYTES_MAX) {
      throw new LignumError('INVALID_ARGUMENT', `${unit} ${recordNumber} of the input is longer than ${INPUT_RECORD_BYTES_MAX} bytes; records are one per ${unit === 'line' ? 'line' : '-D delimiter'} (use --binary for length-prefixed records)`)
    }
    if (records.length > 0) yield records
  }
  // A last record without a delimiter after it is still a record.
  if (partial.bytes > 0) {
    const record = parse(partial.take(Buffer.alloc(0)), recordNumber)
    if (record) yield [record]
  }
}

/**
 * A delimiter of several bytes that began in the last chunk and ends in this one: ends the
 * partial record before it and returns where this chunk's records start (0 if none did).
 */
function delimiterAcrossChunks(partial: PartialRecord, chunk: Buffer, delimiter: Buffer, add: (bytes: Buffer) => void): number {
  if (delimiter.length === 1) return 0
  const tail = partial.tail(delimiter.length - 1)
  const probe = Buffer.concat([tail, chunk.subarray(0, delimiter.length - 1)])
  const at = probe.indexOf(delimiter)
  if (at < 0 || at >= tail.length) return 0
  const whole = partial.take(Buffer.alloc(0))
  add(whole.subarray(0, whole.length - (tail.length - at)))
  return delimiter.length - (tail.length - at)
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
