/**
 * Checks the records inside one record batch whole, as Kafka's LogValidator does on a leader:
 * a batch whose header and CRC hold can still lie about what it carries, and once stored a
 * lie is served to every consumer. One pass over bytes already in memory (the batch itself,
 * or its decompressed records), no object per record:
 *
 *   - a count the bytes cannot hold is refused before anything is decompressed or allocated
 *     (a record takes at least RECORD_BYTES_MIN bytes);
 *   - every record's length, varints, key, value and headers parse and end exactly at the
 *     record's end, and the last record ends exactly at the batch's end;
 *   - offset deltas are exactly 0..n-1, lastOffsetDelta is n-1 and n is the record count;
 *   - every record's timestamp (baseTimestamp + delta) is at most maxTimestamp, and for a
 *     CreateTime batch maxTimestamp is the largest of them (what the time index and
 *     retention trust);
 *   - compressed records inflate to at most DECOMPRESSED_BYTES_MAX;
 *   - a client may not write control batches (transaction markers): only a transaction
 *     coordinator writes them.
 *
 * What a log may hold is a little wider than what a client may send, because Kafka's own
 * broker writes two things into its logs that no producer may: control batches, and batches
 * thinned by compaction (fewer records than lastOffsetDelta + 1, deltas increasing with gaps).
 * `origin: 'log'` accepts exactly those two, for checking data already stored
 * (`segments inspect --verify`); everything else is the same check.
 *
 * Precondition: the batch is whole and its CRC holds (checked by the caller, which owns the
 * message for those faults). Faults are CORRUPT_RECORD (bytes that do not parse or inflate)
 * or INVALID_RECORD (bytes that parse but break a rule), each naming the fault.
 */
import {LignumError, type ErrorCode} from '../errors.js'
import {decompress} from './compression.js'
import {BATCH_HEADER_BYTES, DECOMPRESSED_BYTES_MAX, type BatchHeader} from './record-batch.js'

/**
 * The smallest record: length, attributes, timestampDelta, offsetDelta, key length, value
 * length and header count, one byte each.
 */
export const RECORD_BYTES_MIN = 7

const EMPTY = Buffer.alloc(0)

/** Who wrote the batch: a client producing it, or a log it was read from. */
export type BatchOrigin = 'client' | 'log'

export interface RecordFault {
  code: Extract<ErrorCode, 'CORRUPT_RECORD' | 'INVALID_RECORD' | 'UNSUPPORTED_CODEC'>
  /** What is wrong, as the rest of a sentence about the batch: "has offset delta 0 in record 1; ...". */
  reason: string
}

export interface ValidateOptions {
  origin: BatchOrigin
}

/** Thrown inside the walk only; turned into a RecordFault at its edge. */
class FaultFound extends Error {
  constructor(readonly fault: RecordFault) {
    super(fault.reason)
  }
}

function corrupt(reason: string): never {
  throw new FaultFound({code: 'CORRUPT_RECORD', reason})
}

function invalid(reason: string): never {
  throw new FaultFound({code: 'INVALID_RECORD', reason})
}

/**
 * What is wrong with the records of the whole, CRC-checked batch at `position`, or null when
 * they hold. Bad data is a returned fault, never a throw.
 */
export function findRecordFault(buffer: Buffer, position: number, header: BatchHeader, options: ValidateOptions): RecordFault | null {
  try {
    checkBatchRules(header, options.origin)
    walkRecords(recordBytes(buffer, position, header), header, options.origin)
    return null
  } catch (error) {
    if (error instanceof FaultFound) return error.fault
    throw error
  } finally {
    walker.buffer = EMPTY // keeps no batch (or its inflated records) alive between calls
  }
}

/** Throws the fault findRecordFault finds as a LignumError: `${prefix}${where} ${reason}`. */
export function validateRecords(buffer: Buffer, position: number, header: BatchHeader, options: ValidateOptions & {where: string; prefix?: string}): void {
  const fault = findRecordFault(buffer, position, header, options)
  if (fault !== null) throw new LignumError(fault.code, `${options.prefix ?? ''}${options.where} ${fault.reason}`)
}

