/**
 * One partition as this node holds it: the per-partition state machine replication builds on.
 * It owns the log, the role (leader or follower) and leader epoch, the high watermark, the
 * idempotent producers' state, and the fetches and acks=all produces waiting on it. No
 * transport and no timers of its own: waits go through the injected clock.
 *
 * Invariants: logStartOffset <= highWatermark <= logEndOffset, and the high watermark never
 * moves backwards except by a follower's truncation. A leader stamps its epoch in every batch
 * it appends (the log records where each epoch starts); a follower appends the leader's
 * batches unchanged. Producer state is exactly the batches written before any queued log
 * operation runs, so a snapshot taken at a roll is complete.
 *
 * Replication (leader side): the leader tracks each follower's log end offset (a fetch
 * reporting N says the follower holds everything below N; it may read from further on while
 * it appends an answer) and when it last caught up. The high watermark
 * is the smallest log end offset of the in-sync replicas, the leader's own included, and never
 * moves backwards while leading. ISR changes are only proposed here (pure functions of state
 * and time); the leader acts on one after the control plane confirmed it (applyIsr). While an
 * expansion is being written the joining replica already counts for the high watermark: the
 * control plane may elect it as soon as the write lands, so nothing it lacks may be committed.
 *
 * On open: a leader's high watermark is its log end offset (standalone, it acknowledged all of
 * it); a follower's is min(high-watermark checkpoint, log end offset). Producer state comes
 * from the newest snapshot not past the log end, then the batches after it; without a usable
 * snapshot, from the whole log (logged).
 */
import {LignumError} from '../errors.js'
import {checkClientLeaderEpoch, epochAtOffset, epochEndForClient, type EpochEnd} from './client-leader-epochs.js'
import type {Logger} from '../logger.js'
import {batchPositions, isBatchCrcValid, type BatchHeader} from '../format/record-batch.js'
import {readHighWatermarkCheckpoint, writeHighWatermarkCheckpoint} from '../log/high-watermark-checkpoint.js'
import {fileSystem} from '../log/file-system.js'
import {InSyncReplicas, type FollowerState, type LeaderReplicationState} from './in-sync-replicas.js'
import {PartitionDamagedError, PartitionLog, type AppendInfo, type PartitionDamage, type PartitionLogConfig, type ReadResult, type TruncateOptions} from '../log/partition-log.js'
import type {OpenFile} from '../log/segment-handles.js'
import {deleteProducerSnapshot, listSnapshotOffsets, readProducerSnapshot, snapshotFileName, writeProducerSnapshot} from './producer-snapshot.js'
import {lastSequenceOf, ProducerStateTable, type BatchOffsets, type ProducerBatch} from './producer-state.js'

export type PartitionRole = 'leader' | 'follower'

/** Time as the partition sees it: injected so tests decide when waits end. */
export interface PartitionClock {
  nowMs(): number
  /** Runs `task` once after `delayMs`; returns a function that cancels it. */
  schedule(delayMs: number, task: () => void): () => void
}

export const systemClock: PartitionClock = {
  nowMs: () => Date.now(),
  schedule(delayMs, task) {
    const timer = setTimeout(task, delayMs)
    return () => clearTimeout(timer)
  },
}

export interface PartitionOptions {
  logger: Logger
  clock?: PartitionClock
  /** Standalone nodes lead every partition. */
  role?: PartitionRole
  leaderEpoch?: number
  /** How the log opens its segment files: a seam for simulated disks (default node:fs). */
  openFile?: OpenFile
}

export interface FetchResult extends ReadResult {
  highWatermark: number
  logStartOffset: number
}

export interface PartitionDescription {
  partition: number
  /** "damaged": offline until repaired (broker/damaged-partition.ts); its offsets are then -1 and its sizes 0. */
  state: 'online' | 'damaged'
  damage?: PartitionDamage & {repair: string}
  logStartOffset: number
  logEndOffset: number
  highWatermark: number
  segmentCount: number
  sizeBytes: number
}

export type {FollowerState, LeaderReplicationState} from './in-sync-replicas.js'

export interface ReplicaFetchRequest {
  replicaId: number
  /** Where the answer starts: the follower's log end, or past it while it appends the previous answer. */
  fetchOffset: number
  /**
   * What the follower has appended (at most fetchOffset): this, not fetchOffset, counts toward
   * the high watermark and the ISR. Absent: fetchOffset.
   */
  replicaLogEndOffset?: number
  /** The follower's process incarnation: a new one means it restarted (InSyncReplicas.recordFetch). */
  replicaIncarnation?: string
  /** The leader epoch the follower follows: fenced when older than this leader's, refused when newer. */
  leaderEpoch: number
  maxBytes: number
  maxWaitMs: number
}

export interface ReplicaFetchResult extends FetchResult {
  /** The leader's log end offset when it answered: the follower is behind while its answer ends below it. */
  logEndOffset: number
}

export interface LeaderAppendOptions {
  /** With "all", refused with NOT_ENOUGH_REPLICAS before appending when the ISR is below its minimum. */
  acks?: 0 | 1 | 'all'
}

export interface LeaderAppendResult extends BatchOffsets {
  /** True when the batch was a producer's retry, answered with the first append's offsets. */
  duplicate: boolean
}

interface HighWatermarkWaiter {
  offset: number
  /** Told the committed ISR's size at the moment the high watermark passed the offset. */
  resolve: (isrSize: number) => void
  reject: (error: LignumError) => void
}

