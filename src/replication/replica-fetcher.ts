/**
 * One follower partition's replication loop, as a state machine over injected interfaces
 * (LeaderClient, ReplicationClock): no sockets, no timers of its own.
 *
 * Phases: "truncating" — on start (a new leader epoch) it asks the leader where the follower's
 * latest epoch ends (OffsetsForLeaderEpoch, KIP-101/KIP-279) and cuts its log there, looping
 * back epoch by epoch while the leader answers an epoch the follower does not hold; then
 * "fetching" — long-poll fetches from its log end, appended as the leader wrote them, the high
 * watermark learned from each answer. "stopped" after stop(), or when the leader answers that
 * this follower's state is stale (fenced, not leader): it waits for new partition state, which
 * starts a new fetcher.
 *
 * Catching up: when an answer was full and at least as much again waits on the leader, the next
 * fetch (from that answer's end, with more bytes: fetch-sizing.ts) goes out before the answer
 * is appended, and the append overlaps its round trip. Near the log end the fetcher appends
 * first and fetches after, so its next fetch tells the leader the new log end at once
 * (acks=all waits for it).
 *
 * Invariants: the follower never appends before truncating for its epoch; its log stays a
 * prefix of the leader's once truncated; its high watermark never passes its own log end. At
 * most one fetch in flight and one append pending; every fetch reports the log end offset the
 * follower has appended (never the pending append's end), so the leader never counts it as
 * holding what it does not; an answer is appended only after the one before it was, and a
 * failed append drops the answer fetched behind it.
 */
import type {Partition} from '../broker/partition.js'
import {LignumError} from '../errors.js'
import {readBatchHeader} from '../format/record-batch.js'
import {recycleBuffer} from '../format/headroom.js'
import type {Logger} from '../logger.js'
import {isCatchingUp, nextFetchBytes} from './fetch-sizing.js'
import type {LeaderClient, ReplicaFetchAnswer, ReplicationClock} from './replication-interfaces.js'

export type FetcherPhase = 'truncating' | 'fetching' | 'backoff' | 'stopped'

export interface ReplicaFetcherConfig {
  /** Bytes per fetch answer at the leader's log end: Kafka's replica.fetch.max.bytes (1 MiB). */
  fetchMaxBytes: number
  /** Bytes per fetch answer while catching up, reached by doubling (fetch-sizing.ts). */
  catchUpFetchMaxBytes: number
  /** How long the leader may hold a fetch at its log end: Kafka's replica.fetch.wait.max.ms (500 ms). */
  fetchMaxWaitMs: number
  /** Pause after a failed request before the next: Kafka's replica.fetch.backoff.ms (1 s). */
  backoffMs: number
}

// Measured on loopback (bench/replication-transport.ts): 8 MiB answers halve the leader's CPU
// per record against 1 MiB ones. A follower catching up holds at most two answers per partition
// (one appending, one arriving), so 16 MiB per partition that catches up. The leader caps an
// answer at 16 MiB (server/replication-service.ts).
const CATCH_UP_FETCH_BYTES_DEFAULT = 8 * 1024 * 1024

export const defaultReplicaFetcherConfig: ReplicaFetcherConfig = {
  fetchMaxBytes: 1024 * 1024,
  catchUpFetchMaxBytes: CATCH_UP_FETCH_BYTES_DEFAULT,
  fetchMaxWaitMs: 500,
  backoffMs: 1000,
}

export interface ReplicaFetcherOptions {
  partition: Partition
  /** This node's replica id, sent with every fetch. */
  replicaId: number
  /** This node's process incarnation, sent with every fetch so the leader sees a restart. */
  incarnation?: string
  leaderId: number
  /** The epoch this fetcher follows; the partition must already follow it. */
  leaderEpoch: number
  client: LeaderClient
  clock: ReplicationClock
  logger: Logger
  config?: Partial<ReplicaFetcherConfig>
}

// Each truncation round drops at least one epoch, so this only guards against a leader
// answering nonsense; no real history has this many epochs above a follower's divergence.
const TRUNCATION_ROUNDS_MAX = 10_000

export class ReplicaFetcher {
  private phaseValue: FetcherPhase = 'truncating'
  private stopping = false
  private running: Promise<void> | null = null
  private readonly abort = new AbortController()
  private cancelBackoff: (() => void) | null = null
  private wakeBackoff: (() => void) | null = null
  private readonly config: ReplicaFetcherConfig
  /** An answer taken while catching up, appended by the next fetchOnce once its request is out; its end is where that request starts. */
  private unappended: {answer: ReplicaFetchAnswer; endOffset: number} | null = null
  /** The append of the previous answer while the fetch behind it is in flight. */
  private pending: Promise<void> | null = null
  private fetchBytes: number
  /** Why the fetcher stopped by itself (fenced, not leader), for logs and tests. */
  stoppedBy: LignumError | null = null
  fetches = 0
  /** Fetches sent while the answer before them was still being appended. */
  pipelinedFetches = 0

