/**
 * The log of one partition, in the directory `<topic>-<partition>`: an ordered list of
 * segments of which the last is active. It appends whole record batches (assigning their
 * offsets), rolls segments by size and age, reads by offset and by time, deletes old segments
 * by retention, truncates for replication, and flushes by policy with group commit.
 *
 * Invariants: offsets are dense from logStartOffset (the first segment's base) to
 * logEndOffset - 1; every mutation (append, roll, truncate, retention, flush of indexes) runs
 * one at a time in call order through `serial`; fdatasync runs outside it so concurrent
 * appends share one (group commit); a read-only log never creates, writes, truncates or
 * renames anything. Segments that leave the log are unlinked at once and closed once no read
 * is using them (reads pin the segments they use, see segment-handles.ts).
 *
 * Failures on the append path (a roll that cannot create its file, a write or sync the disk
 * refuses) reject exactly the appends they affect and leave the log as it was before them: a
 * failed write is cut back from the file, the in-memory state only moves after a write
 * succeeded. A full disk answers STORAGE_FULL, retriable; the log takes appends again once
 * space returns.
 *
 * A failed fdatasync is different: after it the kernel may have dropped written pages and
 * marked them clean, so neither the page cache nor a later successful sync says what is on
 * disk. The log stops there (STORAGE_FAILED for every read and write, no recovery point
 * written, not even at close) until the node restarts and recovery checks the bytes past the
 * last good sync. Kafka halts the whole broker for this; here only the partition stops.
 *
 * Reads run beside appends, never queued behind them (an append only adds bytes past the end
 * a read captured). Truncation is the one mutation that takes bytes away under a read, so it
 * is guarded like a sequence lock instead of a read-write lock: a truncation bumps
 * `truncations` and publishes `truncating` before it touches anything; a read notes the count
 * when it starts, waits for a truncation in progress, and when the count moved while it read,
 * discards what it read (bytes or an error from a file cut under it) and reads again. So a read
 * never returns bytes a truncation removed, and never fails on the race; reads cost nothing
 * extra when no truncation runs, and truncations (replication's rare divergence repair) never
 * wait for reads.
 */
import path from 'node:path'
import {LignumError} from '../errors.js'
import {assert, assertOffset, OFFSET_MAX} from '../assert.js'
import {LeaderEpochCheckpoint, type EpochEntry} from './leader-epoch-checkpoint.js'
import type {BatchOrigin} from '../format/batch-validator.js'
import {checkFollowerBatches, recordsIn, validateBatches, type ValidatedBatch} from './append-checks.js'
import {defaultPartitionLogConfig, validateConfig, type PartitionLogConfig} from './log-config.js'
import {batchPositions, setBaseOffset, setPartitionLeaderEpoch, type BatchHeader} from '../format/record-batch.js'
import {syncDirectory} from './atomic-file.js'
import {PartitionDamagedError, repairCommandFor, type PartitionDamage} from './damage.js'
import {fileSystem} from './file-system.js'
import {loadSegments, writeRecoveryPoint, type LogFault, type LogLogger} from './recovery.js'
import {Segment} from './segment.js'
import {nodeOpenFile, type OpenFile} from './segment-handles.js'
import {storageError} from './storage-errors.js'
import {parsePartitionDirName} from './topic-name.js'

export type {LogFault, LogLogger} from './recovery.js'
export {LeaderEpochCheckpoint, type EpochEntry} from './leader-epoch-checkpoint.js'
export {PartitionDamagedError, type PartitionDamage} from './damage.js'
export {defaultPartitionLogConfig, type FlushPolicy, type PartitionLogConfig} from './log-config.js'

/** A read returns at most this much unless one batch alone is larger. */
export const READ_BYTES_DEFAULT = 1024 * 1024

export interface AppendInfo {
  baseOffset: number
  lastOffset: number
  recordCount: number
  maxTimestamp: number
  /** Where the first appended batch starts in its segment's `.log`. */
  positionBytes: number
}

export interface ReadResult {
  /** Whole batches concatenated; may be empty. */
  batches: Buffer
  /** The offset after the last returned batch (fromOffset when none). */
  nextOffset: number
}

export interface SegmentInfo {
  baseOffset: number
  /** -1 if empty */
  lastOffset: number
  recordCount: number
  batchCount: number
  sizeBytes: number
  /** The first batch's base timestamp; -1 if empty. */
  firstTimestamp: number
  /** The last batch's max timestamp; -1 if empty. */
  lastTimestamp: number
  indexEntries: number
  timeIndexEntries: number
  path: string
}

/** What a live log also knows of each segment. */
export interface LogSegmentInfo extends SegmentInfo {
  /** The largest timestamp of any batch, which retention by time goes by; -1 if empty. */
  maxTimestamp: number
}

export interface PartitionLogOptions {
  readOnly?: boolean
  logger?: LogLogger
  /** The wall clock, replaceable in tests of rolling by age. */
  clock?: () => number
  /** Opens segment `.log` files; replaceable in tests to count syncs or make the disk fail. */
  openFile?: OpenFile
  /**
   * Runs inside the serialized append, once a new active segment starting at `baseOffset`
   * exists (e.g. to snapshot producer state as of the roll). A failure is logged, never fails the roll.
   */
  onRoll?: (baseOffset: number) => Promise<void>
}