// ListOffsets' timestamps for the end (the high watermark) and the start of the log, as Kafka names them.
const LIST_LATEST = -1
const LIST_EARLIEST = -2
// Reading the log to rebuild producer state happens in chunks of this size.
const PRODUCER_REPLAY_CHUNK_BYTES = 1024 * 1024

export class Partition {
  private roleValue: PartitionRole
  private epoch: number
  private highWatermarkOffset = 0
  private checkpointedHighWatermark = -1
  /** The offset of the newest snapshot on disk: producer state only changes with the log end, so one there is current. */
  private snapshotOffset = -1
  private readonly producers: ProducerStateTable
  private readonly fetchWaiters = new Set<() => void>()
  private readonly highWatermarkWaiters = new Set<HighWatermarkWaiter>()
  /** Followers' long polls at the leader's log end: woken by an append or a high watermark move. */
  private readonly replicaFetchWaiters = new Set<() => void>()
  /** Leader side of replication. Standalone (no state given) the ISR is this node alone. */
  private readonly inSync = new InSyncReplicas()
  /** Called when a follower's fetch made it eligible to (re)join the ISR. */
  onFollowerCaughtUp: ((replicaId: number) => void) | null = null
  /**
   * Cluster mode: what else leading needs right now (the node's lease valid and this leadership
   * confirmed under it). While it fails the partition still holds the leader role but acts on
   * none of it: no appends, no high watermark advance, no ISR change.
   */
  private leadershipGuard: (() => boolean) | null = null
  private log!: PartitionLog
  private closed = false
  /** Retries answered from producer state instead of appended: proof that dedupe ran. */
  duplicatesAnswered = 0

  private constructor(
    readonly topic: string,
    readonly partition: number,
    readonly dir: string,
    private readonly logger: Logger,
    private readonly clock: PartitionClock,
    role: PartitionRole,
    leaderEpoch: number,
  ) {
    this.roleValue = role
    this.epoch = leaderEpoch
    this.producers = new ProducerStateTable(this.name)
  }

  static async open(topic: string, index: number, dir: string, logConfig: Partial<PartitionLogConfig>, options: PartitionOptions): Promise<Partition> {
    const clock = options.clock ?? systemClock
    const partition = new Partition(topic, index, dir, options.logger, clock, options.role ?? 'leader', options.leaderEpoch ?? 0)
    partition.log = await PartitionLog.open(dir, logConfig, {logger: options.logger, clock: () => clock.nowMs(), openFile: options.openFile, onRoll: (baseOffset) => partition.snapshotProducers(baseOffset)})
    try {
      await partition.loadHighWatermark()
      await partition.loadProducerState()
    } catch (error) {
      await partition.log.close().catch(() => {})
      throw error
    }
    return partition
  }

  get name(): string {
    return `${this.topic}-${this.partition}`
  }

  get role(): PartitionRole {
    return this.roleValue
  }

  get leaderEpoch(): number {
    return this.epoch
  }

  get highWatermark(): number {
    return this.highWatermarkOffset
  }

  get logStartOffset(): number {
    return this.log.logStartOffset
  }

  get logEndOffset(): number {
    return this.log.logEndOffset
  }

  /** The latest epoch the log holds, and where each epoch ends (Kafka's OffsetsForLeaderEpoch). */
  get latestLogEpoch(): number {
    return this.log.latestEpoch
  }

  endOffsetForEpoch(epoch: number): {epoch: number; endOffset: number} {
    return this.log.endOffsetFor(epoch)
  }

  // ---- leader epochs as clients name them (client-leader-epochs.ts) ----

  /** Fences a client's request by the leader epoch its metadata names (-1: not fenced). */
  checkClientLeaderEpoch(currentLeaderEpoch: number): void {
    checkClientLeaderEpoch(this.name, this.epoch, currentLeaderEpoch)
  }

  /**
   * Kafka's OffsetForLeaderEpoch as the leader answers a consumer validating its position:
   * fenced by `currentLeaderEpoch`, then where `epoch` ends on this log. A follower, or a leader
   * that may not act on its leadership now, refuses it: the consumer asks the current leader.
   */
  clientEndOffsetForEpoch(currentLeaderEpoch: number, epoch: number): EpochEnd {
    this.checkOpen()
    this.checkClientLeaderEpoch(currentLeaderEpoch)
    if (!this.actsAsLeader) throw new LignumError('NOT_LEADER', `this node does not act as the leader of ${this.name} (leader epoch ${this.epoch}); ask its current leader`)
    return epochEndForClient(this.log.epochEntries(), this.log.logEndOffset, epoch)
  }

  /** The leader epoch ListOffsets gives `offset`: the latest epoch for the end, else the epoch it was written in. */
  listedOffsetEpoch(timestamp: number, offset: number): number {
    return timestamp === LIST_LATEST ? this.log.latestEpoch : epochAtOffset(this.log.epochEntries(), offset)
  }

  describe(): PartitionDescription {
    const segments = this.log.segments()
    return {
      partition: this.partition,
      state: 'online',
      logStartOffset: this.log.logStartOffset,
      logEndOffset: this.log.logEndOffset,
      highWatermark: this.highWatermarkOffset,
      segmentCount: segments.length,
      sizeBytes: segments.reduce((sum, segment) => sum + segment.sizeBytes, 0),
    }
  }