function checkBatchRules(header: BatchHeader, origin: BatchOrigin): void {
  if (origin === 'client') {
    if (header.isControl) invalid('is a control batch (a transaction marker); clients may not write control batches, only a transaction coordinator does')
    if (header.recordCount === 0) invalid('holds no records; a batch needs at least one')
    if (header.recordCount !== header.lastOffsetDelta + 1) invalid(`holds ${header.recordCount} records but its last offset delta is ${header.lastOffsetDelta} (it must be ${header.recordCount - 1})`)
  } else if (header.recordCount > header.lastOffsetDelta + 1) {
    invalid(`holds ${header.recordCount} records but its last offset delta is ${header.lastOffsetDelta}, room for only ${header.lastOffsetDelta + 1}`)
  }
}

/** The record bytes: a view into the batch (no copy), or its records decompressed within the bound. */
function recordBytes(buffer: Buffer, position: number, header: BatchHeader): Buffer {
  const start = position + BATCH_HEADER_BYTES
  const end = position + header.sizeBytes
  // Checked before decompressing: a count no bound could hold is refused without inflating anything.
  const bytesMax = header.compression === 'none' ? end - start : DECOMPRESSED_BYTES_MAX
  if (header.recordCount > bytesMax / RECORD_BYTES_MIN) {
    corrupt(`claims ${header.recordCount} records, more than its ${bytesMax} bytes of records can hold (a record takes at least ${RECORD_BYTES_MIN})`)
  }
  // Kafka's compaction may leave a batch with no records and no bytes, whatever its codec.
  if (end === start) return EMPTY
  try {
    return decompress(header.compression, buffer.subarray(start, end), DECOMPRESSED_BYTES_MAX, `at offset ${header.baseOffset}`)
  } catch (error) {
    if (!(error instanceof LignumError) || (error.code !== 'CORRUPT_RECORD' && error.code !== 'UNSUPPORTED_CODEC')) throw error
    throw new FaultFound({code: error.code, reason: `cannot be checked: ${error.message}`})
  }
}

/**
 * The records of one batch, read in place. Kafka's varints are zigzag-encoded; int32 fields
 * (lengths, deltas, counts) take at most 5 bytes and the timestamp delta (int64) at most 10.
 * Inside a record every read is bounded by the record's end, so no field can borrow bytes
 * from the next record.
 */
class RecordWalker {
  buffer: Buffer = EMPTY
  position = 0
  /** Where the current read must stop: the record's end inside a record, else the records' end. */
  limit = 0
  recordIndex = 0

  fail(what: string): never {
    corrupt(`has a malformed record ${this.recordIndex}: ${what}`)
  }

  varint(what: string, bytesMax: number): number {
    const buffer = this.buffer
    const position = this.position
    // Fast paths for one and two bytes: lengths below 8 KiB, small deltas and counts.
    if (position + 1 < this.limit) {
      const first = buffer[position]
      if (first < 0x80) {
        this.position = position + 1
        return first & 1 ? -(first + 1) / 2 : first / 2
      }
      const second = buffer[position + 1]
      if (second < 0x80) {
        this.position = position + 2
        const zigzagged = (first & 0x7f) | (second << 7)
        return zigzagged & 1 ? -(zigzagged + 1) / 2 : zigzagged / 2
      }
    }
    return this.longVarint(what, bytesMax)
  }

  private longVarint(what: string, bytesMax: number): number {
    const buffer = this.buffer
    let result = 0
    let multiplier = 1
    for (let index = 0; index < bytesMax; index++) {
      if (this.position >= this.limit) this.fail(`its ${what} runs past the end of the record`)
      const byte = buffer[this.position++]
      result += (byte & 0x7f) * multiplier
      if ((byte & 0x80) === 0) return result % 2 === 0 ? result / 2 : -(result + 1) / 2
      multiplier *= 0x80
    }
    this.fail(`its ${what} is a varint longer than ${bytesMax} bytes`)
  }

  int32(what: string): number {
    const value = this.varint(what, 5)
    if (value > 0x7fff_ffff || value < -0x8000_0000) this.fail(`its ${what} ${value} does not fit in an int32`)
    return value
  }

  /** Steps over a nullable field (length -1: null); `header` names a header's field, -1 the record's own. */
  skipField(what: string, length: number, header = -1): void {
    if (length === -1) return
    if (length < -1 || this.position + length > this.limit) this.fail(`its ${header >= 0 ? `header ${header} ` : ''}${what} of ${length} bytes does not fit in the record`)
    this.position += length
  }
}

