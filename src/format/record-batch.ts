/**
 * Kafka's record batch, message format v2 (magic 2), encoded and decoded byte for byte as
 * Apache Kafka's documentation ("Record Batch") specifies. This file owns the format.
 *
 *   position  bytes  field
 *    0         8     baseOffset            int64   rewritten by the log on append (outside the CRC)
 *    8         4     batchLength           int32   bytes after this field (sizeBytes - 12)
 *   12         4     partitionLeaderEpoch  int32   set by the leader on append (outside the CRC)
 *   16         1     magic                 int8    always 2
 *   17         4     crc                   uint32  CRC-32C of bytes 21 .. end
 *   21         2     attributes            int16   bits 0-2 codec, 3 timestampType, 4 transactional, 5 control
 *   23         4     lastOffsetDelta       int32
 *   27         8     baseTimestamp         int64
 *   35         8     maxTimestamp          int64
 *   43         8     producerId            int64
 *   51         2     producerEpoch         int16
 *   53         4     baseSequence          int32
 *   57         4     recordCount           int32
 *   61         ...   records (compressed as one block when the codec is not none)
 *
 * A record (all varints zigzag-encoded, as protobuf's sint32/sint64):
 *
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *   keyLength varint | key | valueLength varint | value | headerCount varint |
 *   headers: (keyLength varint | key utf8 | valueLength varint | value)*
 *
 * A null key, value or header value is length -1 with no bytes.
 *
 * Decoded keys, values and header values are views into the batch buffer (no copies): keeping
 * a record keeps its batch in memory.
 *
 * Invariants: a batch is never decoded with a bad CRC (CORRUPT_RECORD); a codec this build
 * cannot decode is UNSUPPORTED_CODEC naming it, never garbage. The encoder computes every
 * size first, allocates one Buffer and writes varints in place: it is on the hot path.
 */
import {crc32c} from '@node-rs/crc32'
import {LignumError} from '../errors.js'
import {assert, assertOffset, OFFSET_MAX} from '../assert.js'
import {CODEC_IDS, CODEC_NAMES, compress, decompress, type CompressionCodec} from './compression.js'

export type {CompressionCodec} from './compression.js'

export interface RecordHeader {
  key: string
  value: Buffer | null
}

export interface RecordInput {
  key: Buffer | null
  value: Buffer | null
  headers?: RecordHeader[]
  timestamp?: number
}

export interface LogRecord {
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
}

export interface BatchHeader {
  baseOffset: number
  batchLength: number
  partitionLeaderEpoch: number
  magic: number
  crc: number
  attributes: number
  compression: string
  timestampType: 'create' | 'log-append'
  isTransactional: boolean
  isControl: boolean
  lastOffsetDelta: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordCount: number
  /** baseOffset + lastOffsetDelta */
  lastOffset: number
  /** The whole batch on disk: batchLength + 12. */
  sizeBytes: number
}

export interface EncodeOptions {
  baseOffset?: number
  compression?: CompressionCodec
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  partitionLeaderEpoch?: number
  nowMs?: number
  /** Where the batch is encoded, e.g. a buffer with room in front for framing (headroom.ts). */
  allocate?: (bytes: number) => Buffer
}

export const BATCH_HEADER_BYTES = 61
/** baseOffset and batchLength come before what batchLength counts. */
export const BATCH_LENGTH_PREFIX_BYTES = 12
export const MAGIC_V2 = 2

const OFFSET_BASE = 0
const OFFSET_LENGTH = 8
const OFFSET_LEADER_EPOCH = 12
const OFFSET_MAGIC = 16
const OFFSET_CRC = 17
const OFFSET_ATTRIBUTES = 21
const OFFSET_LAST_OFFSET_DELTA = 23
const OFFSET_BASE_TIMESTAMP = 27
const OFFSET_MAX_TIMESTAMP = 35
const OFFSET_PRODUCER_ID = 43
const OFFSET_PRODUCER_EPOCH = 51
const OFFSET_BASE_SEQUENCE = 53
const OFFSET_RECORD_COUNT = 57

