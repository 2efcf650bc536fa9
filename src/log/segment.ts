/**
 * One segment: an append-only `.log` of whole record batches plus its sparse `.index` and
 * `.timeindex`, all named by the 20-digit zero-padded base offset, as Kafka names them.
 *
 * Invariants: the `.log` holds whole batches with dense offsets from `baseOffset` to
 * `nextOffset - 1` in its first `sizeBytes` bytes; the indexes are derived from it and are
 * rebuilt from a header scan whenever the segment is opened, so a missing, stale or damaged
 * index file is repaired (and, if the log is writable, rewritten) instead of trusted.
 * Positions are 32-bit in the index, so a segment never grows past SEGMENT_BYTES_MAX.
 */
import {open, readFile, stat, unlink, type FileHandle} from 'node:fs/promises'
import path from 'node:path'
import {assert} from './assert.js'
import {scanBatches, type ScanFault} from './batch-scanner.js'
import {OffsetIndex} from './offset-index.js'
import {borrowWithHeadroom} from './headroom.js'
import {BATCH_HEADER_BYTES, batchPositions, decodeRecordBatch, readBatchHeader, type BatchHeader} from './record-batch.js'
import {TimeIndex} from './time-index.js'

/** Index positions are int32: a segment must stay addressable by them. */
export const SEGMENT_BYTES_MAX = 0x7fff_ffff
/** Relative offsets are int32 in both indexes. */
export const SEGMENT_OFFSETS_MAX = 0x7fff_ffff
/** Reads that look for a batch header in the index interval read this much at once. */
const LOOKUP_WINDOW_BYTES = 8 * 1024
const OFFSET_DIGITS = 20

export function segmentFileName(baseOffset: number, suffix: '.log' | '.index' | '.timeindex'): string {
  return String(baseOffset).padStart(OFFSET_DIGITS, '0') + suffix
}

export function parseSegmentFileName(name: string): number | null {
  const match = /^(\d{20})\.log$/.exec(name)
  if (!match) return null
  const offset = Number(match[1])
  return Number.isSafeInteger(offset) ? offset : null
}

export interface SegmentOpenOptions {
  readOnly: boolean
  /** Batches are CRC-checked too when the segment holds offsets at or past this one (or a header is bad). */
  crcFromOffset: number
  indexIntervalBytes: number
  nowMs: number
}

export interface SegmentOpenResult {
  segment: Segment
  /** Where the first bad batch starts, if any; the segment's state ends before it. */
  fault: ScanFault | null
  /** The file's length, which is past `segment.sizeBytes` when there is a fault. */
  fileBytes: number
  indexesRepaired: boolean
}

