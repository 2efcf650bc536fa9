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
 * is using them.
 */
import {mkdir, open, stat} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../errors.js'
import {assert, assertOffset, OFFSET_MAX} from './assert.js'
import {LeaderEpochCheckpoint} from './leader-epoch-checkpoint.js'
import {BATCH_HEADER_BYTES, isBatchCrcValid, readBatchHeader, setBaseOffset, setPartitionLeaderEpoch, type BatchHeader} from './record-batch.js'
import {loadSegments, writeRecoveryPoint, type LogFault, type LogLogger} from './recovery.js'
import {Segment, SEGMENT_BYTES_MAX} from './segment.js'
import {parsePartitionDirName} from './topic-name.js'

export type {LogFault, LogLogger} from './recovery.js'
export {LeaderEpochCheckpoint} from './leader-epoch-checkpoint.js'

export type FlushPolicy = 'always' | 'never' | {intervalMs: number}

export interface PartitionLogConfig {
  segmentBytes: number
  segmentMs: number
  /** -1 keeps segments forever. */
  retentionMs: number
  /** -1 is unlimited. */
  retentionBytes: number
  indexIntervalBytes: number
  flushPolicy: FlushPolicy
}

const DAY_MS = 24 * 60 * 60 * 1000

export const defaultPartitionLogConfig: PartitionLogConfig = {
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  retentionMs: 7 * DAY_MS,
  retentionBytes: -1,
  indexIntervalBytes: 4096,
  flushPolicy: {intervalMs: 1000},
}

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

export interface PartitionLogOptions {
  readOnly?: boolean
  logger?: LogLogger
  /** The wall clock, replaceable in tests of rolling by age. */
  clock?: () => number
}

const stderrLogger: LogLogger = {
  info() {},
  warn(message, fields) {
    process.stderr.write(`lignum log: ${message}${fields ? ' ' + JSON.stringify(fields) : ''}\n`)
  },
}

interface ValidatedBatch {
  position: number
  header: BatchHeader
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

function recordsIn(validated: ValidatedBatch[]): number {
  let records = 0
  for (const {header} of validated) records += header.lastOffsetDelta + 1
  return records
}

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
  private readsInFlight = 0
  private retired: Segment[] = []
  private flushTimer: NodeJS.Timeout | null = null
  private closing: Promise<void> | null = null
  private configValue: PartitionLogConfig
  readonly leaderEpochs: LeaderEpochCheckpoint
  /** Read-only logs: the first bad batch, where reading stops. */
  readonly fault: LogFault | null

  private constructor(
    readonly dir: string,
    readonly topic: string,
    readonly partition: number,
    config: PartitionLogConfig,
    segments: Segment[],
    leaderEpochs: LeaderEpochCheckpoint,
    fault: LogFault | null,
    private readonly readOnly: boolean,
    private readonly logger: LogLogger,
    private readonly clock: () => number,
  ) {
    this.configValue = config
    this.segmentList = segments
    this.leaderEpochs = leaderEpochs
    this.fault = fault
    this.durableOffset = this.logEndOffset
  }