const walker = new RecordWalker()

function walkRecords(records: Buffer, header: BatchHeader, origin: BatchOrigin): void {
  walker.buffer = records
  walker.position = 0
  const recordsEnd = records.length
  const count = header.recordCount
  const compacted = origin === 'log' && count < header.lastOffsetDelta + 1
  let previousDelta = -1
  let largestTimestamp = -Infinity
  for (let index = 0; index < count; index++) {
    if (walker.position >= recordsEnd) corrupt(`claims ${count} records but its records end after ${index}`)
    walker.recordIndex = index
    walker.limit = recordsEnd
    const offsetDelta = walkRecord(recordsEnd)
    checkOffsetDelta(index, offsetDelta, previousDelta, header.lastOffsetDelta, compacted)
    previousDelta = offsetDelta
    const timestamp = header.baseTimestamp + walkedTimestampDelta
    if (timestamp > largestTimestamp) largestTimestamp = timestamp
  }
  if (walker.position !== recordsEnd) corrupt(`has ${recordsEnd - walker.position} bytes after its last record (record ${count - 1}), where the batch should end`)
  if (!compacted && count > 0 && previousDelta !== header.lastOffsetDelta) invalid(`ends with offset delta ${previousDelta} but its last offset delta is ${header.lastOffsetDelta}`)
  checkTimestamps(header, largestTimestamp, compacted)
}

/** The last walked record's timestamp delta: a second result of walkRecord without an object per record. */
let walkedTimestampDelta = 0

/** Walks the record at the walker's position and returns its offset delta. */
function walkRecord(recordsEnd: number): number {
  const length = walker.int32('length')
  if (length < RECORD_BYTES_MIN - 1 || walker.position + length > recordsEnd) walker.fail(`its length of ${length} bytes does not fit in the records`)
  walker.limit = walker.position + length
  walker.position++ // attributes: unused in v2
  walkedTimestampDelta = walker.varint('timestamp delta', 10)
  const offsetDelta = walker.int32('offset delta')
  walker.skipField('key', walker.int32('key length'))
  walker.skipField('value', walker.int32('value length'))
  walkHeaders()
  if (walker.position !== walker.limit) walker.fail(`it says it is ${length} bytes but its fields end ${walker.limit - walker.position} bytes sooner`)
  return offsetDelta
}

function walkHeaders(): void {
  const count = walker.int32('header count')
  // A header takes at least two bytes (key length and value length).
  if (count < 0 || count * 2 > walker.limit - walker.position) walker.fail(`its header count of ${count} does not fit in the record`)
  for (let header = 0; header < count; header++) {
    const keyLength = walker.int32('header key length')
    if (keyLength < 0) walker.fail(`its header ${header} has a key of length ${keyLength} (a header key is never null)`)
    walker.skipField('key', keyLength, header)
    walker.skipField('value', walker.int32('header value length'), header)
  }
}

function checkOffsetDelta(index: number, offsetDelta: number, previousDelta: number, lastOffsetDelta: number, compacted: boolean): void {
  if (!compacted) {
    if (offsetDelta !== index) invalid(`has offset delta ${offsetDelta} in record ${index}; the deltas must be exactly 0 to ${lastOffsetDelta} in order`)
    return
  }
  if (offsetDelta <= previousDelta || offsetDelta > lastOffsetDelta) {
    invalid(`has offset delta ${offsetDelta} in record ${index} after ${previousDelta}; the deltas must increase and stay within its last offset delta ${lastOffsetDelta}`)
  }
}

function checkTimestamps(header: BatchHeader, largestTimestamp: number, compacted: boolean): void {
  if (header.recordCount === 0) return
  if (largestTimestamp > header.maxTimestamp) invalid(`has a record with timestamp ${largestTimestamp}, later than its maxTimestamp ${header.maxTimestamp}`)
  // A LogAppendTime batch's maxTimestamp is when the log took it; a compacted one may have lost its latest record.
  if (header.timestampType === 'create' && !compacted && largestTimestamp !== header.maxTimestamp) {
    invalid(`says maxTimestamp ${header.maxTimestamp} but its latest record has timestamp ${largestTimestamp}`)
  }
}
