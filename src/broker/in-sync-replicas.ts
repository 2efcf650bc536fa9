/**
 * What a partition's leader knows of its replica set: the replicas, the in-sync set (ISR) the
 * control plane holds, an ISR change being written, and each follower's log end offset and
 * when it last caught up (Kafka's replica state in Partition.scala). Pure bookkeeping: the
 * caller passes the leader's log end offset, high watermark and the time, so the decisions can
 * be tested, and simulated, without a log, a clock or a network.
 *
 * Each follower's process incarnation is remembered (from its fetches, or as the control plane
 * recorded it when it joined the ISR): a fetch at another incarnation is a restarted follower,
 * which may have lost its unsynced tail, so nothing its earlier process proved counts any more
 * (Kafka's KIP-903 broker epoch): it is a new replica that must catch up to rejoin.
 *
 * Invariants: the leader is in the ISR; at most one ISR change is pending; a proposed change
 * is never acted on until `apply` (the control plane's check-and-set write succeeded).
 */

/** What a leader knows of its partition's replica set (from the control plane). */
export interface LeaderReplicationState {
  /** This node's replica id. */
  replicaId: number
  replicas: number[]
  /** The ISR as the control plane holds it; the leader is in it. */
  isr: number[]
  /** The incarnation the control plane recorded for each ISR member, where it did. */
  isrIncarnations?: Readonly<Record<number, string>>
  minInsyncReplicas: number
}

/** A follower as its leader sees it: Kafka's replica state in Partition.scala. */
export interface FollowerState {
  replicaId: number
  /** -1 until the follower fetched from this leader. */
  logEndOffset: number
  lastCaughtUpTimeMs: number
  lastFetchTimeMs: number
  /** The leader's log end offset at that follower's previous fetch. */
  lastFetchLeaderLogEndOffset: number
  /** The process it last fetched with (or was recorded in the ISR with); undefined until known. */
  incarnation?: string
}

export class InSyncReplicas {
  /** This node's replica id; -1 on a standalone node, whose ISR is itself alone. */
  private localId = -1
  private replicaIds: number[] = []
  private isrIds: number[] = [-1]
  private pendingIds: number[] | null = null
  private minIsr = 1
  private readonly followers = new Map<number, FollowerState>()
  /** The log end offset when this leader's epoch began (Kafka's leaderEpochStartOffset). */
  private epochStartOffset = 0

  get localReplicaId(): number {
    return this.localId
  }

  get isr(): readonly number[] {
    return this.isrIds
  }

  get replicas(): readonly number[] {
    return this.replicaIds
  }

  get minInsyncReplicas(): number {
    return this.minIsr
  }

  get pending(): readonly number[] | null {
    return this.pendingIds
  }

  /**
   * Takes the control plane's view on becoming leader. A new leadership (`fresh`) forgets what
   * an earlier one knew of its followers; in-sync followers get replicaLagMaxMs from `nowMs`
   * to fetch, since their log end offsets are unknown until they do.
   */
  lead(replication: LeaderReplicationState | undefined, fresh: boolean, logEndOffset: number, nowMs: number): void {
    if (replication) {
      this.localId = replication.replicaId
      this.replicaIds = [...replication.replicas]
      this.minIsr = replication.minInsyncReplicas
    }
    if (fresh) {
      this.followers.clear()
      this.pendingIds = null
      this.epochStartOffset = logEndOffset
    }
    for (const id of this.replicaIds) {
      if (id === this.localId || this.followers.has(id)) continue
      const inSync = replication?.isr.includes(id) ?? false
      this.followers.set(id, newFollower(id, inSync ? nowMs : 0))
    }
    this.isrIds = replication ? [...replication.isr] : [this.localId]
    this.learnIncarnations(replication?.isrIncarnations)
  }

  /** The control plane's record of who joined the ISR as which process, for followers not heard from yet. */
  private learnIncarnations(recorded: Readonly<Record<number, string>> | undefined): void {
    if (!recorded) return
    for (const id of this.isrIds) {
      const state = this.followers.get(id)
      const incarnation = recorded[id]
      if (state && state.incarnation === undefined && incarnation !== undefined) state.incarnation = incarnation
    }
  }

  /** No longer leading: nothing is known of followers, no change is pending. */
  forget(): void {
    this.followers.clear()
    this.pendingIds = null
  }

  followerState(replicaId: number): FollowerState | undefined {
    const state = this.followers.get(replicaId)
    return state ? {...state} : undefined
  }

