/**
 * The `leader-epoch-checkpoint` of a partition: which leader epoch started at which offset,
 * in Kafka's text format:
 *
 *   0                      version
 *   2                      number of entries
 *   0 0                    epoch startOffset
 *   3 1500
 *
 * Replication uses it to answer "where does my epoch end on your log?" so a follower can
 * truncate to a common prefix. Invariants: epochs and start offsets both strictly increase.
 * The file is replaced atomically (temporary file, fsync, rename, fsync of the directory) on every change; a reader
 * (readOnly) never writes it.
 */
import path from 'node:path'
import {LignumError} from '../errors.js'
import {assert, assertOffset} from '../assert.js'
import {replaceFileAtomically} from './atomic-file.js'
import {fileSystem} from './file-system.js'

export const LEADER_EPOCH_CHECKPOINT_FILE = 'leader-epoch-checkpoint'
const CHECKPOINT_VERSION = 0
/** A partition sees a new epoch per leader change; this many is far beyond any real history. */
const EPOCH_ENTRIES_MAX = 1_000_000

export interface EpochEntry {
  epoch: number
  startOffset: number
}

export class LeaderEpochCheckpoint {
  private list: EpochEntry[]

  private constructor(
    readonly path: string,
    entries: EpochEntry[],
    private readonly logEndOffset: () => number,
    private readonly readOnly: boolean,
    private damagedReason: string | null = null,
  ) {
    this.list = entries
  }

  /**
   * The checkpoint as the file holds it. A file that does not parse is derived data, not lost
   * data (every batch carries its leader epoch): `damaged` then says why, and the caller
   * rebuilds the history from the batches with `rebuild`.
   */
  static async load(dir: string, logEndOffset: () => number, readOnly: boolean): Promise<LeaderEpochCheckpoint> {
    const file = path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE)
    let text: string | null = null
    try {
      text = await fileSystem().readTextFile(file)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
    let entries: EpochEntry[] = []
    let damaged: string | null = null
    try {
      if (text !== null) entries = parseCheckpoint(text, file)
    } catch (error) {
      if (!(error instanceof LignumError)) throw error
      damaged = error.message
    }
    return new LeaderEpochCheckpoint(file, entries, logEndOffset, readOnly, damaged)
  }

  /** Why the file did not parse, until `rebuild` replaced it; null when it did. */
  get damaged(): string | null {
    return this.damagedReason
  }

  /** Replaces the history with one derived from the log's batches (epoch and base offset of each, in log order). */
  async rebuild(batches: Iterable<{partitionLeaderEpoch: number; baseOffset: number}>): Promise<void> {
    const entries: EpochEntry[] = []
    for (const {partitionLeaderEpoch: epoch, baseOffset} of batches) {
      const latest = entries.at(-1)
      if (epoch < 0 || (latest && epoch <= latest.epoch)) continue
      entries.push({epoch, startOffset: baseOffset})
    }
    assert(entries.length <= EPOCH_ENTRIES_MAX, 'leader epoch history stays bounded')
    this.list = entries
    this.damagedReason = null
    await this.persist()
  }

  entries(): EpochEntry[] {
    return this.list.map((entry) => ({...entry}))
  }

  /** The latest epoch, or -1 when none was ever assigned. */
  latestEpoch(): number {
    return this.list.at(-1)?.epoch ?? -1
  }

  /** Records that `epoch` starts at `startOffset`; an epoch already known is a no-op. */
  async assign(epoch: number, startOffset: number): Promise<void> {
    assert(Number.isInteger(epoch) && epoch >= 0, `leader epoch ${epoch} is a non-negative integer`)
    assertOffset(startOffset, 'epoch start offset')
    const latest = this.list.at(-1)
    if (latest && epoch <= latest.epoch) return
    // A new epoch starting below older entries' starts replaces them (they were never committed).
    this.list = this.list.filter((entry) => entry.startOffset < startOffset)
    this.list.push({epoch, startOffset})
    assert(this.list.length <= EPOCH_ENTRIES_MAX, 'leader epoch history stays bounded')
    await this.persist()
  }

  /**
   * Kafka's OffsetsForLeaderEpoch: for `epoch`, the largest known epoch at or below it and the
   * offset where that epoch ended (the next epoch's start, or the log end offset for the
   * latest). {epoch: -1, endOffset: -1} when `epoch` is older than every entry.
   */
  endOffsetFor(epoch: number): {epoch: number; endOffset: number} {
    let found = -1
    for (let index = 0; index < this.list.length; index++) {
      if (this.list[index].epoch <= epoch) found = index
    }
    if (found < 0) return {epoch: -1, endOffset: -1}
    const next = this.list[found + 1]
    return {epoch: this.list[found].epoch, endOffset: next ? next.startOffset : this.logEndOffset()}
  }

  /** Forgets epochs that start at or after `offset` (the log was truncated there). */
  async truncateFromEnd(offset: number): Promise<void> {
    const kept = this.list.filter((entry) => entry.startOffset < offset)
    if (kept.length === this.list.length) return
    this.list = kept
    await this.persist()
  }

  private async persist(): Promise<void> {
    if (this.readOnly) return
    const lines = [String(CHECKPOINT_VERSION), String(this.list.length), ...this.list.map((entry) => `${entry.epoch} ${entry.startOffset}`)]
    await replaceFileAtomically(this.path, lines.join('\n') + '\n')
  }
}

function parseCheckpoint(text: string, file: string): EpochEntry[] {
  const bad = (why: string): never => {
    throw new LignumError('CORRUPT_RECORD', `${file} is not a leader epoch checkpoint (${why}); restore it or delete it to rebuild the history from scratch`)
  }
  const lines = text.split('\n').filter((line) => line.trim() !== '')
  if (lines[0]?.trim() !== String(CHECKPOINT_VERSION)) bad(`version "${lines[0]}" is not ${CHECKPOINT_VERSION}`)
  const count = Number(lines[1])
  if (!Number.isInteger(count) || count < 0 || count > EPOCH_ENTRIES_MAX || lines.length !== count + 2) bad('the entry count does not match')
  const entries: EpochEntry[] = []
  for (const line of lines.slice(2)) {
    const parts = line.trim().split(/\s+/)
    const epoch = Number(parts[0])
    const startOffset = Number(parts[1])
    if (parts.length !== 2 || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(startOffset) || epoch < 0 || startOffset < 0) bad(`line "${line}"`)
    const previous = entries.at(-1)
    if (previous && (epoch <= previous.epoch || startOffset < previous.startOffset)) bad('entries do not increase')
    entries.push({epoch, startOffset})
  }
  return entries
}
