/**
 * The sparse time index of one segment (`<base>.timeindex`), as Kafka lays it out:
 *
 *   entry (12 bytes, big-endian):  timestamp int64 | relativeOffset int32
 *
 * An entry says: every record up to and including this offset has a timestamp at or below
 * `timestamp` (the segment's running maximum). Entries are added beside offset-index entries,
 * only when the running maximum grows, so both columns strictly increase.
 * A lookup for time t finds the last entry with timestamp < t: every record up to its
 * offset is older than t, so the first record at or after t lies past it.
 */
import {assert} from './assert.js'
import {IndexFile} from './index-file.js'

export const TIME_INDEX_ENTRY_BYTES = 12

const TWO_POW_32 = 0x1_0000_0000

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

  /** Adds (timestamp, offset) if the timestamp is a new maximum; a no-op otherwise. */
  maybeAppend(timestamp: number, offset: number): void {
    const last = this.last
    if (last !== null && (timestamp <= last.timestamp || offset <= last.offset)) return
    const relative = offset - this.baseOffset
    assert(relative >= 0 && relative <= 0x7fff_ffff, `time index offset ${offset} is not within int32 of base ${this.baseOffset}`)
    const slot = this.file.appendSlot()
    const high = Math.floor(timestamp / TWO_POW_32)
    this.file.view.writeInt32BE(high, slot)
    this.file.view.writeUInt32BE(timestamp - high * TWO_POW_32, slot + 4)
    this.file.view.writeInt32BE(relative, slot + 8)
  }

  /** The offset after which the first record with timestamp >= t lies, or null to start at the segment's base. */
  lastOffsetBefore(timestamp: number): number | null {
    let low = 0
    let high = this.count - 1
    let found = -1
    while (low <= high) {
      const middle = (low + high) >>> 1
      if (this.entry(middle).timestamp < timestamp) {
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