export interface AppendOptions {
  /**
   * Whose batches these are: a client's (the default) may not hold transaction markers; 'log'
   * accepts everything Kafka's own log may hold (markers, compacted batches), e.g. a
   * coordinator's markers or a copy of a Kafka data directory.
   */
  origin?: BatchOrigin
  /** Stamped in every batch; a new epoch's start offset is recorded in the leader-epoch checkpoint first. */
  leaderEpoch?: number
  /**
   * Called synchronously inside the serialized append once the batches are written (before
   * any fsync the flush policy waits for), so state derived from appends (producer state)
   * is current whenever the next queued operation, such as a roll, runs.
   */
  onWritten?: (info: AppendInfo) => void
}

export interface TruncateOptions {
  /**
   * A follower truncates only where a batch starts (its log must be a prefix of the leader's):
   * an offset inside a batch is then refused instead of dropping the whole batch.
   */
  requireBatchBoundary?: boolean
}

/** A read retried this often because truncations kept cutting under it gives up (retriable). */
const READ_ATTEMPTS_MAX = 16

const stderrLogger: LogLogger = {
  info() {},
  warn(message, fields) {
    process.stderr.write(`lignum log: ${message}${fields ? ' ' + JSON.stringify(fields) : ''}\n`)
  },
}

interface PendingAppend {
  batches: Buffer
  validated: ValidatedBatch[]
  leaderEpoch: number | undefined
  resolve: (result: {info: AppendInfo; sequence: number}) => void
  reject: (error: unknown) => void
}

interface AppendGroup {
  members: PendingAppend[]
  bytes: number
}

interface AssignedAppend {
  pending: PendingAppend
  /** Batch positions relative to the start of the chunk being written. */
  assigned: ValidatedBatch[]
  info: AppendInfo
}

/** writev takes at most IOV_MAX (1024 on Linux) buffers; a group stays well below. */
const APPEND_GROUP_MEMBERS_MAX = 256
/** A group's bytes are written by one syscall: bounded so one write stays short. */
const APPEND_GROUP_BYTES_MAX = 8 * 1024 * 1024

/** Rewrites base offsets (and the leader epoch) in the caller's buffer and describes the result. */
function assignOffsets(pending: PendingAppend, baseOffset: number, positionBytes: number, chunkPosition: number): AssignedAppend {
  let nextOffset = baseOffset
  let maxTimestamp = -1
  const assigned: ValidatedBatch[] = []
  for (const {position, header} of pending.validated) {
    setBaseOffset(pending.batches, nextOffset, position)
    if (pending.leaderEpoch !== undefined) setPartitionLeaderEpoch(pending.batches, pending.leaderEpoch, position)
    const partitionLeaderEpoch = pending.leaderEpoch ?? header.partitionLeaderEpoch
    assigned.push({position: chunkPosition + position, header: {...header, baseOffset: nextOffset, lastOffset: nextOffset + header.lastOffsetDelta, partitionLeaderEpoch}})
    nextOffset += header.lastOffsetDelta + 1
    if (header.maxTimestamp > maxTimestamp) maxTimestamp = header.maxTimestamp
  }
  return {pending, assigned, info: {baseOffset, lastOffset: nextOffset - 1, recordCount: nextOffset - baseOffset, maxTimestamp, positionBytes}}
}

export class PartitionLog {
  private segmentList: Segment[]
  private serial: Promise<unknown> = Promise.resolve()
  private openAppendGroup: AppendGroup | null = null
  private writtenSequence = 0
  private syncedSequence = 0
  private syncing: Promise<void> | null = null
  private durableOffset: number
  /** Bumped when a truncation starts; see the module comment. */
  private truncations = 0
  private truncating: Promise<void> | null = null
  private flushTimer: NodeJS.Timeout | null = null
  private closing: Promise<void> | null = null
  // Set by the first failed fdatasync; the log serves nothing after it (see the top).
  private stoppedBy: LignumError | null = null
  private configValue: PartitionLogConfig
  private readonly leaderEpochs: LeaderEpochCheckpoint
  private readonly onRoll: ((baseOffset: number) => Promise<void>) | undefined
  /** Read-only logs: the first bad batch, where reading stops. */
  readonly fault: LogFault | null
  /** Read-only logs: that fault when it is damage, not a torn tail (a writable open throws instead). */
  readonly damage: PartitionDamage | null
  /** Damaged batches reads met, by segment and position: each is logged once, not per read. */
  private readonly damageReported = new Set<string>()
  private firstDamageFoundByRead: PartitionDamage | null = null

  private constructor(
    readonly dir: string,
    readonly topic: string,
    readonly partition: number,
    config: PartitionLogConfig,
    segments: Segment[],
    leaderEpochs: LeaderEpochCheckpoint,
    fault: LogFault | null,
    damage: PartitionDamage | null,
    private readonly readOnly: boolean,
    private readonly logger: LogLogger,
    private readonly clock: () => number,
    private readonly openFile: OpenFile,
    onRoll?: (baseOffset: number) => Promise<void>,
  ) {
    this.onRoll = onRoll
    this.configValue = config
    this.segmentList = segments
    this.leaderEpochs = leaderEpochs
    this.fault = fault
    this.damage = damage
    this.durableOffset = this.logEndOffset
  }