const CODEC_MASK = 0x07
const TIMESTAMP_TYPE_BIT = 0x08
const TRANSACTIONAL_BIT = 0x10
const CONTROL_BIT = 0x20

/** A batch is an int32-length frame; Kafka caps it below 2 GiB the same way. */
export const BATCH_BYTES_MAX = 0x7fff_ffff
/**
 * A compressed batch inflates to at most this much, on produce and on every read, so one small
 * batch (a zip bomb: 1 MiB of gzip can inflate to 1 GiB) costs a bounded, brief allocation. 64
 * MiB is the default requestBytesMax, the largest the same records could be sent uncompressed,
 * and 64 times the default batchBytesMax (1 MiB, Kafka's message.max.bytes): room for real data
 * at real compression ratios (text and JSON compress 5 to 20 times).
 */
export const DECOMPRESSED_BYTES_MAX = 64 * 1024 * 1024
/** The record count and offset delta are int32 fields. */
export const RECORD_COUNT_MAX = 0x7fff_ffff

const TWO_POW_32 = 0x1_0000_0000

// ---- int64 as JS numbers (two int32 halves; exact below 2^53) ----

function readInt64(buffer: Buffer, position: number): number {
  return buffer.readInt32BE(position) * TWO_POW_32 + buffer.readUInt32BE(position + 4)
}

function writeInt64(buffer: Buffer, value: number, position: number): void {
  const high = Math.floor(value / TWO_POW_32)
  buffer.writeInt32BE(high, position)
  buffer.writeUInt32BE(value - high * TWO_POW_32, position + 4)
}

// ---- zigzag varints, written in place ----

function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1
}

function unzigzag(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2
}

function unsignedVarintSize(value: number): number {
  if (value < 0x80) return 1
  if (value < 0x4000) return 2
  if (value < 0x20_0000) return 3
  if (value < 0x1000_0000) return 4
  let size = 4
  let rest = Math.floor(value / 0x1000_0000)
  while (rest > 0) {
    size++
    rest = Math.floor(rest / 0x80)
  }
  return size
}

function varintSize(value: number): number {
  return unsignedVarintSize(zigzag(value))
}

function writeUnsignedVarint(buffer: Buffer, value: number, position: number): number {
  let rest = value
  while (rest >= 0x80) {
    buffer[position++] = (rest % 0x80) | 0x80
    rest = Math.floor(rest / 0x80)
  }
  buffer[position++] = rest
  return position
}

function writeVarint(buffer: Buffer, value: number, position: number): number {
  const zigzagged = zigzag(value)
  if (zigzagged < 0x80) {
    buffer[position] = zigzagged
    return position + 1
  }
  return writeUnsignedVarint(buffer, zigzagged, position)
}

/** A cursor over a decoded record area; every read checks the bound first. */
class RecordCursor {
  position: number
  constructor(
    readonly buffer: Buffer,
    position: number,
    readonly end: number,
  ) {
    this.position = position
  }

  fail(what: string): never {
    throw new LignumError('CORRUPT_RECORD', `record batch is malformed: ${what}`, {hint: `the data is damaged, verify it with "lignum segments inspect --verify"`})
  }

  varint(): number {
    let result = 0
    let multiplier = 1
    for (let shift = 0; shift < 10; shift++) {
      if (this.position >= this.end) this.fail('a varint runs past the end of the batch')
      const byte = this.buffer[this.position++]
      result += (byte & 0x7f) * multiplier
      if ((byte & 0x80) === 0) return unzigzag(result)
      multiplier *= 0x80
    }
    this.fail('a varint is longer than 10 bytes')
  }

  int8(): number {
    if (this.position >= this.end) this.fail('a record runs past the end of the batch')
    return this.buffer.readInt8(this.position++)
  }

