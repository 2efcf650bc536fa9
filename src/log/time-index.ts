/**
 * The sparse time index of one segment (`<base>.timeindex`), as Kafka lays it out:
 *
 *   entry (12 bytes, big-endian):  timestamp int64 | relativeOffset int32
 *
 * Kafka's rule (LogSegment's maxTimestampSoFar / shallowOffsetOfMaxTimestampSoFar): an entry
 * holds the largest timestamp seen so far in the segment and the LAST offset of the batch that
 * first carried it, so Kafka's own tools find that batch and check its timestamp. Entries are
 * added beside offset-index entries, and once more when the segment is sealed (rolled, closed,
 * rebuilt), only when that largest timestamp grows past the last entry's (an empty index
 * stands for -1, "no timestamp"): both columns strictly increase.
 * An entry (T, o) says every record up to and including offset o is at or below T, and, since
 * o's batch is the first to reach T, every record before that batch is below T. A lookup for
 * time t takes the last entry with timestamp <= t: the first record at or after t is in o's
 * batch or after it.
 */
import {assert} from '../assert.js'
import {IndexFile} from './index-file.js'

export const TIME_INDEX_ENTRY_BYTES = 12

const TWO_POW_32 = 0x1_0000_0000
/** Kafka's RecordBatch.NO_TIMESTAMP: what an empty index's last timestamp stands for. */
const NO_TIMESTAMP = -1

export interface TimeIndexEntry {
  timestamp: number
  offset: number
}

export class TimeIndex {
  private constructor(
    private readonly file: IndexFile,
    readonly baseOffset: number,
  ) {}

  static empty(path: string, baseOffset: number): TimeIndex {
    return new TimeIndex(new IndexFile(path, TIME_INDEX_ENTRY_BYTES), baseOffset)
  }

  /** After a rebuild from the log: true if the file already holds these entries. */
  adoptFile(fileBytes: Buffer | null): boolean {
    return this.file.adoptFileBytes(fileBytes)
  }

  get count(): number {
    return this.file.count
  }

  entry(entry: number): TimeIndexEntry {
    const view = this.file.view
    const at = entry * TIME_INDEX_ENTRY_BYTES
    return {
      timestamp: view.readInt32BE(at) * TWO_POW_32 + view.readUInt32BE(at + 4),
      offset: this.baseOffset + view.readInt32BE(at + 8),
    }
  }

  get last(): TimeIndexEntry | null {
    return this.count === 0 ? null : this.entry(this.count - 1)
  }

  /** Adds (timestamp, offset) if the timestamp is a new maximum, as Kafka's TimeIndex.maybeAppend does; returns whether it did. */
  maybeAppend(timestamp: number, offset: number): boolean {
    const last = this.last
    if (timestamp <= (last?.timestamp ?? NO_TIMESTAMP)) return false
    assert(last === null || offset > last.offset, `time index offset ${offset} of a new largest timestamp follows ${last?.offset}`)
    const relative = offset - this.baseOffset
    assert(relative >= 0 && relative <= 0x7fff_ffff, `time index offset ${offset} is not within int32 of base ${this.baseOffset}`)
    const slot = this.file.appendSlot()
    const high = Math.floor(timestamp / TWO_POW_32)
    this.file.view.writeInt32BE(high, slot)
    this.file.view.writeUInt32BE(timestamp - high * TWO_POW_32, slot + 4)
    this.file.view.writeInt32BE(relative, slot + 8)
    return true
  }

  /** Takes the last entry back off (the closing entry of a segment that is appended to again). */
  removeLast(): void {
    assert(this.count > 0, 'a time index entry to remove')
    this.file.truncateToCount(this.count - 1)
  }

  /**
   * Kafka's TimeIndex.lookup: the offset of the last entry at or below `timestamp` (no record
   * before that offset's batch reaches it), or null to start at the segment's base.
   */
  floorOffset(timestamp: number): number | null {
    let low = 0
    let high = this.count - 1
    let found = -1
    while (low <= high) {
      const middle = (low + high) >>> 1
      if (this.entry(middle).timestamp <= timestamp) {
        found = middle
        low = middle + 1
      } else {
        high = middle - 1
      }
    }
    return found < 0 ? null : this.entry(found).offset
  }

  /** Drops entries for offsets at or after `offset`. */
  truncateToOffset(offset: number): void {
    let keep = this.count
    while (keep > 0 && this.entry(keep - 1).offset >= offset) keep--
    this.file.truncateToCount(keep)
  }

  clear(): void {
    this.file.clear()
  }

  flush(sync: boolean): Promise<void> {
    return this.file.flush(sync)
  }
}
