/**
 * One segment: an append-only `.log` of whole record batches plus its sparse `.index` and
 * `.timeindex`, all named by the 20-digit zero-padded base offset, as Kafka names them.
 *
 * Invariants: the `.log` holds whole batches with dense offsets from `baseOffset` to
 * `nextOffset - 1` in its first `sizeBytes` bytes; the indexes are derived from it and are
 * rebuilt from a header scan whenever the segment is opened, so a missing, stale or damaged
 * index file is repaired (and, if the log is writable, rewritten) instead of trusted.
 * Positions are 32-bit in the index, so a segment never grows past SEGMENT_BYTES_MAX.
 * The `.log` handle comes from the process-wide cache in segment-handles.ts: the active segment
 * keeps it open, others open on demand. State changes only after a write succeeded; a write
 * that fails is cut back from the file before anything else is appended. Truncation cuts the
 * indexes from their own entries and replays only the batches after the last entry kept.
 *
 * The indexes follow Kafka's LogSegment byte for byte, so Kafka's tools accept them and a
 * Kafka broker could adopt them: an entry goes in before the first batch that starts more than
 * `indexIntervalBytes` after the last entry, and a sealed segment (rolled, closed, or rebuilt
 * from its files, as Kafka's onBecomeInactiveSegment, close and recover do) ends its time index
 * with its largest timestamp. Appending to a sealed segment (the active one after a reopen)
 * first takes that closing entry back off, so the entries in memory are always exactly what a
 * rebuild from the log would give, and a clean reopen finds the files as it would write them.
 *
 * Every batch is CRC-checked before it is served: by the open's CRC scan, by the append that
 * wrote it, or, for a segment opened below the recovery point (headers scanned only), by the
 * first read that returns it; a read never returns a batch that fails its CRC.
 */
import path from 'node:path'
import {assert} from '../assert.js'
import {scanBatches, type ScanFault} from './batch-scanner.js'
import {CrcCheckedRanges} from './crc-checked-ranges.js'
import {fileSystem, type LogFileHandle} from './file-system.js'
import {OffsetIndex} from './offset-index.js'
import {nodeOpenFile, SegmentHandle, type OpenFile} from './segment-handles.js'
import {borrowWithHeadroom} from '../format/headroom.js'
import {BATCH_HEADER_BYTES, batchPositions, decodeRecordBatch, isBatchCrcValid, readBatchHeader, type BatchHeader} from '../format/record-batch.js'
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
  openFile?: OpenFile
}

export interface SegmentOpenResult {
  segment: Segment
  /** Where the first bad batch starts, if any; the segment's state ends before it. */
  fault: ScanFault | null
  /** The file's length, which is past `segment.sizeBytes` when there is a fault. */
  fileBytes: number
  indexesRepaired: boolean
}

export interface SegmentReadResult {
  batches: Buffer
  nextOffset: number
  /** The batch at the read position fails its CRC: nothing is returned, this says where and why. */
  fault?: ScanFault
}