  /** Steps over a nullable field of `length` bytes (-1: null), with the same checks as bytes(). */
  skip(length: number): void {
    if (length === -1) return
    if (length < -1 || this.position + length > this.end) this.fail(`a field of ${length} bytes does not fit in the batch`)
    this.position += length
  }

  bytes(length: number): Buffer | null {
    if (length === -1) return null
    if (length < -1 || this.position + length > this.end) this.fail(`a field of ${length} bytes does not fit in the batch`)
    const slice = this.buffer.subarray(this.position, this.position + length)
    this.position += length
    return slice
  }
}

// ---- header ----

function codecName(attributes: number): string {
  const id = attributes & CODEC_MASK
  return CODEC_NAMES[id] ?? `unknown codec id ${id}`
}

/** Reads and sanity-checks the 61-byte header at `position`. Does not check the CRC. */
export function readBatchHeader(buffer: Buffer, position = 0): BatchHeader {
  if (position + BATCH_HEADER_BYTES > buffer.length) {
    throw new LignumError('CORRUPT_RECORD', `record batch header at position ${position} is cut short: ${buffer.length - position} of ${BATCH_HEADER_BYTES} bytes`)
  }
  const batchLength = buffer.readInt32BE(position + OFFSET_LENGTH)
  const magic = buffer.readInt8(position + OFFSET_MAGIC)
  if (magic !== MAGIC_V2) {
    throw new LignumError('CORRUPT_RECORD', `record batch at position ${position} has magic ${magic}, expected ${MAGIC_V2} (Kafka message format v2)`)
  }
  if (batchLength < BATCH_HEADER_BYTES - BATCH_LENGTH_PREFIX_BYTES) {
    throw new LignumError('CORRUPT_RECORD', `record batch at position ${position} has a length of ${batchLength} bytes, shorter than its header`)
  }
  const baseOffset = readInt64(buffer, position + OFFSET_BASE)
  const attributes = buffer.readInt16BE(position + OFFSET_ATTRIBUTES)
  const lastOffsetDelta = buffer.readInt32BE(position + OFFSET_LAST_OFFSET_DELTA)
  const recordCount = buffer.readInt32BE(position + OFFSET_RECORD_COUNT)
  if (baseOffset < 0 || baseOffset + lastOffsetDelta >= OFFSET_MAX || lastOffsetDelta < 0 || recordCount < 0) {
    throw new LignumError('CORRUPT_RECORD', `record batch at position ${position} has impossible offsets (base ${baseOffset}, last delta ${lastOffsetDelta}, count ${recordCount})`)
  }
  return {
    baseOffset,
    batchLength,
    partitionLeaderEpoch: buffer.readInt32BE(position + OFFSET_LEADER_EPOCH),
    magic,
    crc: buffer.readUInt32BE(position + OFFSET_CRC),
    attributes,
    compression: codecName(attributes),
    timestampType: attributes & TIMESTAMP_TYPE_BIT ? 'log-append' : 'create',
    isTransactional: (attributes & TRANSACTIONAL_BIT) !== 0,
    isControl: (attributes & CONTROL_BIT) !== 0,
    lastOffsetDelta,
    baseTimestamp: readInt64(buffer, position + OFFSET_BASE_TIMESTAMP),
    maxTimestamp: readInt64(buffer, position + OFFSET_MAX_TIMESTAMP),
    producerId: readInt64(buffer, position + OFFSET_PRODUCER_ID),
    producerEpoch: buffer.readInt16BE(position + OFFSET_PRODUCER_EPOCH),
    baseSequence: buffer.readInt32BE(position + OFFSET_BASE_SEQUENCE),
    recordCount,
    lastOffset: baseOffset + lastOffsetDelta,
    sizeBytes: batchLength + BATCH_LENGTH_PREFIX_BYTES,
  }
}

