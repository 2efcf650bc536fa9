/**
 * The storage under both sparse indexes: fixed-width entries kept in memory in one growable
 * Buffer (exactly the bytes of the file) and written to their file on flush. Entries are only
 * appended or cut from the end, so a flush writes the new tail, or the whole file after a cut.
 * A reader (readOnly) never writes: `flush` is then never called.
 *
 * Invariant: `bytes.subarray(0, count * entryBytes)` is what the file holds after a flush.
 */
import {assert} from '../assert.js'
import {fileSystem, type LogFileHandle} from './file-system.js'

const INITIAL_CAPACITY_ENTRIES = 64

export class IndexFile {
  private bytes: Buffer
  private countEntries = 0
  private persistedEntries = 0
  private rewriteNeeded = false

  constructor(
    readonly path: string,
    readonly entryBytes: number,
    initial?: Buffer,
  ) {
    const count = initial ? Math.floor(initial.length / entryBytes) : 0
    this.bytes = Buffer.alloc(Math.max(INITIAL_CAPACITY_ENTRIES, count * 2) * entryBytes)
    if (initial) initial.copy(this.bytes, 0, 0, count * entryBytes)
    this.countEntries = count
    this.persistedEntries = count
    // A file with a partial trailing entry is rewritten on the next flush.
    this.rewriteNeeded = initial !== undefined && initial.length !== count * entryBytes
  }

  get count(): number {
    return this.countEntries
  }

  get sizeBytes(): number {
    return this.countEntries * this.entryBytes
  }

  /** The buffer to read entry `index` from, at `index * entryBytes`. */
  get view(): Buffer {
    return this.bytes
  }

  /** Returns the position to write the new entry's bytes at. */
  appendSlot(): number {
    if ((this.countEntries + 1) * this.entryBytes > this.bytes.length) {
      const grown = Buffer.alloc(this.bytes.length * 2)
      this.bytes.copy(grown, 0, 0, this.sizeBytes)
      this.bytes = grown
    }
    return this.countEntries++ * this.entryBytes
  }

  truncateToCount(count: number): void {
    assert(count >= 0 && count <= this.countEntries, `index truncation to ${count} of ${this.countEntries} entries`)
    this.countEntries = count
    if (count < this.persistedEntries) {
      this.persistedEntries = count
      this.rewriteNeeded = true
    }
  }

  clear(): void {
    this.truncateToCount(0)
    this.rewriteNeeded = true
  }

  /**
   * After an index was rebuilt in memory from the log: if the file holds exactly these bytes
   * nothing needs writing, otherwise (missing, damaged, stale) the next flush rewrites it.
   */
  adoptFileBytes(fileBytes: Buffer | null): boolean {
    const same = fileBytes !== null && fileBytes.equals(this.bytes.subarray(0, this.sizeBytes))
    this.persistedEntries = same ? this.countEntries : 0
    this.rewriteNeeded = !same
    return same
  }

  get dirty(): boolean {
    return this.rewriteNeeded || this.persistedEntries !== this.countEntries
  }

  /** Writes what changed since the last flush; `sync` also fdatasyncs the file. */
  async flush(sync: boolean): Promise<void> {
    if (!this.dirty && !sync) return
    // Captured before the first await: entries appended meanwhile wait for the next flush.
    const count = this.countEntries
    const rewrite = this.rewriteNeeded
    const tail = Buffer.from(this.bytes.subarray(rewrite ? 0 : this.persistedEntries * this.entryBytes, count * this.entryBytes))
    this.persistedEntries = count
    this.rewriteNeeded = false
    const handle: LogFileHandle = await fileSystem().open(this.path, rewrite ? 'w' : 'a')
    try {
      if (tail.length > 0) await handle.write(tail, 0, tail.length)
      if (sync) await handle.datasync()
    } catch (error) {
      this.rewriteNeeded = true
      throw error
    } finally {
      await handle.close()
    }
  }
}