  static async open(dir: string, config: Partial<PartitionLogConfig> = {}, options: PartitionLogOptions = {}): Promise<PartitionLog> {
    const fullConfig = validateConfig({...defaultPartitionLogConfig, ...config})
    const readOnly = options.readOnly ?? false
    const logger = options.logger ?? stderrLogger
    const clock = options.clock ?? Date.now
    const name = parsePartitionDirName(path.basename(dir))
    if (name === null) {
      throw new LignumError('DATA_DIR', `${dir} is not a partition directory: its name must be <topic>-<partition>, e.g. orders-0`)
    }
    await prepareDirectory(dir, readOnly)
    const loaded = await loadSegments(dir, {readOnly, indexIntervalBytes: fullConfig.indexIntervalBytes, nowMs: clock(), logger})
    try {
      if (loaded.segments.length === 0 && !readOnly) {
        loaded.segments.push(await Segment.create(dir, 0, fullConfig.indexIntervalBytes, clock()))
        // A new partition's directory and first files must survive a power loss like its data.
        await syncDirectory(dir)
        await syncDirectory(path.dirname(dir))
      }
      let log: PartitionLog | null = null
      const leaderEpochs = await LeaderEpochCheckpoint.load(dir, () => log?.logEndOffset ?? 0, readOnly)
      log = new PartitionLog(dir, name.topic, name.partition, fullConfig, loaded.segments, leaderEpochs, loaded.fault, readOnly, logger, clock)
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

  segments(): SegmentInfo[] {
    return this.segmentList.map((segment) => ({
      baseOffset: segment.baseOffset,
      lastOffset: segment.lastOffset,
      recordCount: segment.recordCount,
      batchCount: segment.batchCount,
      sizeBytes: segment.sizeBytes,
      firstTimestamp: segment.firstTimestamp,
      lastTimestamp: segment.lastTimestamp,
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
  append(batches: Buffer, options: {leaderEpoch?: number} = {}): Promise<AppendInfo> {
    let validated: ValidatedBatch[]
    try {
      this.assertWritable()
      validated = validateBatches(batches, this.configValue.segmentBytes)
    } catch (error) {
      return Promise.reject(error)
    }
    const appended = new Promise<{info: AppendInfo; sequence: number}>((resolve, reject) => {
      this.joinAppendGroup({batches, validated, leaderEpoch: options.leaderEpoch, resolve, reject})
    })
    if (this.configValue.flushPolicy !== 'always') return appended.then(({info}) => info)
    return appended.then(async ({info, sequence}) => {
      await this.syncThrough(sequence)
      return info
    })
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

  private async appendGroup(members: PendingAppend[]): Promise<void> {
    let start = 0
    while (start < members.length) {
      const chunk = await this.assignOffsetsForSegment(members, start)
      start += chunk.length
      try {
        await this.active.append(
          chunk.map((entry) => entry.pending.batches),
          chunk.flatMap((entry) => entry.assigned),
        )
      } catch (error) {
        for (const entry of chunk) entry.pending.reject(error)
        continue
      }
      this.writtenSequence++
      for (const entry of chunk) entry.pending.resolve({info: entry.info, sequence: this.writtenSequence})
    }
    assertOffset(this.logEndOffset, 'log end offset after append')
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
    } finally {
      this.syncing = null
    }
  }

  /** Writes index files, fdatasyncs the log and records the recovery point. */
  async flush(): Promise<void> {
    if (this.readOnly) return
    const sequence = await this.enqueue(async () => {
      await this.active.flush(false)
      return this.writtenSequence
    })
    await this.syncThrough(sequence)
    await this.enqueue(() => writeRecoveryPoint(this.dir, Math.min(this.durableOffset, this.logEndOffset)))
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
    return this.enqueue(() => this.rollNow())
  }

  /** Closes the active segment durably and starts a new one at the log end offset. */
  private async rollNow(): Promise<void> {
    const previous = this.active
    if (previous.sizeBytes === 0) return
    await previous.flush(true)
    this.syncedSequence = this.writtenSequence
    this.durableOffset = previous.nextOffset
    this.segmentList.push(await Segment.create(this.dir, previous.nextOffset, this.configValue.indexIntervalBytes, this.clock()))
    await syncDirectory(this.dir)
    await writeRecoveryPoint(this.dir, this.durableOffset)
  }

  /** Deletes whole old segments past retentionMs (by their newest timestamp) or retentionBytes. */
  async applyRetention(nowMs?: number): Promise<{deletedSegments: number}> {
    this.assertWritable()
    return this.enqueue(async () => {
      const now = nowMs ?? this.clock()
      let deletedSegments = 0
      while (this.isExpired(this.segmentList[0], now) || this.exceedsRetentionBytes()) {
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
   * Drops everything at or after `offset`. The log keeps whole batches: if `offset` falls inside
   * a batch, that whole batch goes and the log end offset becomes the batch's base offset.
   */
  async truncateTo(offset: number): Promise<void> {
    this.assertWritable()
    assertOffset(offset, 'truncation offset')
    return this.enqueue(async () => {
      if (offset >= this.logEndOffset) return
      if (offset <= this.logStartOffset) {
        await this.truncateFullyAndStartAt(offset)
      } else {
        await this.truncateWithin(offset)
      }
      this.durableOffset = Math.min(this.durableOffset, this.logEndOffset)
      await writeRecoveryPoint(this.dir, this.durableOffset)
      await this.leaderEpochs.truncateFromEnd(this.logEndOffset)
      this.logger.info('truncated the log', {dir: this.dir, offset, logEndOffset: this.logEndOffset})
    })
  }

  private async truncateWithin(offset: number): Promise<void> {
    while (this.active.baseOffset >= offset && this.segmentList.length > 1) {
      await this.retire(this.segmentList.pop()!)
    }
    const segment = this.active
    const found = await segment.findBatch(offset)
    if (found !== null) await segment.truncateToPosition(found.position)
  }

  private async truncateFullyAndStartAt(offset: number): Promise<void> {
    while (this.segmentList.length > 0) await this.retire(this.segmentList.pop()!)
    this.segmentList.push(await Segment.create(this.dir, offset, this.configValue.indexIntervalBytes, this.clock()))
    await syncDirectory(this.dir)
  }

  private async retire(segment: Segment): Promise<void> {
    await segment.unlinkFiles()
    if (this.readsInFlight === 0) {
      await segment.closeHandle()
    } else {
      this.retired.push(segment)
    }
  }

  // ---- reads ----

  /**
   * Whole batches from the one that holds `fromOffset`: at least one if any, then as many as fit
   * in `maxBytes`, all with a last offset below `upToOffset` (default: the log end offset).
   */
  async read(fromOffset: number, options: {maxBytes?: number; upToOffset?: number} = {}): Promise<ReadResult> {
    this.checkReadable(fromOffset)
    const upToOffset = Math.min(options.upToOffset ?? OFFSET_MAX, this.logEndOffset)
    const maxBytes = options.maxBytes ?? READ_BYTES_DEFAULT
    const empty = {batches: Buffer.alloc(0), nextOffset: fromOffset}
    if (fromOffset >= upToOffset) return empty
    this.readsInFlight++
    try {
      for (let index = this.segmentIndexFor(fromOffset); index < this.segmentList.length; index++) {
        const segment = this.segmentList[index]
        const found = await segment.findBatch(fromOffset)
        if (found === null) continue
        const result = await segment.readBatches(found.position, maxBytes, upToOffset)
        return result.batches.length === 0 ? empty : result
      }
      return empty
    } finally {
      this.readsInFlight--
      if (this.readsInFlight === 0) await this.closeRetired()
    }
  }

  /** The first offset whose record timestamp is >= timestampMs, or null when every record is older. */
  async offsetForTimestamp(timestampMs: number): Promise<number | null> {
    this.readsInFlight++
    try {
      for (const segment of [...this.segmentList]) {
        const offset = await segment.offsetForTimestamp(timestampMs)
        if (offset !== null) return offset
      }
      return null
    } finally {
      this.readsInFlight--
      if (this.readsInFlight === 0) await this.closeRetired()
    }
  }

  private checkReadable(fromOffset: number): void {
    if (this.closing !== null) throw new LignumError('UNAVAILABLE', `the log of ${this.topic}-${this.partition} is closed`)
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

  private async closeRetired(): Promise<void> {
    const retired = this.retired
    this.retired = []
    for (const segment of retired) await segment.closeHandle()
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
      await this.active.flush(true)
      this.durableOffset = this.logEndOffset
      await writeRecoveryPoint(this.dir, this.logEndOffset)
    }
    for (const segment of this.segmentList) await segment.close()
    await this.closeRetired()
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
  }
}

/** Whole v2 batches with valid CRCs and dense record counts, or CORRUPT_RECORD naming the first fault. */
function validateBatches(batches: Buffer, segmentBytes: number): ValidatedBatch[] {
  const corrupt = (position: number, why: string) => new LignumError('CORRUPT_RECORD', `append rejected, nothing written: the batch at byte ${position} ${why}`)
  if (batches.length > segmentBytes) {
    throw new LignumError('RECORD_TOO_LARGE', `append of ${batches.length} bytes is larger than segmentBytes (${segmentBytes}); send smaller batches or raise segmentBytes`)
  }
  const validated: ValidatedBatch[] = []
  let position = 0
  while (position < batches.length) {
    if (position + BATCH_HEADER_BYTES > batches.length) throw corrupt(position, `is cut short (${batches.length - position} bytes, a header alone is ${BATCH_HEADER_BYTES})`)
    const header = readBatchHeader(batches, position)
    if (position + header.sizeBytes > batches.length) throw corrupt(position, `claims ${header.sizeBytes} bytes but ${batches.length - position} remain`)
    if (!isBatchCrcValid(batches, position)) throw corrupt(position, 'fails its CRC-32C check')
    if (header.recordCount !== header.lastOffsetDelta + 1) throw corrupt(position, `holds ${header.recordCount} records but its last offset delta is ${header.lastOffsetDelta}`)
    validated.push({position, header})
    position += header.sizeBytes
  }
  if (validated.length === 0) throw new LignumError('INVALID_ARGUMENT', 'append of an empty buffer; send at least one record batch')
  return validated
}

function validateConfig(config: PartitionLogConfig): PartitionLogConfig {
  const bad = (what: string) => new LignumError('CONFIG', `log configuration: ${what}`)
  if (!Number.isInteger(config.segmentBytes) || config.segmentBytes < BATCH_HEADER_BYTES || config.segmentBytes > SEGMENT_BYTES_MAX) {
    throw bad(`segmentBytes ${config.segmentBytes} must be a whole number from ${BATCH_HEADER_BYTES} to ${SEGMENT_BYTES_MAX}`)
  }
  if (!(config.segmentMs > 0)) throw bad(`segmentMs ${config.segmentMs} must be positive`)
  if (!Number.isInteger(config.retentionMs) || config.retentionMs < -1) throw bad(`retentionMs ${config.retentionMs} must be -1 (forever) or a whole number of milliseconds`)
  if (!Number.isInteger(config.retentionBytes) || config.retentionBytes < -1) throw bad(`retentionBytes ${config.retentionBytes} must be -1 (unlimited) or a whole number of bytes`)
  if (!Number.isInteger(config.indexIntervalBytes) || config.indexIntervalBytes < 0) throw bad(`indexIntervalBytes ${config.indexIntervalBytes} must be a whole number of bytes`)
  const policy = config.flushPolicy
  if (policy !== 'always' && policy !== 'never' && !(typeof policy === 'object' && policy.intervalMs > 0)) {
    throw bad(`flushPolicy must be "always", "never" or {intervalMs: N} with N > 0`)
  }
  return config
}

async function prepareDirectory(dir: string, readOnly: boolean): Promise<void> {
  if (!readOnly) {
    await mkdir(dir, {recursive: true})
    return
  }
  const info = await stat(dir).catch(() => null)
  if (info === null || !info.isDirectory()) {
    throw new LignumError('DATA_DIR', `${dir} does not exist or is not a directory; give the path of a partition directory`)
  }
}

/** New and removed segment files must survive a crash too: their directory entry is synced. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
