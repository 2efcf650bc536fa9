/**
 * The sparse offset index of one segment (`<base>.index`), as Kafka lays it out:
 *
 *   entry (8 bytes, big-endian):  relativeOffset int32 | position int32
 *
 * relativeOffset = (a batch's LAST offset) - segment base offset; position = the byte position
 * of that batch in the `.log`. One entry after every `indexIntervalBytes` of appended batches.
 * Invariant: both columns strictly increase. A lookup finds the last entry whose offset is at
 * or below the target: the batch holding the target starts at or after that position.
 */
import {assert} from '../assert.js'
import {IndexFile} from './index-file.js'

export const OFFSET_INDEX_ENTRY_BYTES = 8

export interface IndexPosition {
  offset: number
  position: number
}

export class OffsetIndex {
  private constructor(
    private readonly file: IndexFile,
    readonly baseOffset: number,
  ) {}

  static empty(path: string, baseOffset: number): OffsetIndex {
    return new OffsetIndex(new IndexFile(path, OFFSET_INDEX_ENTRY_BYTES), baseOffset)
  }

  /** After a rebuild from the log: true if the file already holds these entries. */
  adoptFile(fileBytes: Buffer | null): boolean {
    return this.file.adoptFileBytes(fileBytes)
  }

  get count(): number {
    return this.file.count
  }

  get path(): string {
    return this.file.path
  }

  relativeOffsetAt(entry: number): number {
    return this.file.view.readInt32BE(entry * OFFSET_INDEX_ENTRY_BYTES)
  }

  positionAt(entry: number): number {
    return this.file.view.readInt32BE(entry * OFFSET_INDEX_ENTRY_BYTES + 4)
  }

  entry(entry: number): IndexPosition {
    return {offset: this.baseOffset + this.relativeOffsetAt(entry), position: this.positionAt(entry)}
  }

  get last(): IndexPosition | null {
    return this.count === 0 ? null : this.entry(this.count - 1)
  }

  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset
    const last = this.last
    assert(relative >= 0 && relative <= 0x7fff_ffff, `index offset ${offset} is not within int32 of base ${this.baseOffset}`)
    assert(last === null || (offset > last.offset && position > last.position), `index entry (${offset}, ${position}) does not follow (${last?.offset}, ${last?.position})`)
    const slot = this.file.appendSlot()
    this.file.view.writeInt32BE(relative, slot)
    this.file.view.writeInt32BE(position, slot + 4)
  }

  /** Binary search: the last entry with offset <= target, or the segment start. */
  lookup(offset: number): IndexPosition {
    const relative = offset - this.baseOffset
    let low = 0
    let high = this.count - 1
    let found = -1
    while (low <= high) {
      const middle = (low + high) >>> 1
      if (this.relativeOffsetAt(middle) <= relative) {
        found = middle
        low = middle + 1
      } else {
        high = middle - 1
      }
    }
    return found < 0 ? {offset: this.baseOffset, position: 0} : this.entry(found)
  }

  /** Drops the entries for batches at or after `position` (a truncated log). */
  truncateToPosition(position: number): void {
    let keep = this.count
    while (keep > 0 && this.positionAt(keep - 1) >= position) keep--
    this.file.truncateToCount(keep)
  }

  clear(): void {
    this.file.clear()
  }

  flush(sync: boolean): Promise<void> {
    return this.file.flush(sync)
  }
}