  static async open(dir: string, config: Partial<PartitionLogConfig> = {}, options: PartitionLogOptions = {}): Promise<PartitionLog> {
    const fullConfig = validateConfig({...defaultPartitionLogConfig, ...config})
    const readOnly = options.readOnly ?? false
    const logger = options.logger ?? stderrLogger
    const clock = options.clock ?? Date.now
    const openFile = options.openFile ?? nodeOpenFile
    const name = parsePartitionDirName(path.basename(dir))
    if (name === null) {
      throw new LignumError('DATA_DIR', `${dir} is not a partition directory: its name must be <topic>-<partition>, e.g. orders-0`)
    }
    try {
      return await PartitionLog.openDirectory(dir, name, fullConfig, {readOnly, logger, clock, openFile, onRoll: options.onRoll})
    } catch (error) {
      throw await storageError(error, path.dirname(dir), `opening the partition directory ${dir}`)
    }
  }

  private static async openDirectory(
    dir: string,
    name: {topic: string; partition: number},
    fullConfig: PartitionLogConfig,
    {readOnly, logger, clock, openFile, onRoll}: {readOnly: boolean; logger: LogLogger; clock: () => number; openFile: OpenFile; onRoll?: (baseOffset: number) => Promise<void>},
  ): Promise<PartitionLog> {
    await prepareDirectory(dir, readOnly)
    const loaded = await loadSegments(dir, {readOnly, indexIntervalBytes: fullConfig.indexIntervalBytes, nowMs: clock(), logger, openFile})
    try {
      if (loaded.segments.length === 0 && !readOnly) {
        loaded.segments.push(await Segment.create(dir, 0, fullConfig.indexIntervalBytes, clock(), openFile))
        // A new partition's directory and first files must survive a power loss like its data.
        await syncDirectory(dir)
        await syncDirectory(path.dirname(dir))
      }
      let log: PartitionLog | null = null
      const leaderEpochs = await LeaderEpochCheckpoint.load(dir, () => log?.logEndOffset ?? 0, readOnly)
      log = new PartitionLog(dir, name.topic, name.partition, fullConfig, loaded.segments, leaderEpochs, loaded.fault, loaded.damage, readOnly, logger, clock, openFile, onRoll)
      if (leaderEpochs.damaged !== null) {
        logger.warn('rebuilding a damaged leader-epoch checkpoint from the batches', {dir, reason: leaderEpochs.damaged})
        await leaderEpochs.rebuild(await log.batchEpochs())
      }
      if (!readOnly) {
        await leaderEpochs.truncateFromEnd(log.logEndOffset)
        // What recovery kept past the recovery point may still be only in the page cache: sync
        // it (and the rebuilt indexes) once, so the recovery point can move to the log end.
        for (const segment of loaded.segments) {
          if (segment.nextOffset > loaded.recoveryPoint) await segment.flush(true)
        }
        await writeRecoveryPoint(dir, log.logEndOffset)
        log.startFlushTimer()
      }
      return log
    } catch (error) {
      for (const segment of loaded.segments) await segment.closeHandle()
      throw error
    }
  }

  get config(): PartitionLogConfig {
    return {...this.configValue}
  }

  get logStartOffset(): number {
    return this.segmentList[0]?.baseOffset ?? 0
  }

  /** The next offset to be assigned. */
  get logEndOffset(): number {
    return this.segmentList.at(-1)?.nextOffset ?? 0
  }

  private get active(): Segment {
    const segment = this.segmentList.at(-1)
    assert(segment !== undefined, 'a writable log always has an active segment')
    return segment
  }

  // ---- leader epochs (read-only: epochs start inside the serialized appends) ----

  /** The latest leader epoch of the log, or -1 when none was ever recorded. */
  get latestEpoch(): number {
    return this.leaderEpochs.latestEpoch()
  }

  /** Kafka's OffsetsForLeaderEpoch answer for `epoch` (see LeaderEpochCheckpoint.endOffsetFor). */
  endOffsetFor(epoch: number): {epoch: number; endOffset: number} {
    return this.leaderEpochs.endOffsetFor(epoch)
  }

  epochEntries(): EpochEntry[] {
    return this.leaderEpochs.entries()
  }

  segments(): LogSegmentInfo[] {
    return this.segmentList.map((segment) => ({
      baseOffset: segment.baseOffset,
      lastOffset: segment.lastOffset,
      recordCount: segment.recordCount,
      batchCount: segment.batchCount,
      sizeBytes: segment.sizeBytes,
      firstTimestamp: segment.firstTimestamp,
      lastTimestamp: segment.lastTimestamp,
      maxTimestamp: segment.maxTimestamp,
      indexEntries: segment.offsetIndex.count,
      timeIndexEntries: segment.timeIndex.count,
      path: segment.logPath,
    }))
  }

  // ---- append ----