/** The size of the batch at `position` from its length field alone, or -1 if fewer than 12 bytes remain. */
export function batchSizeAt(buffer: Buffer, position = 0): number {
  if (position + BATCH_LENGTH_PREFIX_BYTES > buffer.length) return -1
  return buffer.readInt32BE(position + OFFSET_LENGTH) + BATCH_LENGTH_PREFIX_BYTES
}

export function isBatchCrcValid(buffer: Buffer, position = 0): boolean {
  const size = batchSizeAt(buffer, position)
  if (size < BATCH_HEADER_BYTES || position + size > buffer.length) return false
  const stored = buffer.readUInt32BE(position + OFFSET_CRC)
  return crc32c(buffer.subarray(position + OFFSET_ATTRIBUTES, position + size)) >>> 0 === stored
}

export function setBaseOffset(buffer: Buffer, baseOffset: number, position = 0): void {
  assertOffset(baseOffset, 'baseOffset')
  writeInt64(buffer, baseOffset, position + OFFSET_BASE)
}

export function setPartitionLeaderEpoch(buffer: Buffer, epoch: number, position = 0): void {
  assert(Number.isInteger(epoch) && epoch >= -1 && epoch <= 0x7fff_ffff, `leader epoch ${epoch} is not an int32 >= -1`)
  buffer.writeInt32BE(epoch, position + OFFSET_LEADER_EPOCH)
}

/** Whole batches in a buffer of concatenated batches; stops quietly before a partial last batch. */
export function* batchPositions(buffer: Buffer): Generator<{position: number; header: BatchHeader}> {
  let position = 0
  while (position + BATCH_HEADER_BYTES <= buffer.length) {
    const header = readBatchHeader(buffer, position)
    if (position + header.sizeBytes > buffer.length) return
    yield {position, header}
    position += header.sizeBytes
  }
}

// ---- encode ----

function headersSize(headers: RecordHeader[] | undefined): number {
  if (headers === undefined) return 1
  let size = unsignedVarintSize(headers.length * 2)
  for (const header of headers) {
    const keyBytes = Buffer.byteLength(header.key, 'utf8')
    size += varintSize(keyBytes) + keyBytes
    size += header.value === null ? 1 : varintSize(header.value.length) + header.value.length
  }
  return size
}

function recordBodySize(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  const key = record.key
  const value = record.value
  return (
    1 +
    varintSize(timestampDelta) +
    varintSize(offsetDelta) +
    (key === null ? 1 : varintSize(key.length) + key.length) +
    (value === null ? 1 : varintSize(value.length) + value.length) +
    headersSize(record.headers)
  )
}

/** The widest a timestamp delta (a varlong) takes; 1 byte when every record of a batch takes the encoder's clock. */
export const TIMESTAMP_DELTA_BYTES_MAX = 10

/**
 * The most bytes `record` takes in an uncompressed batch as its record `offsetDelta`: what a
 * producer filling a batch up to a size limit must count. Its timestamp delta is 0 (one byte)
 * when no record of the batch has a timestamp of its own (all take the encoder's one clock
 * reading), and at most TIMESTAMP_DELTA_BYTES_MAX otherwise.
 */
export function recordBytesBound(record: RecordInput, offsetDelta: number, explicitTimestamps: boolean): number {
  const key = record.key
  const value = record.value
  const body =
    1 +
    (explicitTimestamps ? TIMESTAMP_DELTA_BYTES_MAX : 1) +
    varintSize(offsetDelta) +
    (key === null ? 1 : varintSize(key.length) + key.length) +
    (value === null ? 1 : varintSize(value.length) + value.length) +
    headersSize(record.headers)
  return varintSize(body) + body
}

function writeNullableBytes(buffer: Buffer, bytes: Buffer | null, position: number): number {
  if (bytes === null) {
    buffer[position] = 1 // zigzag(-1)
    return position + 1
  }
  position = writeVarint(buffer, bytes.length, position)
  bytes.copy(buffer, position)
  return position + bytes.length
}