  // ---- role ----

  /**
   * Leads from `leaderEpoch` on: appends are stamped with it. An older epoch is refused. With
   * `replication`, the high watermark waits for the in-sync followers; their log end offsets
   * are unknown until they fetch, and in-sync ones get replicaLagMaxMs from now to do so.
   */
  becomeLeader(leaderEpoch: number, replication?: LeaderReplicationState): void {
    this.checkNewerEpoch(leaderEpoch)
    const newLeadership = this.roleValue !== 'leader' || leaderEpoch !== this.epoch
    this.roleValue = 'leader'
    this.epoch = leaderEpoch
    this.inSync.lead(replication, newLeadership, this.log.logEndOffset, this.clock.nowMs())
    this.advanceHighWatermark()
  }

  /** Follows the leader of `leaderEpoch`: takes only appendAsFollower from now on. */
  becomeFollower(leaderEpoch: number): void {
    this.checkNewerEpoch(leaderEpoch)
    this.roleValue = 'follower'
    this.epoch = leaderEpoch
    this.inSync.forget()
    this.wakeReplicaFetchers()
    this.rejectHighWatermarkWaiters(new LignumError('NOT_LEADER', `${this.name} is no longer the leader; its acks=all produces must be retried on the new leader`))
  }

  /** Cluster mode: from now on leading also needs `guard` to hold (see leadershipGuard). */
  setLeadershipGuard(guard: (() => boolean) | null): void {
    this.leadershipGuard = guard
  }

  /** Leads and may act on it now: the role, and the guard when there is one. */
  get actsAsLeader(): boolean {
    return this.roleValue === 'leader' && (this.leadershipGuard?.() ?? true)
  }

  /**
   * The guard stopped holding (the lease lapsed): acks=all waiters fail retriably now, rather
   * than at their timeout, since this node will not advance its high watermark for them.
   */
  leadershipSuspended(): void {
    this.rejectHighWatermarkWaiters(new LignumError('NOT_LEADER', `${this.name}: this node's lease in the cluster lapsed, it no longer acts as leader; retry on the partition's current leader`))
  }

  /** The guard holds again: catch up on high watermark moves held back meanwhile. */
  leadershipResumed(): void {
    this.advanceHighWatermark()
  }

  private checkNewerEpoch(leaderEpoch: number): void {
    if (!Number.isInteger(leaderEpoch) || leaderEpoch < this.epoch) {
      throw new LignumError('FENCED_LEADER_EPOCH', `${this.name} is at leader epoch ${this.epoch}; epoch ${leaderEpoch} is older and is refused`)
    }
  }

  // ---- appends ----