  /**
   * Appends whole v2 batches (CRC-checked first: CORRUPT_RECORD and nothing written otherwise),
   * assigning consecutive offsets by rewriting each batch's baseOffset in `batches` itself.
   */
  append(batches: Buffer, options: AppendOptions = {}): Promise<AppendInfo> {
    let validated: ValidatedBatch[]
    try {
      this.assertWritable()
      validated = validateBatches(batches, options.origin ?? 'client')
    } catch (error) {
      return Promise.reject(error)
    }
    const onWritten = options.onWritten
    const appended = new Promise<{info: AppendInfo; sequence: number}>((resolve, reject) => {
      const resolveWritten = onWritten === undefined ? resolve : (result: {info: AppendInfo; sequence: number}) => {
        onWritten(result.info)
        resolve(result)
      }
      this.joinAppendGroup({batches, validated, leaderEpoch: options.leaderEpoch, resolve: resolveWritten, reject})
    })
    if (this.configValue.flushPolicy !== 'always') return appended.then(({info}) => info)
    return appended.then(async ({info, sequence}) => {
      await this.syncThrough(sequence)
      return info
    })
  }

  /**
   * A follower's append: batches copied from the leader keep their offsets and leader epochs.
   * The first must start at the log end offset and each must follow the one before
   * (OFFSET_OUT_OF_RANGE otherwise, nothing written); each is CRC-checked. An epoch new to
   * this log is recorded at the first batch that carries it, as the leader recorded it.
   * Batches are spread over as many segments as they need; if a later segment's write fails,
   * the batches before it stay (the follower fetches again from the log end offset).
   * `onBatchesWritten` hears of each run of batches once written, before any later roll, so
   * state kept beside the log (producer state) is current when the roll hook runs.
   */
  appendAsFollower(batches: Buffer, options: {onBatchesWritten?: (headers: BatchHeader[]) => void} = {}): Promise<AppendInfo> {
    let validated: ValidatedBatch[]
    try {
      this.assertWritable()
      validated = validateBatches(batches, 'log')
      checkFollowerBatches(validated)
    } catch (error) {
      return Promise.reject(error)
    }
    const appended = this.enqueue(() => this.appendFollowerNow(batches, validated, options.onBatchesWritten))
    if (this.configValue.flushPolicy !== 'always') return appended.then(({info}) => info)
    return appended.then(async ({info, sequence}) => {
      await this.syncThrough(sequence)
      return info
    })
  }

  private async appendFollowerNow(batches: Buffer, validated: ValidatedBatch[], onBatchesWritten?: (headers: BatchHeader[]) => void): Promise<{info: AppendInfo; sequence: number}> {
    if (this.stoppedBy !== null) throw this.stoppedBy
    const first = validated[0].header
    if (first.baseOffset !== this.logEndOffset) {
      throw new LignumError('OFFSET_OUT_OF_RANGE', `follower append to ${this.topic}-${this.partition} starts at offset ${first.baseOffset} but the log ends at ${this.logEndOffset}; fetch from the log end offset (truncate first if the log diverged)`)
    }
    let positionBytes = -1
    let maxTimestamp = -1
    let index = 0
    while (index < validated.length) {
      const start = validated[index]
      if (this.shouldRoll(start.header.sizeBytes, start.header.lastOffset)) await this.rollNow()
      const segment = this.active
      let end = index + 1
      while (end < validated.length && segment.within(validated[end].position + validated[end].header.sizeBytes - start.position, validated[end].header.lastOffset, this.configValue.segmentBytes)) end++
      const run = validated.slice(index, end)
      const last = run[run.length - 1]
      for (const {header} of run) {
        if (header.partitionLeaderEpoch >= 0 && header.partitionLeaderEpoch > this.leaderEpochs.latestEpoch()) await this.leaderEpochs.assign(header.partitionLeaderEpoch, header.baseOffset)
        if (header.maxTimestamp > maxTimestamp) maxTimestamp = header.maxTimestamp
      }
      if (positionBytes < 0) positionBytes = segment.sizeBytes
      await segment.append([batches.subarray(start.position, last.position + last.header.sizeBytes)], run.map(({position, header}) => ({position: position - start.position, header})))
      this.writtenSequence++
      onBatchesWritten?.(run.map(({header}) => header))
      index = end
    }
    const lastOffset = validated[validated.length - 1].header.lastOffset
    assertOffset(this.logEndOffset, 'log end offset after a follower append')
    return {info: {baseOffset: first.baseOffset, lastOffset, recordCount: lastOffset - first.baseOffset + 1, maxTimestamp, positionBytes}, sequence: this.writtenSequence}
  }

  /**
   * Appends called while earlier work is queued join one group, written with one writev when
   * its turn comes. Any other queued operation closes the group, so call order is kept.
   */
  private joinAppendGroup(pending: PendingAppend): void {
    const group = this.openAppendGroup
    if (group !== null && group.members.length < APPEND_GROUP_MEMBERS_MAX && group.bytes + pending.batches.length <= APPEND_GROUP_BYTES_MAX) {
      group.members.push(pending)
      group.bytes += pending.batches.length
      return
    }
    const created: AppendGroup = {members: [pending], bytes: pending.batches.length}
    this.enqueue(async () => {
      if (this.openAppendGroup === created) this.openAppendGroup = null
      await this.appendGroup(created.members)
    }).catch(() => {}) // each member's promise carries its own outcome
    this.openAppendGroup = created
  }

