/**
 * What the replication data plane needs from the layers around it, and nothing more: a
 * transport to the partition's leader (LeaderClient), the control plane's partition state and
 * its ISR write (PartitionState, IsrWriter), and time (ReplicationClock). The replica manager
 * and the fetcher are written against these alone, so the same decisions run over gRPC in real
 * processes and over in-memory links in a deterministic simulation.
 *
 * Invariant every implementation keeps: a condition the leader answers (fenced, not leader,
 * out of range) comes back as `error` in the answer, never as a rejected promise; a rejected
 * promise means the link itself failed (the fetcher backs off and retries).
 */
import type {PartitionClock} from '../broker/partition.js'
import type {LignumError} from '../errors.js'

/** Time for the replication loops: the partition's clock (now, and one-shot timers). */
export type ReplicationClock = PartitionClock

export interface ReplicaFetchParams {
  topic: string
  partition: number
  /** Where the answer starts: the follower's log end, or the end of an answer it is still appending. */
  fetchOffset: number
  /**
   * What the follower has appended (<= fetchOffset): the leader counts this, never more, toward
   * the high watermark and the ISR. Absent: fetchOffset.
   */
  logEndOffset?: number
  /** The leader epoch the follower follows. */
  leaderEpoch: number
  replicaId: number
  /** The follower's process (cluster-member.ts's incarnation); absent from a node that has none. */
  incarnation?: string
  maxBytes: number
  /** How long the leader may hold the request open at its log end (long poll). */
  maxWaitMs: number
}

export interface ReplicaFetchAnswer {
  /** Whole batches from fetchOffset, as the leader wrote them; empty on error or when nothing is new. */
  batches: Buffer
  highWatermark: number
  logStartOffset: number
  /** The leader's log end offset when it answered; -1 on error or when the leader did not say. */
  logEndOffset: number
  error?: LignumError
}

export interface EpochEndOffsetAnswer {
  /** The largest epoch the leader knows that is <= the one asked for; -1 when none is. */
  epoch: number
  /** Where that epoch ends on the leader (the next epoch's start, or its log end); -1 when none. */
  endOffset: number
  error?: LignumError
}

/** A follower's link to one leader node. */
export interface LeaderClient {
  /** Kafka's OffsetsForLeaderEpoch (KIP-101, KIP-279). */
  offsetsForLeaderEpoch(topic: string, partition: number, epoch: number, leaderEpoch: number): Promise<EpochEndOffsetAnswer>
  fetch(params: ReplicaFetchParams, signal?: AbortSignal): Promise<ReplicaFetchAnswer>
}

/** One partition as the control plane holds it. */
export interface PartitionState {
  topic: string
  partition: number
  replicas: number[]
  /** The leader's replica id; -1 when the partition has none (offline). */
  leader: number
  leaderEpoch: number
  isr: number[]
  /** The incarnation each ISR member joined it with, where recorded (isr-incarnations.ts). */
  isrIncarnations?: Readonly<Record<number, string>>
  minInsyncReplicas: number
}

export interface IsrChangeRequest {
  isr: number[]
  leaderEpoch: number
  /** For each member the change adds, the incarnation whose fetches caught it up (when known). */
  addedIncarnations?: Readonly<Record<number, string>>
}

/** The control plane's ISR write (Kafka's AlterPartition). */
export interface IsrWriter {
  /**
   * Writes `isr` with check-and-set, only if the stored leader epoch is still `leaderEpoch`.
   * True once the write is durable; false when it lost (another writer, a newer epoch) or failed.
   */
  writeIsr(topic: string, partition: number, change: IsrChangeRequest): Promise<boolean>
}