export class Segment {
  sizeBytes = 0
  nextOffset: number
  batchCount = 0
  firstTimestamp = -1
  lastTimestamp = -1
  maxTimestamp = -1
  /** The last offset of the first batch that carried `maxTimestamp` (Kafka's shallowOffsetOfMaxTimestampSoFar). */
  offsetOfMaxTimestamp = -1
  /** When the segment started, for rolling by segmentMs. */
  createdMs: number
  offsetIndex: OffsetIndex
  timeIndex: TimeIndex
  private bytesSinceIndexEntry = 0
  private firstBatchMaxTimestamp = -1
  /** Per offset-index entry, how many batches came before the one it points at (for truncation). */
  private batchCountAtEntry: number[] = []
  /** A failed write left bytes past sizeBytes that could not be cut at once. */
  private cutBackPending = false
  /** The time index ends with the entry `seal` added, not with one the interval rule added. */
  private closingTimeEntry = false
  private closed = false
  readonly file: SegmentHandle
  /** Where reads must still check CRCs: null when every byte was checked (open scan or append). */
  private crcChecked: CrcCheckedRanges | null = null
  /**
   * Where the last read ended: the batch a consumer reading on asks for next. A read from
   * there skips the lookup (an index search and a read of the file) and checks that the batch
   * it finds starts at that offset. Forgotten when the segment is cut (truncations counts the
   * cuts, so a read that was under way across one leaves no stale position behind).
   */
  private continuation: {offset: number; position: number} | null = null
  private truncations = 0

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    handle: LogFileHandle,
    openFile: OpenFile,
    private readonly indexIntervalBytes: number,
    readonly readOnly: boolean,
    nowMs: number,
  ) {
    this.file = new SegmentHandle(path.join(dir, segmentFileName(baseOffset, '.log')), readOnly ? 'r' : 'r+', openFile, handle)
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

  /**
   * A new, empty, active segment. A failure (the file exists, a full disk) leaves no file of its
   * own behind, so that a retry can create it again.
   */
  static async create(dir: string, baseOffset: number, indexIntervalBytes: number, nowMs: number, openFile: OpenFile = nodeOpenFile): Promise<Segment> {
    const handle = await openFile(path.join(dir, segmentFileName(baseOffset, '.log')), 'wx+')
    const segment = new Segment(dir, baseOffset, handle, openFile, indexIntervalBytes, false, nowMs)
    const created: string[] = [segment.logPath]
    try {
      if (await createEmptyIfMissing(segment.indexPath)) created.push(segment.indexPath)
      if (await createEmptyIfMissing(segment.timeIndexPath)) created.push(segment.timeIndexPath)
    } catch (error) {
      await segment.closeHandle().catch(() => {})
      for (const file of created) await fileSystem().unlink(file).catch(() => {})
      throw error
    }
    return segment
  }

  static async open(dir: string, baseOffset: number, options: SegmentOpenOptions): Promise<SegmentOpenResult> {
    const logPath = path.join(dir, segmentFileName(baseOffset, '.log'))
    const openFile = options.openFile ?? nodeOpenFile
    const handle = await openFile(logPath, options.readOnly ? 'r' : 'r+')
    const segment = new Segment(dir, baseOffset, handle, openFile, options.indexIntervalBytes, options.readOnly, options.nowMs)
    try {
      const fileBytes = (await handle.stat()).size
      let fault = segment.scan(handle, fileBytes, false)
      if (fault !== null || segment.nextOffset > options.crcFromOffset) fault = segment.scan(handle, fileBytes, true)
      else segment.crcChecked = new CrcCheckedRanges()
      if (segment.batchCount > 0) segment.createdMs = Math.min(segment.firstBatchMaxTimestamp, options.nowMs)
      const offsetSame = segment.offsetIndex.adoptFile(await readFileOrNull(segment.indexPath))
      const timeSame = segment.timeIndex.adoptFile(await readFileOrNull(segment.timeIndexPath))
      return {segment, fault, fileBytes, indexesRepaired: !(offsetSame && timeSame)}
    } catch (error) {
      await segment.closeHandle()
      throw error
    }
  }

  /** The active segment keeps its handle open; others give theirs to the cache. */
  activate(): Promise<void> {
    return this.file.keepOpen()
  }

  deactivate(): void {
    this.file.releasePermanent()
  }

  /** Rebuilds every derived field from the file's batches; returns the first fault. */
  private scan(handle: LogFileHandle, fileBytes: number, verifyCrc: boolean): ScanFault | null {
    this.resetDerivedState()
    const result = scanBatches({
      fd: handle.fd,
      startPosition: 0,
      endPosition: fileBytes,
      expectedOffset: this.baseOffset,
      verifyCrc,
      onBatch: (header, position) => this.observeBatch(header, position),
    })
    assert(result.endPosition === this.sizeBytes, 'the scan ends where the observed batches end')
    // Kafka's recover ends the time index as a clean close does; a rebuild gives the same bytes.
    this.seal()
    return result.fault
  }

  private resetDerivedState(): void {
    this.sizeBytes = 0
    this.nextOffset = this.baseOffset
    this.batchCount = 0
    this.firstTimestamp = -1
    this.lastTimestamp = -1
    this.maxTimestamp = -1
    this.offsetOfMaxTimestamp = -1
    this.bytesSinceIndexEntry = 0
    this.firstBatchMaxTimestamp = -1
    this.batchCountAtEntry = []
    this.closingTimeEntry = false
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
    if (header.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = header.maxTimestamp
      this.offsetOfMaxTimestamp = header.lastOffset
    }
    if (this.bytesSinceIndexEntry > this.indexIntervalBytes) {
      this.batchCountAtEntry.push(this.batchCount)
      this.offsetIndex.append(header.lastOffset, position)
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp)
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
   * segment takes one append of any size, larger than segmentBytes too (Kafka rolls, then appends).
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
    const handle = await this.file.acquire()
    // Nothing half-written may stay behind the end: the next append would follow garbage.
    if (this.cutBackPending) {
      await handle.truncate(start)
      this.cutBackPending = false
    }
    try {
      await writeAll(handle, buffers, start)
    } catch (error) {
      try {
        await handle.truncate(start)
      } catch {
        this.cutBackPending = true
      }
      throw error
    }
    if (this.closingTimeEntry) {
      this.timeIndex.removeLast()
      this.closingTimeEntry = false
    }
    for (const {position, header} of headers) this.observeBatch(header, start + position)
    // The appender checked these CRCs before handing them over.
    this.crcChecked?.add(start, start + bytes)
  }

  /**
   * Ends the time index with the segment's largest timestamp, as Kafka does when a segment is
   * rolled or closed (its broker then reads the segment's largest timestamp from there, for
   * retention and ListOffsets). A no-op if the last entry already holds it.
   */
  seal(): void {
    if (this.batchCount === 0 || this.closingTimeEntry) return
    this.closingTimeEntry = this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp)
  }

  /** The position and header of the batch holding `offset`, or null if none here holds it. */
  async findBatch(offset: number): Promise<{position: number; header: BatchHeader} | null> {
    if (offset < this.baseOffset || offset >= this.nextOffset) return null
    let position = this.offsetIndex.lookup(offset).position
    const limit = this.sizeBytes
    const window = Buffer.allocUnsafe(LOOKUP_WINDOW_BYTES)
    this.file.pin()
    try {
      const handle = await this.file.acquire()
      while (position < limit) {
        const length = Math.min(window.length, limit - position)
        const {bytesRead} = await handle.read(window, 0, length, position)
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
    } finally {
      this.file.unpin()
    }
  }

  /** readBatches from the batch holding `offset`; null when this segment has no batch for it. */
  async readBatchesFrom(offset: number, maxBytes: number, upToOffset: number): Promise<SegmentReadResult | null> {
    const hint = this.continuation
    if (hint !== null && hint.offset === offset && hint.position < this.sizeBytes) {
      const result = await this.readBatches(hint.position, maxBytes, upToOffset)
      if (startsAt(result, offset)) return result
    }
    const found = await this.findBatch(offset)
    if (found === null) return null
    return this.readBatches(found.position, maxBytes, upToOffset)
  }

  /**
   * Whole batches from `position`: at least one, then as many as fit in `maxBytes`, only those
   * whose last offset is below `upToOffset`. Batches not yet CRC-checked are checked here; the
   * read ends before one that fails, and a read that starts at one returns its fault instead.
   */
  async readBatches(position: number, maxBytes: number, upToOffset: number): Promise<SegmentReadResult> {
    const truncations = this.truncations
    const limit = this.sizeBytes
    if (position >= limit) return {batches: Buffer.alloc(0), nextOffset: this.nextOffset}
    // Reads for fetches keep room in front, for the server to frame them without a copy.
    let buffer = await this.readAt(position, Math.min(Math.max(maxBytes, BATCH_HEADER_BYTES), limit - position), borrowWithHeadroom)
    const first = readBatchHeader(buffer, 0)
    if (first.lastOffset >= upToOffset) return {batches: Buffer.alloc(0), nextOffset: first.baseOffset}
    if (first.sizeBytes > buffer.length) buffer = await this.readAt(position, first.sizeBytes, borrowWithHeadroom)
    const checkCrc = this.crcChecked !== null && !this.crcChecked.covers(position, position + buffer.length)
    let end = 0
    let nextOffset = first.baseOffset
    for (const {position: at, header} of batchPositions(buffer)) {
      if (header.lastOffset >= upToOffset) break
      if (checkCrc && !isBatchCrcValid(buffer, at)) {
        if (end > 0) break
        return {batches: Buffer.alloc(0), nextOffset, fault: {position: position + at, offset: header.baseOffset, reason: `batch at offset ${header.baseOffset} fails its CRC-32C check`}}
      }
      end = at + header.sizeBytes
      nextOffset = header.lastOffset + 1
    }
    if (checkCrc) this.crcChecked?.add(position, position + end)
    if (end > 0 && truncations === this.truncations) this.continuation = {offset: nextOffset, position: position + end}
    return {batches: buffer.subarray(0, end), nextOffset}
  }

  /** One read of up to `length` bytes at `position` into `window`, holding the handle for it. */
  private async readWindow(window: Buffer, length: number, position: number): Promise<{bytesRead: number}> {
    this.file.pin()
    try {
      const handle = await this.file.acquire()
      return await handle.read(window, 0, length, position)
    } finally {
      this.file.unpin()
    }
  }

  private async readAt(position: number, length: number, allocate: (length: number) => Buffer = Buffer.allocUnsafe): Promise<Buffer> {
    const buffer = allocate(length)
    this.file.pin()
    try {
      const handle = await this.file.acquire()
      let done = 0
      while (done < length) {
        const {bytesRead} = await handle.read(buffer, done, length - done, position + done)
        assert(bytesRead > 0, `segment ${this.logPath} readable from ${position} for ${length} bytes`)
        done += bytesRead
      }
      return buffer
    } finally {
      this.file.unpin()
    }
  }

  /**
   * The first offset here whose record timestamp is >= timestampMs, or null: Kafka's
   * findOffsetByTimestamp. The time index's floor entry (T <= t, o) says no record before o's
   * batch reaches t, so the scan starts at the offset index's position for o and takes the
   * first batch whose maxTimestamp reaches t, then its first record that does.
   */
  async offsetForTimestamp(timestampMs: number): Promise<number | null> {
    if (this.batchCount === 0 || this.maxTimestamp < timestampMs) return null
    const floor = this.timeIndex.floorOffset(timestampMs)
    const start = this.offsetIndex.lookup(floor ?? this.baseOffset).position
    for await (const {position, header} of this.batchHeadersFrom(start)) {
      if (header.maxTimestamp < timestampMs) continue
      const {records} = decodeRecordBatch(await this.readAt(position, header.sizeBytes))
      const record = records.find((candidate) => candidate.timestamp >= timestampMs)
      if (record) return record.offset
    }
    return null
  }

  /** The batch headers from `position` (a batch start) to the end, read through one window. */
  private async *batchHeadersFrom(position: number): AsyncGenerator<{position: number; header: BatchHeader}> {
    const limit = this.sizeBytes
    const window = Buffer.allocUnsafe(LOOKUP_WINDOW_BYTES)
    while (position < limit) {
      const {bytesRead} = await this.readWindow(window, Math.min(window.length, limit - position), position)
      let at = 0
      while (at + BATCH_HEADER_BYTES <= bytesRead && position + at < limit) {
        const header = readBatchHeader(window, at)
        yield {position: position + at, header}
        at += header.sizeBytes
      }
      assert(at > 0, `segment ${this.logPath} holds a whole batch header at ${position}`)
      position += at
    }
  }

  /**
   * Cuts the log at `position`, a batch boundary (the file's length after recovery, or where a
   * batch starts). The indexes are cut from their own entries; the derived state is restored
   * from the last offset-index entry kept and the batches after it (at most about one index
   * interval), never from a scan of the whole segment.
   */
  async truncateToPosition(position: number): Promise<void> {
    assert(!this.readOnly, 'truncate a writable segment')
    assert(position >= 0 && position <= this.sizeBytes, `truncation position ${position} within ${this.sizeBytes}`)
    this.truncations++
    this.continuation = null
    await this.file.use(async (handle) => {
      await handle.truncate(position)
      this.cutBackPending = false
      this.crcChecked?.truncate(position)
      this.offsetIndex.truncateToPosition(position)
      const kept = this.offsetIndex.count
      if (kept === 0) {
        const fault = this.scan(handle, position, false)
        assert(fault === null, `segment ${this.logPath} is whole up to ${position} after truncation`)
        return
      }
      this.restoreFromIndexEntry(handle, kept - 1, position)
    })
  }

  /** State through the batch that index entry `entry` points at, then the batches up to `endPosition`. */
  private restoreFromIndexEntry(handle: LogFileHandle, entry: number, endPosition: number): void {
    const {offset: entryLastOffset, position: entryPosition} = this.offsetIndex.entry(entry)
    this.timeIndex.truncateToOffset(entryLastOffset + 1)
    this.batchCountAtEntry.length = entry + 1
    // Time-index entries hold the running maximum at index entries: the last one kept is the
    // maximum through the entry's batch.
    this.maxTimestamp = this.timeIndex.last?.timestamp ?? -1
    this.offsetOfMaxTimestamp = this.timeIndex.last?.offset ?? -1
    // A closing entry has an offset past the kept entry's batch, so truncateToOffset took it off.
    this.closingTimeEntry = false
    this.batchCount = this.batchCountAtEntry[entry]
    let first = true
    const result = scanBatches({
      fd: handle.fd,
      startPosition: entryPosition,
      endPosition,
      expectedOffset: null,
      verifyCrc: false,
      onBatch: (header, position) => {
        if (!first) return this.observeBatch(header, position)
        first = false
        assert(header.lastOffset === entryLastOffset, `index entry ${entry} of ${this.logPath} points at the batch ending at ${entryLastOffset}`)
        this.batchCount++
        this.bytesSinceIndexEntry = header.sizeBytes
        this.lastTimestamp = header.maxTimestamp
        this.sizeBytes = position + header.sizeBytes
        this.nextOffset = header.lastOffset + 1
      },
    })
    assert(result.fault === null && result.endPosition === endPosition && this.sizeBytes === endPosition, `segment ${this.logPath} is whole up to ${endPosition} after truncation`)
  }

  async flush(sync: boolean): Promise<void> {
    if (this.readOnly || this.closed) return
    if (sync) await this.datasyncLog()
    await this.offsetIndex.flush(sync)
    await this.timeIndex.flush(sync)
  }

  async datasyncLog(): Promise<void> {
    if (this.readOnly || this.closed) return
    await this.file.use((handle) => handle.datasync())
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.seal()
    if (!this.readOnly) {
      await this.offsetIndex.flush(false)
      await this.timeIndex.flush(false)
    }
    this.closed = true
    await this.file.close()
  }

  /**
   * Removes the files. Reads in flight (pinned) keep the handle and finish on the unlinked
   * file; it closes when the last of them is done.
   */
  async unlinkFiles(): Promise<void> {
    assert(!this.readOnly, 'delete files of a writable segment')
    await this.file.retire()
    this.closed = true
    for (const file of [this.logPath, this.indexPath, this.timeIndexPath]) await fileSystem().unlink(file).catch(ignoreMissing)
  }

  /** Closes without writing anything (the files are gone or about to be). */
  async closeHandle(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.file.close()
  }
}

/** A read from a remembered position found the batch holding `offset` first (or nothing yet below the limit). */
function startsAt(result: SegmentReadResult, offset: number): boolean {
  if (result.fault) return false
  if (result.batches.length === 0) return result.nextOffset === offset
  return readBatchHeader(result.batches, 0).baseOffset === offset
}

/** One write (or writev) call in the normal case; a short write continues where it stopped. */
async function writeAll(handle: LogFileHandle, buffers: Buffer[], position: number): Promise<void> {
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
    return await fileSystem().readFile(file)
  } catch {
    return null
  }
}

/** True if it created the file. */
async function createEmptyIfMissing(file: string): Promise<boolean> {
  try {
    await fileSystem().stat(file)
    return false
  } catch {
    await (await fileSystem().open(file, 'a')).close()
    return true
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error
}