  constructor(private readonly options: ReplicaFetcherOptions) {
    const given = options.config ?? {}
    const fetchMaxBytes = given.fetchMaxBytes ?? defaultReplicaFetcherConfig.fetchMaxBytes
    // Given only a larger fetch size, catching up asks for at least as much.
    const catchUpFetchMaxBytes = given.catchUpFetchMaxBytes ?? Math.max(defaultReplicaFetcherConfig.catchUpFetchMaxBytes, fetchMaxBytes)
    this.config = {...defaultReplicaFetcherConfig, ...given, fetchMaxBytes, catchUpFetchMaxBytes}
    if (!(this.config.fetchMaxBytes > 0 && this.config.catchUpFetchMaxBytes >= this.config.fetchMaxBytes)) {
      throw new LignumError('INVALID_ARGUMENT', `replica fetch sizes must be 0 < fetchMaxBytes (${this.config.fetchMaxBytes}) <= catchUpFetchMaxBytes (${this.config.catchUpFetchMaxBytes})`)
    }
    this.fetchBytes = this.config.fetchMaxBytes
  }

  get phase(): FetcherPhase {
    return this.phaseValue
  }

  get leaderId(): number {
    return this.options.leaderId
  }

  get leaderEpoch(): number {
    return this.options.leaderEpoch
  }

  start(): void {
    if (this.running) return
    this.running = this.loop()
  }

  /** Ends the loop after the step in flight (a long poll is cut short); resolves once it ended. */
  async stop(): Promise<void> {
    this.stopping = true
    this.abort.abort()
    this.cancelBackoff?.()
    this.wakeBackoff?.()
    await this.running
    this.phaseValue = 'stopped'
  }

  private async loop(): Promise<void> {
    let phase: 'truncating' | 'fetching' = 'truncating'
    while (!this.stopping) {
      this.phaseValue = phase
      try {
        if (phase === 'truncating') {
          await this.truncateToLeader()
          phase = 'fetching'
        } else {
          phase = await this.fetchOnce()
        }
      } catch (error) {
        // Whatever failed, the pending append ends before the log is truncated or fetched from again.
        await this.settlePending()
        if (this.stopping) break
        const next = this.onError(error)
        if (next === 'stop') break
        phase = next
        await this.backoff()
      }
    }
    await this.settlePending()
    this.phaseValue = 'stopped'
  }

  /** Drops an answer not yet appended and waits out a pending append; its failure is logged here. */
  private async settlePending(): Promise<void> {
    const pending = this.pending
    this.pending = null
    this.unappended = null
    if (!pending) return
    try {
      await pending
    } catch (error) {
      if (!this.stopping) this.options.logger.warn('follower append failed', {partition: this.options.partition.name, error: (error as Error).message})
    }
  }

  /**
   * The leader tells where the follower's latest epoch ends on its log; the follower cuts there.
   * If the leader does not know that epoch it answers the largest one below and its end: the
   * follower cuts at the end of its own largest epoch below that one and asks again.
   */
  private async truncateToLeader(): Promise<void> {
    const {partition, client, leaderEpoch} = this.options
    for (let round = 0; round < TRUNCATION_ROUNDS_MAX && !this.stopping; round++) {
      if (partition.logEndOffset === partition.logStartOffset) return
      const latest = partition.latestLogEpoch
      if (latest < 0) {
        // Batches without epochs (written before epochs were kept): only the high watermark is known safe.
        await this.truncate(partition.highWatermark, 'no leader epochs in the log')
        return
      }
      const answer = await client.offsetsForLeaderEpoch(partition.topic, partition.partition, latest, leaderEpoch)
      if (answer.error) throw answer.error
      if (this.stopping) return
      if (answer.epoch < 0 || answer.endOffset < 0) {
        // The leader holds no epoch this old (Kafka: UNDEFINED_EPOCH_OFFSET): keep what was committed.
        await this.truncate(partition.highWatermark, `the leader knows no epoch <= ${latest}`)
        return
      }
      const own = partition.endOffsetForEpoch(answer.epoch)
      if (own.epoch === answer.epoch) {
        await this.truncate(Math.min(answer.endOffset, own.endOffset, partition.logEndOffset), `epoch ${answer.epoch} ends at ${answer.endOffset} on the leader`)
        return
      }
      // The follower lacks the leader's epoch: everything from its first epoch above it diverged.
      const cut = own.epoch < 0 ? partition.logStartOffset : Math.min(own.endOffset, partition.logEndOffset)
      await this.truncate(cut, `the leader answered epoch ${answer.epoch}, which this replica does not hold`)
      if (partition.latestLogEpoch >= latest) throw new LignumError('INTERNAL', `truncating ${partition.name} did not drop epoch ${latest}; the leader's epoch answers are inconsistent`)
    }
  }

  private async truncate(offset: number, why: string): Promise<void> {
    const {partition, logger} = this.options
    if (offset >= partition.logEndOffset) return
    logger.info('truncating a follower to the leader', {partition: partition.name, offset, logEndOffset: partition.logEndOffset, why})
    await partition.truncateTo(offset, {requireBatchBoundary: true})
  }