function writeHeaders(buffer: Buffer, headers: RecordHeader[] | undefined, position: number): number {
  if (headers === undefined) {
    buffer[position] = 0
    return position + 1
  }
  position = writeVarint(buffer, headers.length, position)
  for (const header of headers) {
    const keyBytes = Buffer.byteLength(header.key, 'utf8')
    position = writeVarint(buffer, keyBytes, position)
    position += buffer.write(header.key, position, keyBytes, 'utf8')
    position = writeNullableBytes(buffer, header.value, position)
  }
  return position
}

interface TimestampSpan {
  baseTimestamp: number
  maxTimestamp: number
}

function timestampSpan(records: RecordInput[], nowMs: number): TimestampSpan {
  const baseTimestamp = records[0].timestamp ?? nowMs
  let maxTimestamp = baseTimestamp
  for (let index = 1; index < records.length; index++) {
    const timestamp = records[index].timestamp ?? nowMs
    if (timestamp > maxTimestamp) maxTimestamp = timestamp
  }
  return {baseTimestamp, maxTimestamp}
}

function recordsSize(records: RecordInput[], baseTimestamp: number, nowMs: number): number {
  let size = 0
  for (let index = 0; index < records.length; index++) {
    const record = records[index]
    const body = recordBodySize(record, (record.timestamp ?? nowMs) - baseTimestamp, index)
    size += unsignedVarintSize(body * 2) + body
  }
  return size
}

function writeRecords(buffer: Buffer, records: RecordInput[], baseTimestamp: number, nowMs: number, position: number): number {
  for (let index = 0; index < records.length; index++) {
    const record = records[index]
    const timestampDelta = (record.timestamp ?? nowMs) - baseTimestamp
    position = writeVarint(buffer, recordBodySize(record, timestampDelta, index), position)
    buffer[position++] = 0 // record attributes: unused in v2
    position = writeVarint(buffer, timestampDelta, position)
    position = writeVarint(buffer, index, position)
    position = writeNullableBytes(buffer, record.key, position)
    position = writeNullableBytes(buffer, record.value, position)
    position = writeHeaders(buffer, record.headers, position)
  }
  return position
}

function writeHeaderFields(buffer: Buffer, records: RecordInput[], span: TimestampSpan, options: EncodeOptions, codecId: number): void {
  writeInt64(buffer, options.baseOffset ?? 0, OFFSET_BASE)
  buffer.writeInt32BE(buffer.length - BATCH_LENGTH_PREFIX_BYTES, OFFSET_LENGTH)
  buffer.writeInt32BE(options.partitionLeaderEpoch ?? -1, OFFSET_LEADER_EPOCH)
  buffer.writeInt8(MAGIC_V2, OFFSET_MAGIC)
  buffer.writeInt16BE(codecId, OFFSET_ATTRIBUTES)
  buffer.writeInt32BE(records.length - 1, OFFSET_LAST_OFFSET_DELTA)
  writeInt64(buffer, span.baseTimestamp, OFFSET_BASE_TIMESTAMP)
  writeInt64(buffer, span.maxTimestamp, OFFSET_MAX_TIMESTAMP)
  writeInt64(buffer, options.producerId ?? -1, OFFSET_PRODUCER_ID)
  buffer.writeInt16BE(options.producerEpoch ?? -1, OFFSET_PRODUCER_EPOCH)
  buffer.writeInt32BE(options.baseSequence ?? -1, OFFSET_BASE_SEQUENCE)
  buffer.writeInt32BE(records.length, OFFSET_RECORD_COUNT)
  buffer.writeUInt32BE(crc32c(buffer.subarray(OFFSET_ATTRIBUTES)) >>> 0, OFFSET_CRC)
}