export class Segment {
  sizeBytes = 0
  nextOffset: number
  batchCount = 0
  firstTimestamp = -1
  lastTimestamp = -1
  maxTimestamp = -1
  /** When the segment started, for rolling by segmentMs. */
  createdMs: number
  offsetIndex: OffsetIndex
  timeIndex: TimeIndex
  private bytesSinceIndexEntry = 0
  private firstBatchMaxTimestamp = -1
  private closed = false

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private readonly handle: FileHandle,
    private readonly indexIntervalBytes: number,
    readonly readOnly: boolean,
    nowMs: number,
  ) {
    this.nextOffset = baseOffset
    this.createdMs = nowMs
    this.offsetIndex = OffsetIndex.empty(this.indexPath, baseOffset)
    this.timeIndex = TimeIndex.empty(this.timeIndexPath, baseOffset)
  }

  get logPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, '.log'))
  }

  get indexPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, '.index'))
  }

  get timeIndexPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, '.timeindex'))
  }

  get lastOffset(): number {
    return this.batchCount === 0 ? -1 : this.nextOffset - 1
  }

  get recordCount(): number {
    return this.nextOffset - this.baseOffset
  }

  static async create(dir: string, baseOffset: number, indexIntervalBytes: number, nowMs: number): Promise<Segment> {
    const handle = await open(path.join(dir, segmentFileName(baseOffset, '.log')), 'wx+')
    const segment = new Segment(dir, baseOffset, handle, indexIntervalBytes, false, nowMs)
    await writeEmptyIfMissing(segment.indexPath)
    await writeEmptyIfMissing(segment.timeIndexPath)
    return segment
  }

  static async open(dir: string, baseOffset: number, options: SegmentOpenOptions): Promise<SegmentOpenResult> {
    const logPath = path.join(dir, segmentFileName(baseOffset, '.log'))
    const handle = await open(logPath, options.readOnly ? 'r' : 'r+')
    const segment = new Segment(dir, baseOffset, handle, options.indexIntervalBytes, options.readOnly, options.nowMs)
    try {
      const fileBytes = (await handle.stat()).size
      let fault = segment.scan(fileBytes, false)
      if (fault !== null || segment.nextOffset > options.crcFromOffset) fault = segment.scan(fileBytes, true)
      if (segment.batchCount > 0) segment.createdMs = Math.min(segment.firstBatchMaxTimestamp, options.nowMs)
      const offsetSame = segment.offsetIndex.adoptFile(await readFileOrNull(segment.indexPath))
      const timeSame = segment.timeIndex.adoptFile(await readFileOrNull(segment.timeIndexPath))
      return {segment, fault, fileBytes, indexesRepaired: !(offsetSame && timeSame)}
    } catch (error) {
      await segment.closeHandle()
      throw error
    }
  }

  /** Rebuilds every derived field from the file's batches; returns the first fault. */
  private scan(fileBytes: number, verifyCrc: boolean): ScanFault | null {
    this.resetDerivedState()
    const result = scanBatches({
      fd: this.handle.fd,
      startPosition: 0,
      endPosition: fileBytes,
      expectedOffset: this.baseOffset,
      verifyCrc,
      onBatch: (header, position) => this.observeBatch(header, position),
    })
    assert(result.endPosition === this.sizeBytes, 'the scan ends where the observed batches end')
    return result.fault
  }

  private resetDerivedState(): void {
    this.sizeBytes = 0
    this.nextOffset = this.baseOffset
    this.batchCount = 0
    this.firstTimestamp = -1
    this.lastTimestamp = -1
    this.maxTimestamp = -1
    this.bytesSinceIndexEntry = 0
    this.firstBatchMaxTimestamp = -1
    this.offsetIndex.clear()
    this.timeIndex.clear()
  }

  /** The one rule for indexes, applied on append and on rebuild alike, so both give the same bytes. */
  private observeBatch(header: BatchHeader, position: number): void {
    assert(position === this.sizeBytes, `batch at ${position} appended at the end (${this.sizeBytes})`)
    assert(header.baseOffset === this.nextOffset, `batch offset ${header.baseOffset} follows ${this.nextOffset}`)
    if (this.batchCount === 0) {
      this.firstTimestamp = header.baseTimestamp
      this.firstBatchMaxTimestamp = header.maxTimestamp
    }
    if (header.maxTimestamp > this.maxTimestamp) this.maxTimestamp = header.maxTimestamp
    if (this.bytesSinceIndexEntry > this.indexIntervalBytes) {
      this.offsetIndex.append(header.lastOffset, position)
      this.timeIndex.maybeAppend(this.maxTimestamp, header.lastOffset)
      this.bytesSinceIndexEntry = 0
    }
    this.bytesSinceIndexEntry += header.sizeBytes
    this.lastTimestamp = header.maxTimestamp
    this.batchCount++
    this.sizeBytes += header.sizeBytes
    this.nextOffset = header.lastOffset + 1
  }

  /**
   * Whether `batchesBytes` more bytes, ending at `lastOffset`, fit in this segment. An empty
   * segment takes one append of any size up to segmentBytes (validated by the caller).
   */
  fits(batchesBytes: number, lastOffset: number, segmentBytes: number): boolean {
    const offsetsFit = lastOffset - this.baseOffset <= SEGMENT_OFFSETS_MAX
    return offsetsFit && (this.sizeBytes === 0 || this.sizeBytes + batchesBytes <= segmentBytes)
  }

  /** Strictly within both limits: for adding appends after the first of a group. */
  within(batchesBytes: number, lastOffset: number, segmentBytes: number): boolean {
    return lastOffset - this.baseOffset <= SEGMENT_OFFSETS_MAX && this.sizeBytes + batchesBytes <= segmentBytes
  }

  /**
   * Writes already-validated batches (offsets assigned) at the end with one write call; the
   * header positions are relative to the start of `buffers` taken as one.
   */
  async append(buffers: Buffer[], headers: {position: number; header: BatchHeader}[]): Promise<void> {
    assert(!this.readOnly && !this.closed, 'append to a writable, open segment')
    const bytes = buffers.reduce((sum, buffer) => sum + buffer.length, 0)
    assert(this.sizeBytes + bytes <= SEGMENT_BYTES_MAX, 'segment stays below SEGMENT_BYTES_MAX')
    const start = this.sizeBytes
    try {
      await writeAll(this.handle, buffers, start)
    } catch (error) {
      // Nothing half-written may stay behind the end: the next append would follow garbage.
      await this.handle.truncate(start).catch(() => {})
      throw error
    }
    for (const {position, header} of headers) this.observeBatch(header, start + position)
  }

  /** The position and header of the batch holding `offset`, or null if none here holds it. */
  async findBatch(offset: number): Promise<{position: number; header: BatchHeader} | null> {
    if (offset < this.baseOffset || offset >= this.nextOffset) return null
    let position = this.offsetIndex.lookup(offset).position
    const limit = this.sizeBytes
    const window = Buffer.allocUnsafe(LOOKUP_WINDOW_BYTES)
    while (position < limit) {
      const length = Math.min(window.length, limit - position)
      const {bytesRead} = await this.handle.read(window, 0, length, position)
      let at = 0
      while (at + BATCH_HEADER_BYTES <= bytesRead) {
        const header = readBatchHeader(window, at)
        if (header.lastOffset >= offset) return {position: position + at, header}
        at += header.sizeBytes
      }
      assert(at > 0, `segment ${this.logPath} holds a whole batch header at ${position}`)
      position += at
    }
    return null
  }

  /**
   * Whole batches from `position`: at least one, then as many as fit in `maxBytes`, only those
   * whose last offset is below `upToOffset`.
   */
  async readBatches(position: number, maxBytes: number, upToOffset: number): Promise<{batches: Buffer; nextOffset: number}> {
    const limit = this.sizeBytes
    if (position >= limit) return {batches: Buffer.alloc(0), nextOffset: this.nextOffset}
    // Reads for fetches keep room in front, for the server to frame them without a copy.
    let buffer = await this.readAt(position, Math.min(Math.max(maxBytes, BATCH_HEADER_BYTES), limit - position), borrowWithHeadroom)
    const first = readBatchHeader(buffer, 0)
    if (first.lastOffset >= upToOffset) return {batches: Buffer.alloc(0), nextOffset: first.baseOffset}
    if (first.sizeBytes > buffer.length) buffer = await this.readAt(position, first.sizeBytes, borrowWithHeadroom)
    let end = 0
    let nextOffset = first.baseOffset
    for (const {position: at, header} of batchPositions(buffer)) {
      if (header.lastOffset >= upToOffset) break
      end = at + header.sizeBytes
      nextOffset = header.lastOffset + 1
    }
    return {batches: buffer.subarray(0, end), nextOffset}
  }

  private async readAt(position: number, length: number, allocate: (length: number) => Buffer = Buffer.allocUnsafe): Promise<Buffer> {
    const buffer = allocate(length)
    let done = 0
    while (done < length) {
      const {bytesRead} = await this.handle.read(buffer, done, length - done, position + done)
      assert(bytesRead > 0, `segment ${this.logPath} readable from ${position} for ${length} bytes`)
      done += bytesRead
    }
    return buffer
  }

  /** The first offset here whose record timestamp is >= timestampMs, or null. */
  async offsetForTimestamp(timestampMs: number): Promise<number | null> {
    if (this.batchCount === 0 || this.maxTimestamp < timestampMs) return null
    const before = this.timeIndex.lastOffsetBefore(timestampMs)
    let offset = before === null ? this.baseOffset : before + 1
    while (offset < this.nextOffset) {
      const found = await this.findBatch(offset)
      if (found === null) return null
      if (found.header.maxTimestamp >= timestampMs) {
        const {records} = decodeRecordBatch(await this.readAt(found.position, found.header.sizeBytes))
        const record = records.find((candidate) => candidate.offset >= offset && candidate.timestamp >= timestampMs)
        if (record) return record.offset
      }
      offset = found.header.lastOffset + 1
    }
    return null
  }

  /** Cuts the log at `position` (a batch boundary) and rebuilds the derived state. */
  async truncateToPosition(position: number): Promise<void> {
    assert(!this.readOnly, 'truncate a writable segment')
    assert(position >= 0 && position <= this.sizeBytes, `truncation position ${position} within ${this.sizeBytes}`)
    await this.handle.truncate(position)
    const fault = this.scan(position, false)
    assert(fault === null, `segment ${this.logPath} is whole up to ${position} after truncation`)
  }

  async flush(sync: boolean): Promise<void> {
    if (this.readOnly || this.closed) return
    if (sync) await this.handle.datasync()
    await this.offsetIndex.flush(sync)
    await this.timeIndex.flush(sync)
  }

  async datasyncLog(): Promise<void> {
    if (!this.readOnly && !this.closed) await this.handle.datasync()
  }

  async close(): Promise<void> {
    if (this.closed) return
    if (!this.readOnly) {
      await this.offsetIndex.flush(false)
      await this.timeIndex.flush(false)
    }
    this.closed = true
    await this.handle.close()
  }

  /** Removes the files; the handle stays open for reads in flight until `close`. */
  async unlinkFiles(): Promise<void> {
    assert(!this.readOnly, 'delete files of a writable segment')
    for (const file of [this.logPath, this.indexPath, this.timeIndexPath]) await unlink(file).catch(ignoreMissing)
  }

  /** Closes without writing anything (the files are gone or about to be). */
  async closeHandle(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.handle.close()
  }
}

/** One write (or writev) call in the normal case; a short write continues where it stopped. */
async function writeAll(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let remaining = buffers
  let at = position
  while (remaining.length > 0) {
    const {bytesWritten} = remaining.length === 1 ? await handle.write(remaining[0], 0, remaining[0].length, at) : await handle.writev(remaining, at)
    assert(bytesWritten > 0, 'a write makes progress')
    at += bytesWritten
    remaining = dropLeadingBytes(remaining, bytesWritten)
  }
}

function dropLeadingBytes(buffers: Buffer[], count: number): Buffer[] {
  let left = count
  let index = 0
  while (index < buffers.length && left >= buffers[index].length) left -= buffers[index++].length
  const rest = buffers.slice(index)
  if (left > 0) rest[0] = rest[0].subarray(left)
  return rest
}

async function readFileOrNull(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file)
  } catch {
    return null
  }
}

async function writeEmptyIfMissing(file: string): Promise<void> {
  try {
    await stat(file)
  } catch {
    await (await open(file, 'a')).close()
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error
}