  /**
   * Writes the group chunk by chunk (one chunk per segment). A chunk whose write fails rejects
   * its members only; a roll that fails rejects every member still waiting for it, since each
   * needs the segment that could not be created.
   */
  private async appendGroup(members: PendingAppend[]): Promise<void> {
    if (this.stoppedBy !== null) {
      for (const pending of members) pending.reject(this.stoppedBy)
      return
    }
    let start = 0
    while (start < members.length) {
      let chunk: AssignedAppend[]
      try {
        chunk = await this.assignOffsetsForSegment(members, start)
      } catch (error) {
        const failure = await this.failure(error, 'roll a new segment')
        for (const pending of members.slice(start)) pending.reject(failure)
        return
      }
      start += chunk.length
      try {
        await this.recordEpochStarts(chunk)
        await this.active.append(
          chunk.map((entry) => entry.pending.batches),
          chunk.flatMap((entry) => entry.assigned),
        )
      } catch (error) {
        const failure = await this.failure(error, 'append')
        for (const entry of chunk) entry.pending.reject(failure)
        continue
      }
      this.writtenSequence++
      for (const entry of chunk) entry.pending.resolve({info: entry.info, sequence: this.writtenSequence})
    }
    assertOffset(this.logEndOffset, 'log end offset after append')
  }

  /** A leader's first append in a new epoch records where the epoch starts, before its bytes are written. */
  private async recordEpochStarts(chunk: AssignedAppend[]): Promise<void> {
    for (const {pending, info} of chunk) {
      if (pending.leaderEpoch !== undefined && pending.leaderEpoch > this.leaderEpochs.latestEpoch()) await this.leaderEpochs.assign(pending.leaderEpoch, info.baseOffset)
    }
  }

  /**
   * Rolls if the first member does not fit the active segment, then takes as many members as
   * fit, rewriting their base offsets (and leader epoch) in place. Returns at least one.
   */
  private async assignOffsetsForSegment(members: PendingAppend[], start: number): Promise<AssignedAppend[]> {
    const firstRecords = recordsIn(members[start].validated)
    if (this.shouldRoll(members[start].batches.length, this.logEndOffset + firstRecords - 1)) await this.rollNow()
    const segment = this.active
    const chunk: AssignedAppend[] = []
    let nextOffset = this.logEndOffset
    let chunkBytes = 0
    for (let index = start; index < members.length; index++) {
      const pending = members[index]
      const lastOffset = nextOffset + recordsIn(pending.validated) - 1
      if (chunk.length > 0 && !segment.within(chunkBytes + pending.batches.length, lastOffset, this.configValue.segmentBytes)) break
      chunk.push(assignOffsets(pending, nextOffset, segment.sizeBytes + chunkBytes, chunkBytes))
      nextOffset = lastOffset + 1
      chunkBytes += pending.batches.length
    }
    return chunk
  }

  private shouldRoll(appendBytes: number, lastOffset: number): boolean {
    const segment = this.active
    if (!segment.fits(appendBytes, lastOffset, this.configValue.segmentBytes)) return true
    return segment.sizeBytes > 0 && this.clock() - segment.createdMs >= this.configValue.segmentMs
  }

  // ---- durability ----

  /** Group commit: waits until a datasync that started after write `sequence` has finished. */
  private async syncThrough(sequence: number): Promise<void> {
    while (this.syncedSequence < sequence) {
      // A sync that succeeds after one failed proves nothing about the bytes (see the top).
      if (this.stoppedBy !== null) throw this.stoppedBy
      if (this.syncing === null) this.syncing = this.syncOnce()
      await this.syncing
    }
  }

  private async syncOnce(): Promise<void> {
    const target = this.writtenSequence
    const offset = this.logEndOffset
    try {
      await this.active.datasyncLog()
      this.syncedSequence = Math.max(this.syncedSequence, target)
      this.durableOffset = Math.max(this.durableOffset, offset)
    } catch (error) {
      throw this.stopAfterFailedSync(error)
    } finally {
      this.syncing = null
    }
  }

  /** Writes index files, fdatasyncs the log and records the recovery point. */
  async flush(): Promise<void> {
    if (this.readOnly) return
    if (this.stoppedBy !== null) throw this.stoppedBy
    try {
      const sequence = await this.enqueue(async () => {
        await this.active.flush(false)
        return this.writtenSequence
      })
      await this.syncThrough(sequence)
      await this.enqueue(() => writeRecoveryPoint(this.dir, Math.min(this.durableOffset, this.logEndOffset)))
    } catch (error) {
      throw await this.failure(error, 'flush')
    }
  }