/** Encodes one batch of at least one record. Timestamps default to `nowMs` (default: the clock). */
export function encodeRecordBatch(records: RecordInput[], options: EncodeOptions = {}): Buffer {
  if (records.length === 0) throw new LignumError('INVALID_ARGUMENT', 'a record batch needs at least one record; send one or more records')
  assert(records.length <= RECORD_COUNT_MAX, `a batch holds at most ${RECORD_COUNT_MAX} records`)
  const nowMs = options.nowMs ?? Date.now()
  const span = timestampSpan(records, nowMs)
  const codec = options.compression ?? 'none'
  const recordsBytes = recordsSize(records, span.baseTimestamp, nowMs)
  const allocate = options.allocate ?? Buffer.allocUnsafe
  if (codec === 'none') {
    const buffer = allocate(BATCH_HEADER_BYTES + recordsBytes)
    const end = writeRecords(buffer, records, span.baseTimestamp, nowMs, BATCH_HEADER_BYTES)
    assert(end === buffer.length, `encoded ${end} bytes where ${buffer.length} were computed`)
    writeHeaderFields(buffer, records, span, options, CODEC_IDS.none)
    return buffer
  }
  const plain = Buffer.allocUnsafe(recordsBytes)
  const end = writeRecords(plain, records, span.baseTimestamp, nowMs, 0)
  assert(end === plain.length, `encoded ${end} bytes where ${plain.length} were computed`)
  const compressed = compress(codec, plain)
  const buffer = allocate(BATCH_HEADER_BYTES + compressed.length)
  compressed.copy(buffer, BATCH_HEADER_BYTES)
  writeHeaderFields(buffer, records, span, options, CODEC_IDS[codec])
  return buffer
}

// ---- decode ----

function readRecordHeaders(cursor: RecordCursor): RecordHeader[] {
  const count = cursor.varint()
  if (count < 0 || count > cursor.end - cursor.position) cursor.fail(`a header count of ${count} is impossible`)
  const headers: RecordHeader[] = []
  for (let index = 0; index < count; index++) {
    const key = cursor.bytes(cursor.varint())
    if (key === null) cursor.fail('a header key is null')
    headers.push({key: key.toString('utf8'), value: cursor.bytes(cursor.varint())})
  }
  return headers
}

function readRecord(cursor: RecordCursor, header: BatchHeader): LogRecord {
  const length = cursor.varint()
  if (length < 0 || cursor.position + length > cursor.end) cursor.fail(`a record of ${length} bytes does not fit`)
  const end = cursor.position + length
  cursor.int8()
  const timestamp = header.baseTimestamp + cursor.varint()
  const offset = header.baseOffset + cursor.varint()
  const key = cursor.bytes(cursor.varint())
  const value = cursor.bytes(cursor.varint())
  const headers = readRecordHeaders(cursor)
  if (cursor.position !== end) cursor.fail(`a record's length says ${length} bytes but its fields take ${length + cursor.position - end}`)
  return {offset, timestamp, key, value, headers}
}

/** The header and the (decompressed) record bytes of a whole batch whose CRC holds. */
function checkedRecordData(buffer: Buffer, position: number): {header: BatchHeader; data: Buffer} {
  const header = readBatchHeader(buffer, position)
  if (position + header.sizeBytes > buffer.length) {
    throw new LignumError('CORRUPT_RECORD', `record batch at offset ${header.baseOffset} is cut short: ${buffer.length - position} of ${header.sizeBytes} bytes`)
  }
  if (!isBatchCrcValid(buffer, position)) {
    throw new LignumError('CORRUPT_RECORD', `record batch at offset ${header.baseOffset} fails its CRC-32C check; the data is damaged`)
  }
  const data = buffer.subarray(position + BATCH_HEADER_BYTES, position + header.sizeBytes)
  return {header, data: decompress(header.compression, data, DECOMPRESSED_BYTES_MAX, `at offset ${header.baseOffset}`)}
}