  /**
   * One long-poll fetch, from the log end or from the end of an answer not yet appended; returns
   * the phase to continue in. The request reports the log end offset as appended so far; that
   * answer's append starts only once the request is out, so the two overlap.
   */
  private async fetchOnce(): Promise<'truncating' | 'fetching'> {
    const {partition, client, leaderEpoch, replicaId, incarnation} = this.options
    const unappended = this.unappended
    this.unappended = null
    const logEndOffset = partition.logEndOffset
    const fetchOffset = unappended?.endOffset ?? logEndOffset
    if (unappended) this.pipelinedFetches++
    this.fetches++
    const fetched = client.fetch(
      {topic: partition.topic, partition: partition.partition, fetchOffset, logEndOffset, leaderEpoch, replicaId, incarnation, maxBytes: this.fetchBytes, maxWaitMs: this.config.fetchMaxWaitMs},
      this.abort.signal,
    )
    if (unappended) this.pending = this.append(unappended.answer)
    const answer = await fetched
    await this.awaitPending()
    if (this.stopping) return 'fetching'
    if (answer.error) {
      if (answer.error.code === 'OFFSET_OUT_OF_RANGE' && fetchOffset < answer.logStartOffset) {
        // The leader's retention deleted what this follower would need next: start over at its log start.
        this.options.logger.warn('follower fell below the leader\'s log start; starting over there', {partition: partition.name, fetchOffset, leaderLogStartOffset: answer.logStartOffset})
        await partition.restartAt(answer.logStartOffset)
        return 'fetching'
      }
      throw answer.error
    }
    await this.accept(answer, fetchOffset)
    return 'fetching'
  }

  /** The previous answer must be in the log before the one fetched behind it is used; a failure throws and drops that one. */
  private async awaitPending(): Promise<void> {
    const pending = this.pending
    if (!pending) return
    this.pending = null
    await pending
  }

  /**
   * Takes an answer. Catching up (fetch-sizing.ts) it is kept for the next fetchOnce, which
   * appends it while the next fetch (from its end) is in flight; near the log end it is
   * appended before the next fetch, which then reports it.
   */
  private async accept(answer: ReplicaFetchAnswer, fetchOffset: number): Promise<void> {
    const answerEndOffset = answer.batches.length > 0 ? lastOffsetIn(answer.batches) + 1 : fetchOffset
    const catchingUp = isCatchingUp({fetchOffset, answerEndOffset, answerBytes: answer.batches.length, askedBytes: this.fetchBytes, leaderLogEndOffset: answer.logEndOffset})
    this.fetchBytes = nextFetchBytes(this.fetchBytes, catchingUp, this.config)
    if (answer.batches.length === 0) {
      this.options.partition.updateHighWatermarkFromLeader(answer.highWatermark)
      return
    }
    if (catchingUp) {
      this.unappended = {answer, endOffset: answerEndOffset}
      return
    }
    await this.append(answer)
  }

  private append(answer: ReplicaFetchAnswer): Promise<void> {
    const {partition} = this.options
    const appended = partition.appendAsFollower(answer.batches).then(() => {
      // Nothing else holds a view of a fetched answer once it is in the log.
      recycleBuffer(answer.batches)
      partition.updateHighWatermarkFromLeader(answer.highWatermark)
    })
    // Awaited by the fetch it overlaps, or by settlePending; this only keeps it from counting as unhandled meanwhile.
    appended.catch(() => {})
    return appended
  }

  /** Decides what an error means: stop and wait for new state, check truncation again, or retry. */
  private onError(error: unknown): 'stop' | 'truncating' | 'fetching' {
    const {partition, logger} = this.options
    const code = error instanceof LignumError ? error.code : 'INTERNAL'
    if (code === 'FENCED_LEADER_EPOCH' || code === 'NOT_LEADER') {
      this.stoppedBy = error as LignumError
      logger.info('replica fetcher stops: its partition state is stale', {partition: partition.name, leaderEpoch: this.options.leaderEpoch, error: (error as Error).message})
      return 'stop'
    }
    logger.warn('replica fetch failed; backing off', {partition: partition.name, code, error: (error as Error).message})
    // Out of range above the leader's log start: the logs diverged; ask the leader again.
    if (code === 'OFFSET_OUT_OF_RANGE') return 'truncating'
    return this.phaseValue === 'truncating' ? 'truncating' : 'fetching'
  }

  private backoff(): Promise<void> {
    if (this.stopping) return Promise.resolve()
    this.phaseValue = 'backoff'
    return new Promise((resolve) => {
      const done = () => {
        this.cancelBackoff = null
        this.wakeBackoff = null
        resolve()
      }
      this.wakeBackoff = done
      this.cancelBackoff = this.options.clock.schedule(this.config.backoffMs, done)
    })
  }
}

/** The last offset of the last batch in `batches` (whole batches, as the leader sends them). */
function lastOffsetIn(batches: Buffer): number {
  let position = 0
  let lastOffset = -1
  while (position < batches.length) {
    const header = readBatchHeader(batches, position)
    lastOffset = header.lastOffset
    position += header.sizeBytes
  }
  return lastOffset
}