  private stopAfterFailedSync(error: unknown): LignumError {
    if (this.stoppedBy !== null) return this.stoppedBy
    const errno = (error as NodeJS.ErrnoException).code ?? String(error)
    this.stoppedBy = new LignumError(
      'STORAGE_FAILED',
      `fdatasync of ${this.topic}-${this.partition} failed (${errno}): the disk may have dropped written bytes, so the partition serves nothing more; check the disk under ${path.dirname(this.dir)}, then restart the node, which checks every batch written since the last good sync`,
      {cause: error},
    )
    if (this.flushTimer !== null) clearInterval(this.flushTimer)
    const report = this.logger.error ?? this.logger.warn
    report.call(this.logger, 'fdatasync failed; the partition stopped until the node restarts', {topic: this.topic, partition: this.partition, dir: this.dir, error: errno})
    return this.stoppedBy
  }

  /** The error to answer with: a full or read-only disk named as such, with the data directory. */
  private failure(error: unknown, doing: string): Promise<unknown> {
    return storageError(error, path.dirname(this.dir), `${doing} of ${this.topic}-${this.partition}`)
  }

  private startFlushTimer(): void {
    const policy = this.configValue.flushPolicy
    if (typeof policy !== 'object') return
    this.flushTimer = setInterval(() => {
      this.flush().catch((error: Error) => this.logger.warn('periodic flush failed', {dir: this.dir, error: error.message}))
    }, policy.intervalMs)
    this.flushTimer.unref()
  }

  // ---- roll, retention, truncation ----

  async roll(): Promise<void> {
    this.assertWritable()
    try {
      await this.enqueue(() => this.rollNow())
    } catch (error) {
      throw await this.failure(error, 'roll a new segment')
    }
  }

  /**
   * Closes the active segment durably and starts a new one at the log end offset. When the new
   * segment cannot be created (its file exists, the disk is full) the old one stays active.
   */
  private async rollNow(): Promise<void> {
    const previous = this.active
    if (previous.sizeBytes === 0) return
    previous.seal()
    await previous.flush(true)
    this.syncedSequence = this.writtenSequence
    this.durableOffset = previous.nextOffset
    this.segmentList.push(await this.createSegment(previous.nextOffset))
    previous.deactivate()
    await syncDirectory(this.dir)
    await writeRecoveryPoint(this.dir, this.durableOffset)
    await this.notifyRoll(previous.nextOffset)
  }

  private async createSegment(baseOffset: number): Promise<Segment> {
    try {
      return await Segment.create(this.dir, baseOffset, this.configValue.indexIntervalBytes, this.clock(), this.openFile)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      throw new LignumError(
        'DATA_DIR',
        `cannot start a segment at offset ${baseOffset} in ${this.dir}: ${(error as NodeJS.ErrnoException).path ?? 'its file'} already exists, so something other than this log wrote into the partition directory; move that file away`,
        {cause: error},
      )
    }
  }

  private async notifyRoll(baseOffset: number): Promise<void> {
    if (this.onRoll === undefined) return
    try {
      await this.onRoll(baseOffset)
    } catch (error) {
      this.logger.warn('the roll hook failed', {dir: this.dir, baseOffset, error: (error as Error).message})
    }
  }

  /**
   * Deletes whole old segments past retentionMs (by their newest timestamp) or retentionBytes,
   * but never one holding an offset at or past `highWatermark` (a segment goes only when its
   * last offset is below it): replicas may still need what is not yet committed.
   */
  async applyRetention(nowMs?: number, options: {highWatermark?: number} = {}): Promise<{deletedSegments: number}> {
    this.assertWritable()
    return this.enqueue(async () => {
      const now = nowMs ?? this.clock()
      const highWatermark = options.highWatermark ?? OFFSET_MAX
      let deletedSegments = 0
      while (this.segmentList[0].nextOffset <= highWatermark && (this.isExpired(this.segmentList[0], now) || this.exceedsRetentionBytes())) {
        if (this.segmentList.length === 1) await this.rollNow()
        if (this.segmentList.length === 1) break
        await this.retire(this.segmentList.shift()!)
        deletedSegments++
      }
      return {deletedSegments}
    })
  }

  private isExpired(segment: Segment, nowMs: number): boolean {
    const retentionMs = this.configValue.retentionMs
    return retentionMs >= 0 && segment.batchCount > 0 && nowMs - segment.maxTimestamp > retentionMs
  }

  private exceedsRetentionBytes(): boolean {
    const retentionBytes = this.configValue.retentionBytes
    if (retentionBytes < 0 || this.segmentList.length < 2) return false
    const totalBytes = this.segmentList.reduce((sum, segment) => sum + segment.sizeBytes, 0)
    return totalBytes - this.segmentList[0].sizeBytes >= retentionBytes
  }

  /**
   * Drops everything at or after `offset` and returns the new log end offset. The log keeps
   * whole batches: if `offset` falls inside a batch, that whole batch goes and the log end
   * offset becomes the batch's base offset (refused instead with `requireBatchBoundary`).
   */
  async truncateTo(offset: number, options: TruncateOptions = {}): Promise<number> {
    this.assertWritable()
    assertOffset(offset, 'truncation offset')
    return this.enqueue(async () => {
      if (offset >= this.logEndOffset) return this.logEndOffset
      await this.truncateExclusively(async () => {
        if (offset <= this.logStartOffset) {
          await this.truncateFullyAndStartAt(offset)
        } else {
          await this.truncateWithin(offset, options.requireBatchBoundary ?? false)
        }
        this.durableOffset = Math.min(this.durableOffset, this.logEndOffset)
        await writeRecoveryPoint(this.dir, this.durableOffset)
        await this.leaderEpochs.truncateFromEnd(this.logEndOffset)
      })
      this.logger.info('truncated the log', {dir: this.dir, offset, logEndOffset: this.logEndOffset})
      return this.logEndOffset
    })
  }