/** Decodes one whole batch; CORRUPT_RECORD if it is cut short, fails its CRC or is malformed. */
export function decodeRecordBatch(buffer: Buffer, position = 0): {header: BatchHeader; records: LogRecord[]} {
  const {header, data} = checkedRecordData(buffer, position)
  const cursor = new RecordCursor(data, 0, data.length)
  const records: LogRecord[] = []
  for (let index = 0; index < header.recordCount; index++) records.push(readRecord(cursor, header))
  if (cursor.position !== cursor.end) cursor.fail(`${cursor.end - cursor.position} bytes follow the last record`)
  return {header, records}
}

// ---- layout: where the records are, without an object per record ----

/**
 * Where each record of one batch lies, found in one pass that creates no object per record:
 * for readers that need only offsets and values (printing values is the hot path of consume),
 * and that decode whole records only when asked (decodeRecordsAt). Record i's value is
 * data[valueStarts[i], valueStarts[i] + valueLengths[i]), or null when its length is -1.
 */
export interface BatchLayout {
  header: BatchHeader
  /** The record bytes: a view into the batch, or its decompressed records. */
  data: Buffer
  count: number
  offsetDeltas: Int32Array
  recordStarts: Int32Array
  valueStarts: Int32Array
  valueLengths: Int32Array
}

function skipRecordHeaders(cursor: RecordCursor): void {
  const count = cursor.varint()
  if (count < 0 || count > cursor.end - cursor.position) cursor.fail(`a header count of ${count} is impossible`)
  for (let index = 0; index < count; index++) {
    const keyLength = cursor.varint()
    if (keyLength === -1) cursor.fail('a header key is null')
    cursor.skip(keyLength)
    cursor.skip(cursor.varint())
  }
}

/** Fills entry `index` of the layout from the record at the cursor, checking it as readRecord does. */
function scanRecord(cursor: RecordCursor, layout: BatchLayout, index: number): void {
  layout.recordStarts[index] = cursor.position
  const length = cursor.varint()
  if (length < 0 || cursor.position + length > cursor.end) cursor.fail(`a record of ${length} bytes does not fit`)
  const end = cursor.position + length
  cursor.int8()
  cursor.varint()
  layout.offsetDeltas[index] = cursor.varint()
  cursor.skip(cursor.varint())
  const valueLength = cursor.varint()
  layout.valueStarts[index] = cursor.position
  layout.valueLengths[index] = valueLength
  cursor.skip(valueLength)
  skipRecordHeaders(cursor)
  if (cursor.position !== end) cursor.fail(`a record's length says ${length} bytes but its fields take ${length + cursor.position - end}`)
}

/** The layout of one whole batch, with the same checks (and errors) as decodeRecordBatch. */
export function scanRecordBatch(buffer: Buffer, position = 0): BatchLayout {
  const {header, data} = checkedRecordData(buffer, position)
  const count = header.recordCount
  if (count > data.length) throw new LignumError('CORRUPT_RECORD', `record batch at offset ${header.baseOffset} claims ${count} records in ${data.length} bytes`)
  const layout: BatchLayout = {
    header, data, count,
    offsetDeltas: new Int32Array(count),
    recordStarts: new Int32Array(count),
    valueStarts: new Int32Array(count),
    valueLengths: new Int32Array(count),
  }
  const cursor = new RecordCursor(data, 0, data.length)
  for (let index = 0; index < count; index++) scanRecord(cursor, layout, index)
  if (cursor.position !== cursor.end) cursor.fail(`${cursor.end - cursor.position} bytes follow the last record`)
  return layout
}

/** Records [first, first + count) of a scanned batch, decoded as decodeRecordBatch would (one cursor for all). */
export function decodeRecordsAt(layout: BatchLayout, first: number, count: number): LogRecord[] {
  const records: LogRecord[] = []
  if (count === 0) return records
  const cursor = new RecordCursor(layout.data, layout.recordStarts[first], layout.data.length)
  for (let index = 0; index < count; index++) records.push(readRecord(cursor, layout.header))
  return records
}