  /**
   * A follower fetched at `fetchOffset`: it holds everything below. It counts as caught up now
   * if it reached the log end, or as of its previous fetch if it reached the log end the
   * leader had then (under steady appends a follower is never exactly at the end). A fetch at
   * another `incarnation` than the one known starts the follower over: never caught up yet.
   */
  recordFetch(replicaId: number, fetchOffset: number, leaderLogEndOffset: number, nowMs: number, incarnation?: string): void {
    if (replicaId === this.localId) return
    let state = this.followers.get(replicaId)
    if (!state || (incarnation !== undefined && state.incarnation !== undefined && incarnation !== state.incarnation)) {
      state = newFollower(replicaId, 0)
      this.followers.set(replicaId, state)
    }
    if (incarnation !== undefined) state.incarnation = incarnation
    if (fetchOffset >= leaderLogEndOffset) state.lastCaughtUpTimeMs = Math.max(state.lastCaughtUpTimeMs, nowMs)
    else if (state.lastFetchLeaderLogEndOffset >= 0 && fetchOffset >= state.lastFetchLeaderLogEndOffset) state.lastCaughtUpTimeMs = Math.max(state.lastCaughtUpTimeMs, state.lastFetchTimeMs)
    state.lastFetchLeaderLogEndOffset = leaderLogEndOffset
    state.lastFetchTimeMs = nowMs
    state.logEndOffset = fetchOffset
  }

  /**
   * The high watermark the replica set allows: the smallest log end offset of the in-sync
   * replicas (with a pending expansion's newcomer), the leader's own included.
   */
  lowestInSyncLogEnd(leaderLogEndOffset: number): number {
    let lowest = leaderLogEndOffset
    for (const id of this.maximalIsr()) {
      if (id === this.localId) continue
      lowest = Math.min(lowest, this.followers.get(id)?.logEndOffset ?? -1)
    }
    return lowest
  }

  /** The committed ISR plus a newcomer being written: the high watermark waits for both. */
  private maximalIsr(): number[] {
    if (this.pendingIds === null) return this.isrIds
    return [...new Set([...this.isrIds, ...this.pendingIds])]
  }

  /**
   * The ISR without the followers that have not caught up to the log end within
   * `replicaLagMaxMs` (Kafka's replica.lag.time.max.ms); null when none lags or while another
   * change is being written.
   */
  proposeShrink(leaderLogEndOffset: number, nowMs: number, replicaLagMaxMs: number): number[] | null {
    if (this.pendingIds !== null) return null
    const lagging = this.isrIds.filter((id) => {
      if (id === this.localId) return false
      const state = this.followers.get(id)
      if (!state) return true
      return state.logEndOffset !== leaderLogEndOffset && nowMs - state.lastCaughtUpTimeMs > replicaLagMaxMs
    })
    if (lagging.length === 0) return null
    return this.isrIds.filter((id) => !lagging.includes(id))
  }

  /**
   * The ISR with `replicaId` added once its log end offset reached the high watermark and this
   * epoch's start (so it holds nothing from an older leader that this one lacks); else null.
   */
  proposeExpand(replicaId: number, highWatermark: number): number[] | null {
    if (this.pendingIds !== null) return null
    if (this.isrIds.includes(replicaId) || !this.replicaIds.includes(replicaId)) return null
    const state = this.followers.get(replicaId)
    if (!state || state.logEndOffset < highWatermark || state.logEndOffset < this.epochStartOffset) return null
    return [...this.isrIds, replicaId]
  }

  begin(isr: number[]): void {
    this.pendingIds = [...isr]
  }

  abort(): void {
    this.pendingIds = null
  }

  /** The control plane holds `isr`: act on it. Followers new to it get replicaLagMaxMs from `nowMs`. */
  apply(isr: number[], nowMs: number, isrIncarnations?: Readonly<Record<number, string>>): void {
    this.isrIds = [...isr]
    this.pendingIds = null
    for (const id of isr) {
      if (id !== this.localId && !this.followers.has(id)) this.followers.set(id, newFollower(id, nowMs))
    }
    this.learnIncarnations(isrIncarnations)
  }
}

function newFollower(replicaId: number, lastCaughtUpTimeMs: number): FollowerState {
  return {replicaId, logEndOffset: -1, lastCaughtUpTimeMs, lastFetchTimeMs: 0, lastFetchLeaderLogEndOffset: -1}
}