  /**
   * Empties the log and starts it at `offset`, also past its end (Kafka's
   * truncateFullyAndStartAt): a follower whose leader deleted what it would fetch next.
   * The epoch history goes too: the batches it described are gone.
   */
  async restartAt(offset: number): Promise<number> {
    this.assertWritable()
    assertOffset(offset, 'restart offset')
    return this.enqueue(async () => {
      await this.truncateExclusively(async () => {
        await this.truncateFullyAndStartAt(offset)
        this.durableOffset = this.logEndOffset
        await writeRecoveryPoint(this.dir, this.durableOffset)
        await this.leaderEpochs.truncateFromEnd(0)
      })
      this.logger.info('emptied the log to start at a new offset', {dir: this.dir, offset})
      return this.logEndOffset
    })
  }

  /** Runs a truncation with reads told one is under way (they retry instead of reading cut files). */
  private async truncateExclusively(truncation: () => Promise<void>): Promise<void> {
    let finished = () => {}
    this.truncations++
    this.truncating = new Promise<void>((resolve) => (finished = resolve))
    try {
      await truncation()
    } finally {
      this.truncating = null
      finished()
    }
  }

  /** Cuts the segment holding `offset` where its batch starts and drops the segments after it. */
  private async truncateWithin(offset: number, requireBatchBoundary: boolean): Promise<void> {
    const index = this.segmentIndexFor(offset)
    const segment = this.segmentList[index]
    const found = await segment.findBatch(offset)
    assert(found !== null, `segment ${segment.logPath} holds offset ${offset} below the log end`)
    if (requireBatchBoundary && found.header.baseOffset !== offset) {
      throw new LignumError(
        'INVALID_ARGUMENT',
        `cannot truncate ${this.topic}-${this.partition} to offset ${offset}: it falls inside the batch of offsets ${found.header.baseOffset} to ${found.header.lastOffset}; truncate to a batch boundary`,
      )
    }
    // A cut at a segment's first batch drops the whole segment: the one before becomes active.
    const keptThrough = found.position === 0 && index > 0 ? index - 1 : index
    while (this.segmentList.length - 1 > keptThrough) await this.retire(this.segmentList.pop()!)
    if (keptThrough === index) await segment.truncateToPosition(found.position)
    await this.active.activate()
  }

  private async truncateFullyAndStartAt(offset: number): Promise<void> {
    while (this.segmentList.length > 0) await this.retire(this.segmentList.pop()!)
    this.segmentList.push(await this.createSegment(offset))
    await syncDirectory(this.dir)
  }

  private async retire(segment: Segment): Promise<void> {
    await segment.unlinkFiles()
  }

  // ---- reads ----

  /**
   * Whole batches from the one that holds `fromOffset`: at least one if any, then as many as fit
   * in `maxBytes`, all with a last offset below `upToOffset` (default: the log end offset).
   */
  read(fromOffset: number, options: {maxBytes?: number; upToOffset?: number} = {}): Promise<ReadResult> {
    return this.readConsistently(() => this.readOnce(fromOffset, options))
  }

  private async readOnce(fromOffset: number, options: {maxBytes?: number; upToOffset?: number}): Promise<ReadResult> {
    this.checkReadable(fromOffset)
    const upToOffset = Math.min(options.upToOffset ?? OFFSET_MAX, this.logEndOffset)
    const maxBytes = options.maxBytes ?? READ_BYTES_DEFAULT
    const empty = {batches: Buffer.alloc(0), nextOffset: fromOffset}
    if (fromOffset >= upToOffset) return empty
    for (let index = this.segmentIndexFor(fromOffset); index < this.segmentList.length; index++) {
      const segment = this.segmentList[index]
      // Pinned from here: retention may unlink the segment meanwhile, this read still finishes.
      segment.file.pin()
      try {
        const result = await segment.readBatchesFrom(fromOffset, maxBytes, upToOffset)
        if (result === null) continue
        if (result.fault) throw this.damageFoundByRead(segment, result.fault)
        return result.batches.length === 0 ? empty : {batches: result.batches, nextOffset: result.nextOffset}
      } finally {
        segment.file.unpin()
      }
    }
    return empty
  }

  /** Each batch's leader epoch and base offset, in log order, up to the first batch a read refuses. */
  private async batchEpochs(): Promise<{partitionLeaderEpoch: number; baseOffset: number}[]> {
    const epochs: {partitionLeaderEpoch: number; baseOffset: number}[] = []
    let offset = this.logStartOffset
    while (offset < this.logEndOffset) {
      let read: ReadResult
      try {
        read = await this.read(offset)
      } catch (error) {
        if (error instanceof PartitionDamagedError) break
        throw error
      }
      if (read.batches.length === 0) break
      for (const {header} of batchPositions(read.batches)) {
        const latest = epochs.at(-1)
        if (latest === undefined || header.partitionLeaderEpoch !== latest.partitionLeaderEpoch) epochs.push({partitionLeaderEpoch: header.partitionLeaderEpoch, baseOffset: header.baseOffset})
      }
      offset = read.nextOffset
    }
    return epochs
  }

