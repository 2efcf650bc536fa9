/**
 * The simulated network between a follower's fetcher and a leader: each request and each
 * answer is an event with a delay drawn from the link's own stream. Faults: a message is
 * dropped (the caller's deadline then fails the call, as gRPC's would), duplicated (the leader
 * serves a copy later; its answer goes nowhere), delayed long enough to reorder it behind
 * later ones, or the pair is partitioned (every message dropped until healed).
 *
 * Invariant, as every LeaderClient: the leader's own answers (fenced, not leader) come back in
 * `error`; only the link failing rejects.
 */
import type {Partition} from '../src/broker/partition.js'
import {LignumError} from '../src/errors.js'
import type {EpochEndOffsetAnswer, LeaderClient, ReplicaFetchAnswer, ReplicaFetchParams} from '../src/replication/replication-interfaces.js'
import {Prng} from './prng.js'
import type {SimClock} from './sim-clock.js'

// The real client's deadlines (grpc-leader-client.ts): a fetch gets its long poll plus 10 s,
// OffsetsForLeaderEpoch 10 s.
const FETCH_DEADLINE_MARGIN_MS = 10_000
const OFFSETS_FOR_EPOCH_DEADLINE_MS = 10_000

export interface NetworkFaults {
  dropProbability: number
  duplicateProbability: number
  /** A message delayed by up to slowDelayMs instead of the usual few ms: reorders it. */
  slowProbability: number
  slowDelayMs: number
}

export const calmNetwork: NetworkFaults = {dropProbability: 0, duplicateProbability: 0, slowProbability: 0, slowDelayMs: 0}

/** What a link needs to know of the simulated nodes. */
export interface NetworkView {
  clock: SimClock
  faults: NetworkFaults
  /** The partition node `id` serves now, or null when the node is down. */
  partitionOf(id: number): Partition | null
  /** Whether node `id` is up and still in process life `life` (an answer to an earlier life goes nowhere). */
  isLive(id: number, life: number): boolean
  connected(a: number, b: number): boolean
  note(what: string): void
}

export class SimLink implements LeaderClient {
  private readonly prng: Prng
  private readonly source: string

  constructor(
    private readonly view: NetworkView,
    seed: number,
    private readonly from: number,
    private readonly to: number,
    private readonly life: number,
  ) {
    this.source = `link ${from}>${to}#${life}`
    this.prng = Prng.forStream(seed, this.source)
  }

  offsetsForLeaderEpoch(topic: string, partition: number, epoch: number, leaderEpoch: number): Promise<EpochEndOffsetAnswer> {
    return this.call(`epoch-end ${epoch}`, OFFSETS_FOR_EPOCH_DEADLINE_MS, undefined, async (leader) => {
      try {
        return leader.leaderEndOffsetForEpoch(epoch, leaderEpoch)
      } catch (error) {
        return {epoch: -1, endOffset: -1, error: asLignumError(error)}
      }
    })
  }

  fetch(params: ReplicaFetchParams, signal?: AbortSignal): Promise<ReplicaFetchAnswer> {
    return this.call(`fetch ${params.fetchOffset}/${params.logEndOffset ?? params.fetchOffset} e${params.leaderEpoch}`, params.maxWaitMs + FETCH_DEADLINE_MARGIN_MS, signal, async (leader, served) => {
      try {
        const result = await leader.fetchForReplica({...params, replicaLogEndOffset: params.logEndOffset, replicaIncarnation: params.incarnation}, served)
        return {batches: result.batches, highWatermark: result.highWatermark, logStartOffset: result.logStartOffset, logEndOffset: result.logEndOffset}
      } catch (error) {
        return {batches: Buffer.alloc(0), highWatermark: -1, logStartOffset: leader.logStartOffset, logEndOffset: -1, error: asLignumError(error)}
      }
    })
  }

  /**
   * One request and its answer over the simulated link. The caller's promise settles once: with
   * the answer, or rejected at its deadline, or when its signal aborts.
   */
  private call<T>(what: string, deadlineMs: number, signal: AbortSignal | undefined, serve: (leader: Partition, signal?: AbortSignal) => Promise<T>): Promise<T> {
    const {clock} = this.view
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const onAbort = () => finish(() => reject(new LignumError('UNAVAILABLE', `${what} cancelled`)))
      const finish = (settle: () => void) => {
        if (settled) return
        settled = true
        deadline.cancelled = true
        signal?.removeEventListener('abort', onAbort)
        settle()
      }
      const deadline = clock.at(deadlineMs, this.source, `deadline ${what}`, () => finish(() => reject(new LignumError('UNAVAILABLE', `${what} to node ${this.to}: deadline exceeded`))))
      signal?.addEventListener('abort', onAbort, {once: true})
      const deliver = (copy: boolean) => {
        const leader = this.view.partitionOf(this.to)
        if (!leader || !this.view.connected(this.from, this.to)) return
        void serve(leader, copy ? undefined : signal).then((answer) => {
          if (copy) return
          this.send(`answer ${what}`, () => {
            if (this.view.isLive(this.from, this.life) && this.view.connected(this.from, this.to)) finish(() => resolve(answer))
          })
        })
      }
      if (signal?.aborted) return onAbort()
      this.send(what, () => deliver(false))
      if (this.prng.chance(this.view.faults.duplicateProbability)) this.send(`copy of ${what}`, () => deliver(true))
    })
  }

  /** Queues one message on this link unless it is dropped. */
  private send(what: string, arrive: () => void): void {
    const {faults, clock} = this.view
    if (this.prng.chance(faults.dropProbability)) {
      this.view.note(`drop ${this.from}>${this.to} ${what}`)
      return
    }
    const delayMs = this.prng.chance(faults.slowProbability) ? this.prng.int(1, faults.slowDelayMs) : this.prng.int(1, 5)
    clock.at(delayMs, this.source, what, arrive)
  }
}

function asLignumError(error: unknown): LignumError {
  if (error instanceof LignumError) return error
  return new LignumError('INTERNAL', (error as Error).message, {cause: error})
}