  /**
   * A leader's append of a client's batches, stamped with the leader epoch. An idempotent
   * producer's batch (one per request, as Kafka requires) is checked against its producer's
   * last sequences first: a retry gets its first offsets, a gap or an older sequence is
   * refused and nothing is appended. Resolves once the batch is in the log (per flush policy).
   */
  appendAsLeader(batches: Buffer, options: LeaderAppendOptions = {}): Promise<LeaderAppendResult> {
    try {
      this.checkOpen()
      if (this.roleValue !== 'leader') throw new LignumError('NOT_LEADER', `this node follows ${this.name} (leader epoch ${this.epoch}); send produce requests to its leader`)
      if (!this.actsAsLeader) {
        this.leadershipSuspended()
        throw new LignumError('NOT_LEADER', `this node's lease in the cluster lapsed or its leadership of ${this.name} (leader epoch ${this.epoch}) is not confirmed yet; retry on the partition's current leader`)
      }
      if (options.acks === 'all') this.checkEnoughReplicas()
      const sequenced = sequencedHeader(batches)
      if (sequenced === null) return this.log.append(batches, {leaderEpoch: this.epoch}).then((info) => this.acknowledged(info, false))
      const duplicate = this.producers.check(sequenced)
      // A damaged copy of a retry is not answered as one: the log's append refuses it.
      if (duplicate && isBatchCrcValid(batches)) {
        this.duplicatesAnswered++
        return duplicate.offsets.then((offsets) => ({...offsets, duplicate: true}))
      }
      return this.appendSequenced(batches, sequenced)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private appendSequenced(batches: Buffer, header: BatchHeader): Promise<LeaderAppendResult> {
    const batch: ProducerBatch = {
      producerEpoch: header.producerEpoch,
      baseSequence: header.baseSequence,
      lastSequence: lastSequenceOf(header.baseSequence, header.recordCount),
      offsets: Promise.resolve({baseOffset: -1, lastOffset: -1}),
    }
    const appended = this.log.append(batches, {
      leaderEpoch: this.epoch,
      onWritten: (info) => (batch.written = {baseOffset: info.baseOffset, lastOffset: info.lastOffset, maxTimestamp: info.maxTimestamp}),
    })
    batch.offsets = appended.then((info) => ({baseOffset: info.baseOffset, lastOffset: info.lastOffset}))
    batch.offsets.catch(() => this.producers.forget(header.producerId, batch))
    this.producers.remember(header.producerId, batch)
    return appended.then((info) => this.acknowledged(info, false))
  }

  /** The committed ISR (not a pending change) decides: acknowledging with fewer would promise durability it lacks. */
  private checkEnoughReplicas(): void {
    const isr = this.inSync.isr
    if (isr.length >= this.inSync.minInsyncReplicas) return
    throw new LignumError(
      'NOT_ENOUGH_REPLICAS',
      `${this.name} has ${isr.length} in-sync replica(s) [${isr.join(', ')}], fewer than its minimum of ${this.inSync.minInsyncReplicas}; nothing was appended. Retry once followers catch up, or produce with acks=1`,
    )
  }

  private acknowledged(info: AppendInfo, duplicate: boolean): LeaderAppendResult {
    this.advanceHighWatermark()
    this.wakeReplicaFetchers()
    return {baseOffset: info.baseOffset, lastOffset: info.lastOffset, duplicate}
  }

  /** The leader's high watermark: what every in-sync replica holds (standalone: what its own log acknowledged). */
  private advanceHighWatermark(): void {
    if (!this.actsAsLeader) return
    this.raiseHighWatermark(this.inSync.lowestInSyncLogEnd(this.log.logEndOffset))
  }

  // ---- replication, leader side ----

  get isr(): readonly number[] {
    return this.inSync.isr
  }

  get replicas(): readonly number[] {
    return this.inSync.replicas
  }

  get minInsyncReplicas(): number {
    return this.inSync.minInsyncReplicas
  }

  /** An ISR change being written to the control plane; at most one at a time. */
  get pendingIsr(): readonly number[] | null {
    return this.inSync.pending
  }

  /** A copy of what the leader knows of a follower, for status and tests. */
  followerState(replicaId: number): FollowerState | undefined {
    return this.inSync.followerState(replicaId)
  }

  /** A follower fetched holding everything below `logEndOffset` (see InSyncReplicas.recordFetch); the high watermark may move. */
  recordFollowerFetch(replicaId: number, logEndOffset: number, nowMs: number, incarnation?: string): void {
    if (this.roleValue !== 'leader') return
    this.inSync.recordFetch(replicaId, logEndOffset, this.log.logEndOffset, nowMs, incarnation)
    this.advanceHighWatermark()
    if (this.onFollowerCaughtUp && this.proposeIsrExpand(replicaId) !== null) this.onFollowerCaughtUp(replicaId)
  }

  /** The ISR without followers lagging past `replicaLagMaxMs`; null when none lags, or this node does not lead. */
  proposeIsrShrink(nowMs: number, replicaLagMaxMs: number): number[] | null {
    if (!this.actsAsLeader) return null
    return this.inSync.proposeShrink(this.log.logEndOffset, nowMs, replicaLagMaxMs)
  }

  /** The ISR with a caught-up `replicaId` added; null when it is not eligible, or this node does not lead. */
  proposeIsrExpand(replicaId: number): number[] | null {
    if (!this.actsAsLeader) return null
    return this.inSync.proposeExpand(replicaId, this.highWatermarkOffset)
  }

  /** The incarnation a follower last fetched with (or the control plane recorded for it); undefined when unknown. */
  followerIncarnation(replicaId: number): string | undefined {
    return this.inSync.followerState(replicaId)?.incarnation
  }

  /** An ISR change is being written to the control plane: no other is proposed meanwhile. */
  beginIsrChange(isr: number[]): void {
    if (this.roleValue !== 'leader') throw new LignumError('NOT_LEADER', `this node follows ${this.name}; only its leader changes its ISR`)
    this.inSync.begin(isr)
  }

  /** The write failed: the leader keeps its ISR as it was. */
  abortIsrChange(): void {
    this.inSync.abort()
    // A newcomer that counted while pending no longer holds the high watermark back.
    this.advanceHighWatermark()
  }

  /**
   * The control plane holds `isr` for `leaderEpoch` (a check-and-set write succeeded, or its
   * state says so): the leader acts on it. Refused for another epoch: a confirmation from a
   * leadership that has ended says nothing about this one.
   */
  applyIsr(isr: number[], leaderEpoch: number, isrIncarnations?: Readonly<Record<number, string>>): void {
    if (this.roleValue !== 'leader' || leaderEpoch !== this.epoch) {
      throw new LignumError('FENCED_LEADER_EPOCH', `${this.name} is at leader epoch ${this.epoch} (${this.roleValue}); an ISR for epoch ${leaderEpoch} does not apply`)
    }
    this.inSync.apply(isr, this.clock.nowMs(), isrIncarnations)
    this.advanceHighWatermark()
  }

  /** Checks a replica's request names this leader's epoch: older is fenced, newer not known yet. */
  private checkReplicaEpoch(leaderEpoch: number): void {
    if (this.roleValue !== 'leader') {
      // The control plane names one leader per epoch, so a replica naming this node leader of an
      // epoch it has not led is ahead of it: each node applies the state from its own watch, and
      // a new partition's followers often ask before its leader heard. They retry (as Kafka's
      // fetcher does on NOT_LEADER_OR_FOLLOWER); only a replica behind this node's epoch is stale.
      if (leaderEpoch >= this.epoch) throw new LignumError('UNKNOWN_LEADER_EPOCH', `this node does not lead ${this.name} at leader epoch ${leaderEpoch} yet (it follows at epoch ${this.epoch}); retry shortly`)
      throw new LignumError('NOT_LEADER', `this node follows ${this.name} (leader epoch ${this.epoch}); fetch from its leader`)
    }
    if (leaderEpoch < this.epoch) throw new LignumError('FENCED_LEADER_EPOCH', `${this.name} is at leader epoch ${this.epoch}; a replica following epoch ${leaderEpoch} must learn the new partition state`)
    if (leaderEpoch > this.epoch) throw new LignumError('UNKNOWN_LEADER_EPOCH', `${this.name} is at leader epoch ${this.epoch} and has not learned epoch ${leaderEpoch} yet; retry shortly`)
    // A leadership this node does not act on (its lease lapsed, or it was given to the process
    // before a restart, whose unflushed tail may be gone) must not tell followers where its
    // epoch ends: they would truncate acknowledged records to a log that lost them.
    if (!this.actsAsLeader) throw new LignumError('UNAVAILABLE', `this node leads ${this.name} at leader epoch ${this.epoch} but does not act on it (its lease lapsed, or the leadership is not confirmed since it started); the follower retries`)
  }

  /** Kafka's OffsetsForLeaderEpoch as a leader answers a follower: the largest epoch <= `epoch` and where it ends. */
  leaderEndOffsetForEpoch(epoch: number, leaderEpoch: number): {epoch: number; endOffset: number} {
    this.checkOpen()
    this.checkReplicaEpoch(leaderEpoch)
    return this.log.endOffsetFor(epoch)
  }

  /**
   * A follower's fetch: records its log end offset (what it appended, never more), then answers
   * batches from `fetchOffset` up to the leader's log end (not the high watermark: followers
   * copy what is not yet committed). At the log end it waits up to maxWaitMs for an append or a
   * high watermark move.
   */
  async fetchForReplica(request: ReplicaFetchRequest, signal?: AbortSignal): Promise<ReplicaFetchResult> {
    this.checkOpen()
    this.checkReplicaEpoch(request.leaderEpoch)
    this.checkReplicaFetchOffset(request.fetchOffset)
    const replicaLogEndOffset = request.replicaLogEndOffset ?? request.fetchOffset
    if (!Number.isSafeInteger(replicaLogEndOffset) || replicaLogEndOffset < 0 || replicaLogEndOffset > request.fetchOffset) {
      throw new LignumError('INVALID_ARGUMENT', `replica ${request.replicaId} reports log end offset ${replicaLogEndOffset} for ${this.name} but fetches from ${request.fetchOffset}; a follower fetches at or past what it appended`)
    }
    this.recordFollowerFetch(request.replicaId, replicaLogEndOffset, this.clock.nowMs(), request.replicaIncarnation)
    if (request.fetchOffset === this.log.logEndOffset && request.maxWaitMs > 0) await this.waitForReplicaData(request.maxWaitMs, signal)
    this.checkOpen()
    this.checkReplicaEpoch(request.leaderEpoch)
    this.checkReplicaFetchOffset(request.fetchOffset)
    const result = await this.log.read(request.fetchOffset, {maxBytes: request.maxBytes})
    return {...result, highWatermark: this.highWatermarkOffset, logStartOffset: this.log.logStartOffset, logEndOffset: this.log.logEndOffset}
  }

  private checkReplicaFetchOffset(offset: number): void {
    const start = this.log.logStartOffset
    const end = this.log.logEndOffset
    if (!Number.isSafeInteger(offset) || offset < start || offset > end) {
      throw new LignumError('OFFSET_OUT_OF_RANGE', `replica fetch offset ${offset} is out of range for ${this.name}: the leader holds offsets ${start} to ${end - 1}; truncate to the leader's epoch end or start at its log start`)
    }
  }

  private waitForReplicaData(maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return this.waitIn(this.replicaFetchWaiters, maxWaitMs, signal)
  }

  private wakeReplicaFetchers(): void {
    for (const wake of [...this.replicaFetchWaiters]) wake()
  }

  /** Moves the high watermark forward (never back) and releases what waited for it. */
  private raiseHighWatermark(offset: number): void {
    if (offset <= this.highWatermarkOffset) return
    this.highWatermarkOffset = offset
    for (const waiter of [...this.highWatermarkWaiters]) {
      if (waiter.offset < offset) waiter.resolve(this.inSync.isr.length)
    }
    this.wakeFetchers()
    this.wakeReplicaFetchers()
  }

  /**
   * Resolves once the high watermark is past `lastOffset` (acks=all); REQUEST_TIMED_OUT after
   * `timeoutMs`. The batch stays in the log either way.
   */
  waitForHighWatermark(lastOffset: number, timeoutMs: number): Promise<void> {
    return this.highWatermarkPast(lastOffset, timeoutMs).then(() => undefined)
  }

  /**
   * acks=all: resolves once the high watermark is past `lastOffset` with at least min ISR
   * replicas in sync when it got there. An ISR that shrank to below its minimum moves the
   * high watermark up to what fewer replicas hold; a write it covers then has too few copies,
   * and is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND (Kafka's answer) instead of acknowledged.
   */
  async waitForReplication(lastOffset: number, timeoutMs: number): Promise<void> {
    const isrSize = await this.highWatermarkPast(lastOffset, timeoutMs)
    if (isrSize >= this.inSync.minInsyncReplicas) return
    throw new LignumError(
      'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
      `offset ${lastOffset} of ${this.name} was appended, but only ${isrSize} replica(s) were in sync when it was committed, fewer than its minimum of ${this.inSync.minInsyncReplicas}; retry once followers catch up (an idempotent producer's retry is not duplicated)`,
    )
  }

  private highWatermarkPast(lastOffset: number, timeoutMs: number): Promise<number> {
    if (lastOffset < this.highWatermarkOffset) return Promise.resolve(this.inSync.isr.length)
    return new Promise((resolve, reject) => {
      const waiter: HighWatermarkWaiter = {
        offset: lastOffset,
        resolve: (isrSize) => finish(() => resolve(isrSize)),
        reject: (error) => finish(() => reject(error)),
      }
      const cancel = this.clock.schedule(timeoutMs, () =>
        waiter.reject(new LignumError('REQUEST_TIMED_OUT', `offset ${lastOffset} of ${this.name} was appended but not replicated within ${timeoutMs} ms (high watermark ${this.highWatermarkOffset}); retry, the producer's retry is not duplicated`)),
      )
      const finish = (settle: () => void) => {
        cancel()
        this.highWatermarkWaiters.delete(waiter)
        settle()
      }
      this.highWatermarkWaiters.add(waiter)
    })
  }

  private rejectHighWatermarkWaiters(error: LignumError): void {
    for (const waiter of [...this.highWatermarkWaiters]) waiter.reject(error)
  }

  /**
   * A follower's append of batches fetched from the leader: offsets and epochs as the leader
   * wrote them, the first at this log's end. Producer state learns the batches too, so this
   * replica can take over deduplication when it becomes leader.
   */
  async appendAsFollower(batches: Buffer): Promise<AppendInfo> {
    this.checkOpen()
    if (this.roleValue !== 'follower') throw new LignumError('INVALID_ARGUMENT', `this node leads ${this.name} (leader epoch ${this.epoch}); a leader takes no follower appends`)
    // Learned run by run as written: a roll inside the append snapshots a complete table, and
    // the batches written before a failed run are known as the log holds them.
    return this.log.appendAsFollower(batches, {onBatchesWritten: (headers) => headers.forEach((header) => this.rememberFromLog(header))})
  }

  /** A follower's high watermark follows the leader's, never past its own log end. */
  updateHighWatermarkFromLeader(leaderHighWatermark: number): void {
    this.raiseHighWatermark(Math.min(leaderHighWatermark, this.log.logEndOffset))
  }

  /**
   * A follower's truncation to a common prefix with the leader: the log, the high watermark
   * and producer state (snapshots past the new end are dropped, the state reloaded).
   */
  async truncateTo(offset: number, options: TruncateOptions = {}): Promise<number> {
    this.checkOpen()
    if (this.roleValue !== 'follower') throw new LignumError('INVALID_ARGUMENT', `this node leads ${this.name}; only a follower truncates its log`)
    await this.log.truncateTo(offset, options)
    this.highWatermarkOffset = Math.min(this.highWatermarkOffset, this.log.logEndOffset)
    await this.loadProducerState()
    return this.log.logEndOffset
  }

  /** A follower below its leader's log start: empties the log to start at `offset` (the leader's log start). */
  async restartAt(offset: number): Promise<number> {
    this.checkOpen()
    if (this.roleValue !== 'follower') throw new LignumError('INVALID_ARGUMENT', `this node leads ${this.name}; only a follower restarts its log at its leader's start`)
    await this.log.restartAt(offset)
    this.highWatermarkOffset = this.log.logEndOffset
    await this.loadProducerState()
    return this.log.logEndOffset
  }

  // ---- reads ----

  /**
   * Whole batches from `offset` below the high watermark. At the high watermark it waits up to
   * `maxWaitMs` for an append (long poll), and answers empty if none comes. An offset between
   * the high watermark and the log end is one an earlier leader may have committed (a new
   * leader's high watermark trails until its followers fetch again): it waits the same way and
   * answers empty, as Kafka's leader does, rather than refusing it: a refusal would make a
   * consumer that read up to there under the earlier leader reset its position.
   */
  async fetch(offset: number, maxBytes: number, maxWaitMs: number, signal?: AbortSignal): Promise<FetchResult> {
    this.checkFetchOffset(offset)
    if (offset >= this.highWatermarkOffset && maxWaitMs > 0) await this.waitForAppend(maxWaitMs, signal)
    this.checkFetchOffset(offset)
    if (offset > this.highWatermarkOffset) return {batches: Buffer.alloc(0), nextOffset: offset, highWatermark: this.highWatermarkOffset, logStartOffset: this.log.logStartOffset}
    const result = await this.log.read(offset, {maxBytes, upToOffset: this.highWatermarkOffset})
    return {...result, highWatermark: this.highWatermarkOffset, logStartOffset: this.log.logStartOffset}
  }

  /**
   * A consumer's read from this follower (KIP-392): whole batches below this replica's own high
   * watermark, which trails the leader's. An offset between the follower's high watermark and
   * its log end is one the leader may already have committed: it waits (up to `maxWaitMs`) for
   * the high watermark to pass it, and answers empty if it does not, instead of refusing a
   * position the consumer got from the leader.
   */
  async fetchAsFollower(offset: number, maxBytes: number, maxWaitMs: number, signal?: AbortSignal): Promise<FetchResult> {
    this.checkFollowerFetchOffset(offset)
    const giveUpAtMs = this.clock.nowMs() + maxWaitMs
    while (offset >= this.highWatermarkOffset && !signal?.aborted && !this.closed) {
      const remainingMs = giveUpAtMs - this.clock.nowMs()
      if (remainingMs <= 0) break
      await this.waitForAppend(remainingMs, signal)
    }
    this.checkFollowerFetchOffset(offset)
    if (offset > this.highWatermarkOffset) return {batches: Buffer.alloc(0), nextOffset: offset, highWatermark: this.highWatermarkOffset, logStartOffset: this.log.logStartOffset}
    const result = await this.log.read(offset, {maxBytes, upToOffset: this.highWatermarkOffset})
    return {...result, highWatermark: this.highWatermarkOffset, logStartOffset: this.log.logStartOffset}
  }

  private checkFollowerFetchOffset(offset: number): void {
    this.checkOpen()
    if (this.roleValue !== 'follower') throw new LignumError('NOT_LEADER', `${this.name} changed role while a follower read waited; read it again from its leader`)
    const start = this.log.logStartOffset
    const end = this.log.logEndOffset
    if (!Number.isSafeInteger(offset) || offset < start || offset > end) {
      throw new LignumError('OFFSET_OUT_OF_RANGE', `offset ${offset} is out of range for the follower of ${this.name}: it holds offsets ${start} to ${end - 1}; ask for one in that range or read from the leader`)
    }
  }

  private checkFetchOffset(offset: number): void {
    const start = this.log.logStartOffset
    const end = this.log.logEndOffset
    if (!Number.isSafeInteger(offset) || offset < start || offset > end) {
      throw new LignumError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${offset} is out of range for ${this.name}: it holds offsets ${start} to ${end - 1}; ask for one in that range or from "beginning"/"end"`,
      )
    }
  }

  /** Resolves when the high watermark moves, after `maxWaitMs`, or when `signal` aborts, whichever is first. */
  waitForAppend(maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return this.waitIn(this.fetchWaiters, maxWaitMs, signal)
  }

  /** A long poll: resolves when woken through `waiters`, after `maxWaitMs`, or when `signal` aborts. */
  private waitIn(waiters: Set<() => void>, maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        cancel()
        waiters.delete(done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const cancel = this.clock.schedule(maxWaitMs, done)
      waiters.add(done)
      if (signal?.aborted) done()
      else signal?.addEventListener('abort', done, {once: true})
    })
  }

  private wakeFetchers(): void {
    for (const wake of [...this.fetchWaiters]) wake()
  }

  /** Kafka's ListOffsets: -1 the end (high watermark), -2 the start, else the first offset at or after a timestamp. */
  /** The first batch a read found failing its CRC since the partition opened (served to nobody). */
  get damageFound(): PartitionDamage | null {
    return this.log.damageFound
  }

  /**
   * Reads (and so CRC-checks, once: segment.ts) up to `maxBytes` of stored batches from
   * `fromOffset`, whatever the high watermark: the offset to go on from (the log end when
   * done) and the bytes read. A batch failing its CRC throws PartitionDamagedError (and shows
   * in `damageFound`).
   */
  async verifyStoredBatches(fromOffset: number, maxBytes: number): Promise<{nextOffset: number; bytes: number}> {
    this.checkOpen()
    const from = Math.max(fromOffset, this.log.logStartOffset)
    const {batches, nextOffset} = await this.log.read(from, {maxBytes})
    if (batches.length === 0) return {nextOffset: Math.max(from, this.log.logEndOffset), bytes: 0}
    return {nextOffset, bytes: batches.length}
  }

  async listOffset(timestamp: number): Promise<number> {
    if (timestamp === LIST_LATEST) return this.highWatermarkOffset
    if (timestamp === LIST_EARLIEST) return this.log.logStartOffset
    const offset = await this.log.offsetForTimestamp(timestamp)
    return offset === null ? this.highWatermarkOffset : Math.min(offset, this.highWatermarkOffset)
  }

  // ---- upkeep ----

  /** Deletes segments by retention, never one holding an offset at or past the high watermark. */
  async applyRetention(nowMs?: number): Promise<{deletedSegments: number}> {
    this.checkOpen()
    const result = await this.log.applyRetention(nowMs ?? this.clock.nowMs(), {highWatermark: this.highWatermarkOffset})
    if (result.deletedSegments > 0) {
      for (const offset of await listSnapshotOffsets(this.dir)) {
        if (offset < this.log.logStartOffset) await deleteProducerSnapshot(this.dir, offset)
      }
    }
    return result
  }

  /** Writes the high watermark checkpoint if it moved since the last write (a closed partition wrote its last one). */
  async checkpointHighWatermark(): Promise<void> {
    if (this.closed) return
    await this.writeHighWatermarkIfMoved()
  }

  private async writeHighWatermarkIfMoved(): Promise<void> {
    const highWatermark = this.highWatermarkOffset
    if (highWatermark === this.checkpointedHighWatermark) return
    await writeHighWatermarkCheckpoint(this.dir, highWatermark)
    this.checkpointedHighWatermark = highWatermark
  }

  flush(): Promise<void> {
    return this.log.flush()
  }

  /** Flushes and closes; a clean close leaves a producer snapshot at the log end and the high watermark checkpointed. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.wakeFetchers()
    this.wakeReplicaFetchers()
    this.rejectHighWatermarkWaiters(new LignumError('UNAVAILABLE', `${this.name} is closing; retry on another node or after it restarts`))
    await this.log.close()
    await this.snapshotProducers(this.log.logEndOffset)
    await this.writeHighWatermarkIfMoved().catch((error: Error) => this.logger.warn('could not checkpoint the high watermark', {partition: this.name, error: error.message}))
  }

  /** Closes and removes the partition's directory (its topic was deleted). */
  async deleteFiles(): Promise<void> {
    await this.close()
    await fileSystem().removeRecursive(this.dir)
  }

  private checkOpen(): void {
    if (this.closed) throw new LignumError('UNAVAILABLE', `${this.name} is closed; retry on another node or after it restarts`)
  }

  // ---- durable state ----

  private async loadHighWatermark(): Promise<void> {
    const logEnd = this.log.logEndOffset
    if (this.roleValue === 'leader') {
      this.highWatermarkOffset = logEnd
      return
    }
    const read = await readHighWatermarkCheckpoint(this.dir)
    if (read.highWatermark === null && read.damaged !== null) this.logger.warn('high watermark checkpoint is damaged; starting from the log start', {partition: this.name, reason: read.damaged})
    this.highWatermarkOffset = Math.max(this.log.logStartOffset, Math.min(read.highWatermark ?? 0, logEnd))
    this.checkpointedHighWatermark = read.highWatermark ?? -1
  }

  /** Runs inside the log's serialized operations (a roll) or after they ended (close): the table is current. */
  private async snapshotProducers(offset: number): Promise<void> {
    if (offset === this.snapshotOffset) return
    try {
      // Snapshots since the last segment boundary below `offset` (clean closes) are superseded;
      // the one at each boundary stays, for truncation to start from.
      const boundary = this.log.segments().map((segment) => segment.baseOffset).filter((base) => base < offset).at(-1) ?? -1
      const stale = (await listSnapshotOffsets(this.dir)).filter((existing) => existing > boundary && existing < offset)
      await writeProducerSnapshot(this.dir, offset, this.producers.writtenBatchesBelow(offset))
      for (const existing of stale) await deleteProducerSnapshot(this.dir, existing)
      this.snapshotOffset = offset
    } catch (error) {
      this.logger.warn('could not write a producer snapshot; the next start replays more of the log', {partition: this.name, offset, error: (error as Error).message})
    }
  }

  private async loadProducerState(): Promise<void> {
    this.producers.clear()
    this.snapshotOffset = -1
    const logEnd = this.log.logEndOffset
    const snapshots = await listSnapshotOffsets(this.dir)
    // Snapshots past the log end describe batches that are gone (a torn tail, a truncation).
    for (const offset of snapshots.filter((offset) => offset > logEnd)) await deleteProducerSnapshot(this.dir, offset)
    const usable = snapshots.filter((offset) => offset <= logEnd && offset >= this.log.logStartOffset).reverse()
    let replayFrom = this.log.logStartOffset
    let loaded = false
    for (const offset of usable) {
      try {
        for (const batch of await readProducerSnapshot(this.dir, offset)) this.producers.rememberWritten(batch)
        replayFrom = offset
        loaded = true
        this.snapshotOffset = offset
        break
      } catch (error) {
        this.producers.clear()
        this.logger.warn('producer snapshot unreadable; trying an older one or the whole log', {partition: this.name, file: snapshotFileName(offset), error: (error as Error).message})
      }
    }
    if (!loaded && this.log.segments().length > 1) {
      this.logger.warn('no usable producer snapshot; rebuilding producer state from the whole log', {partition: this.name, logStartOffset: this.log.logStartOffset, logEndOffset: logEnd})
    }
    await this.replayProducers(replayFrom)
  }

  private async replayProducers(fromOffset: number): Promise<void> {
    let offset = fromOffset
    while (offset < this.log.logEndOffset) {
      let read: ReadResult
      try {
        read = await this.log.read(offset, {maxBytes: PRODUCER_REPLAY_CHUNK_BYTES})
      } catch (error) {
        // A batch that fails its CRC (its framing intact) ends the replay, not the partition: the
        // log has logged it, reads of it are refused, and the rest keeps serving.
        if (error instanceof PartitionDamagedError) break
        throw error
      }
      const {batches, nextOffset} = read
      if (batches.length === 0) break
      for (const {header} of batchPositions(batches)) {
        if (header.lastOffset >= offset) this.rememberFromLog(header)
      }
      offset = nextOffset
    }
  }

  private rememberFromLog(header: BatchHeader): void {
    if (header.producerId < 0 || header.baseSequence < 0) return
    this.producers.rememberWritten({
      producerId: header.producerId,
      producerEpoch: header.producerEpoch,
      baseSequence: header.baseSequence,
      lastSequence: lastSequenceOf(header.baseSequence, header.recordCount),
      baseOffset: header.baseOffset,
      lastOffset: header.lastOffset,
      maxTimestamp: header.maxTimestamp,
    })
  }

  /** For tests and metrics: how many producers the partition tracks. */
  get producerCount(): number {
    return this.producers.producerCount
  }
}

/**
 * The header of an idempotent producer's batch, or null when the batches carry no producer id.
 * Kafka takes one batch per partition and request from an idempotent producer, so its
 * sequence is checked whole; several batches with a producer id are refused.
 */
function sequencedHeader(batches: Buffer): BatchHeader | null {
  const headers = [...batchPositions(batches)].map(({header}) => header)
  const sequenced = headers.some((header) => header.producerId >= 0 && header.baseSequence >= 0)
  if (!sequenced) return null
  if (headers.length > 1) throw new LignumError('INVALID_ARGUMENT', 'an idempotent producer sends one record batch per partition and request; send the batches one by one')
  return headers[0]
}