  /** The first offset whose record timestamp is >= timestampMs, or null when every record is older. */
  offsetForTimestamp(timestampMs: number): Promise<number | null> {
    return this.readConsistently(async () => {
      const segments = [...this.segmentList]
      for (const segment of segments) segment.file.pin()
      let unpinned = 0
      try {
        for (const segment of segments) {
          const offset = await segment.offsetForTimestamp(timestampMs)
          segment.file.unpin()
          unpinned++
          if (offset !== null) return offset
        }
        return null
      } finally {
        for (const segment of segments.slice(unpinned)) segment.file.unpin()
      }
    })
  }

  /** Runs a read again when a truncation started while it ran (see the module comment). */
  private async readConsistently<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.truncating !== null) await this.truncating
      const truncations = this.truncations
      try {
        const result = await read()
        if (truncations === this.truncations) return result
      } catch (error) {
        if (truncations === this.truncations) throw error
      }
      if (attempt === READ_ATTEMPTS_MAX) {
        throw new LignumError('UNAVAILABLE', `reading ${this.topic}-${this.partition} raced ${READ_ATTEMPTS_MAX} truncations; retry`)
      }
    }
  }

  /** The first batch a read found failing its CRC since the log opened: the replica is damaged. */
  get damageFound(): PartitionDamage | null {
    return this.firstDamageFoundByRead
  }

  /** A closed segment's batch failed its CRC on a read: logged loudly, once per batch. */
  private damageFoundByRead(segment: Segment, fault: {position: number; offset: number; reason: string}): PartitionDamagedError {
    const damage: PartitionDamage = {kind: 'damaged-batch', reason: `${fault.reason} (found by a read)`, file: segment.logPath, position: fault.position, offset: fault.offset}
    const error = new PartitionDamagedError(damage, this.topic, this.partition, this.dir, 'read')
    const key = `${segment.baseOffset}:${fault.position}`
    this.firstDamageFoundByRead ??= damage
    if (!this.damageReported.has(key)) {
      this.damageReported.add(key)
      const report = this.logger.error ?? this.logger.warn
      report.call(this.logger, 'a read met a damaged batch; it is not served', {topic: this.topic, partition: this.partition, ...damage, repair: `stop the node, then run: ${repairCommandFor(this.dir, this.topic, this.partition)}`})
    }
    return error
  }

  private checkReadable(fromOffset: number): void {
    if (this.closing !== null) throw new LignumError('UNAVAILABLE', `the log of ${this.topic}-${this.partition} is closed`)
    if (this.stoppedBy !== null) throw this.stoppedBy
    if (!Number.isSafeInteger(fromOffset) || fromOffset < this.logStartOffset || fromOffset > this.logEndOffset) {
      throw new LignumError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${fromOffset} is out of range for ${this.topic}-${this.partition}, which holds offsets ${this.logStartOffset} to ${this.logEndOffset - 1}; ask for an offset in that range`,
      )
    }
  }

  /** Binary search: the last segment whose base offset is <= offset. */
  private segmentIndexFor(offset: number): number {
    let low = 0
    let high = this.segmentList.length - 1
    let found = 0
    while (low <= high) {
      const middle = (low + high) >>> 1
      if (this.segmentList[middle].baseOffset <= offset) {
        found = middle
        low = middle + 1
      } else {
        high = middle - 1
      }
    }
    return found
  }

  // ---- lifecycle ----

  /** Flushes (writable), closes every file. Safe to call twice. */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.closeNow()
    return this.closing
  }

  private async closeNow(): Promise<void> {
    if (this.flushTimer !== null) clearInterval(this.flushTimer)
    if (!this.readOnly) {
      await this.serial.catch(() => {})
      await this.syncing?.catch(() => {})
    }
    if (!this.readOnly && this.stoppedBy === null) {
      await this.active.flush(true)
      this.durableOffset = this.logEndOffset
      await writeRecoveryPoint(this.dir, this.logEndOffset)
    }
    for (const segment of this.segmentList) await segment.close()
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    this.openAppendGroup = null
    const result = this.serial.then(task)
    this.serial = result.catch(() => {})
    return result
  }

  private assertWritable(): void {
    if (this.readOnly) throw new LignumError('INVALID_ARGUMENT', `${this.dir} was opened read-only; open it without readOnly to change it`)
    if (this.closing !== null) throw new LignumError('UNAVAILABLE', `the log of ${this.topic}-${this.partition} is closed`)
    if (this.stoppedBy !== null) throw this.stoppedBy
  }
}

async function prepareDirectory(dir: string, readOnly: boolean): Promise<void> {
  if (!readOnly) {
    await fileSystem().mkdirRecursive(dir)
    return
  }
  const info = await fileSystem().stat(dir).catch(() => null)
  if (info === null || !info.isDirectory()) {
    throw new LignumError('DATA_DIR', `${dir} does not exist or is not a directory; give the path of a partition directory`)
  }
}

