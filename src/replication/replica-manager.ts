/**
 * Applies the control plane's partition state to the partitions this node holds (Kafka's
 * ReplicaManager): a node named leader stops its fetcher and leads at the new epoch with the
 * state's ISR; a node named follower follows the epoch and fetches from the leader. As a
 * leader it checks its ISR every `isrCheckIntervalMs` of the injected clock (and when a
 * follower catches up): a proposed change is written through IsrWriter with the leader epoch,
 * and acted on only once that write succeeded.
 *
 * Invariants: a state with a leader epoch older than the partition's is ignored; state changes
 * of one partition apply one at a time, in order; at most one fetcher per partition, and never
 * one while the partition leads; at most one ISR write per partition in flight (the partition's
 * pending change), and a state change never waits for one: a write that returns after the
 * leadership changed is dropped. A write that got no answer may still land, so it is sent again
 * (each attempt reads the state afresh and checks and sets it) until one is answered, before
 * the change is given up: an expansion given up on and landing later would put a follower in the
 * stored ISR that the leader's high watermark no longer waits for.
 */
import type {Partition} from '../broker/partition.js'
import type {Logger} from '../logger.js'
import type {PartitionLookup} from './in-process-leader-client.js'
import {ReplicaFetcher, type ReplicaFetcherConfig} from './replica-fetcher.js'
import type {IsrChangeRequest, IsrWriter, LeaderClient, PartitionState, ReplicationClock} from './replication-interfaces.js'

export interface ReplicaManagerConfig {
  /** Kafka's replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR. */
  replicaLagMaxMs: number
  /** How often a leader looks for lagging followers: Kafka checks at half the lag bound. */
  isrCheckIntervalMs: number
  fetcher: Partial<ReplicaFetcherConfig>
}

export const REPLICA_LAG_MAX_MS_DEFAULT = 10_000

/**
 * How many times one ISR change is sent while its attempts go unanswered (each waits out the
 * control plane's request deadline). A refusal after an unanswered attempt is asked again too:
 * it may be that attempt landing just before, and the next read shows it.
 */
const ISR_WRITE_ATTEMPTS_MAX = 5

export const defaultReplicaManagerConfig: ReplicaManagerConfig = {
  replicaLagMaxMs: REPLICA_LAG_MAX_MS_DEFAULT,
  isrCheckIntervalMs: REPLICA_LAG_MAX_MS_DEFAULT / 2,
  fetcher: {},
}

export interface ReplicaManagerOptions {
  /** This node's replica id. */
  replicaId: number
  /** This node's process incarnation (cluster-member.ts's), carried by its fetches. */
  incarnation?: string
  partitions: PartitionLookup
  /** The link to a leader node, by its replica id. */
  leaderClient: (leaderId: number) => LeaderClient
  isrWriter: IsrWriter
  clock: ReplicationClock
  logger: Logger
  config?: Partial<ReplicaManagerConfig>
}

export type StateOutcome = 'leading' | 'following' | 'ignored' | 'not-a-replica' | 'unknown-partition'

export class ReplicaManager {
  private readonly config: ReplicaManagerConfig
  private readonly fetchers = new Map<string, ReplicaFetcher>()
  /** Per partition: the chain its state changes run on, one at a time. */
  private readonly chains = new Map<string, Promise<unknown>>()
  private readonly led = new Map<string, Partition>()
  private cancelCheck: (() => void) | null = null
  private closed = false
  private isrChangesStopped = false

  constructor(private readonly options: ReplicaManagerOptions) {
    this.config = {...defaultReplicaManagerConfig, ...options.config}
  }

  /** Starts the periodic ISR check. */
  start(): void {
    this.scheduleIsrCheck()
  }

  fetcherFor(topic: string, partition: number): ReplicaFetcher | undefined {
    return this.fetchers.get(key(topic, partition))
  }

  /** Applies one partition's state; resolves with what this node now does for it. */
  applyPartitionState(state: PartitionState): Promise<StateOutcome> {
    return this.serialized(key(state.topic, state.partition), () => this.applyNow(state))
  }

  private async applyNow(state: PartitionState): Promise<StateOutcome> {
    const {replicaId, logger} = this.options
    const id = key(state.topic, state.partition)
    const partition = this.options.partitions(state.topic, state.partition)
    if (!partition) return 'unknown-partition'
    if (state.leaderEpoch < partition.leaderEpoch) {
      logger.debug('ignoring partition state with an older leader epoch', {partition: id, stateEpoch: state.leaderEpoch, epoch: partition.leaderEpoch})
      return 'ignored'
    }
    if (!state.replicas.includes(replicaId)) {
      await this.stopFetcher(id)
      this.led.delete(id)
      return 'not-a-replica'
    }
    if (state.leader === replicaId) {
      await this.stopFetcher(id)
      if (partition.role === 'leader' && partition.leaderEpoch === state.leaderEpoch && partition.pendingIsr === null) {
        // The same leadership: the control plane's ISR is the confirmed one.
        partition.applyIsr(state.isr, state.leaderEpoch, state.isrIncarnations)
      } else {
        partition.becomeLeader(state.leaderEpoch, {replicaId, replicas: state.replicas, isr: state.isr, isrIncarnations: state.isrIncarnations, minInsyncReplicas: state.minInsyncReplicas})
      }
      partition.onFollowerCaughtUp = () => void this.checkIsrOf(id, partition)
      this.led.set(id, partition)
      return 'leading'
    }
    this.led.delete(id)
    partition.onFollowerCaughtUp = null
    const current = this.fetchers.get(id)
    if (current && current.leaderEpoch === state.leaderEpoch && current.leaderId === state.leader && current.phase !== 'stopped') return 'following'
    await this.stopFetcher(id)
    if (partition.role !== 'follower' || partition.leaderEpoch !== state.leaderEpoch) partition.becomeFollower(state.leaderEpoch)
    if (state.leader < 0 || this.closed) return 'following'
    const fetcher = new ReplicaFetcher({
      partition,
      replicaId,
      incarnation: this.options.incarnation,
      leaderId: state.leader,
      leaderEpoch: state.leaderEpoch,
      client: this.options.leaderClient(state.leader),
      clock: this.options.clock,
      logger,
      config: this.config.fetcher,
    })
    this.fetchers.set(id, fetcher)
    fetcher.start()
    return 'following'
  }

  private async stopFetcher(id: string): Promise<void> {
    const fetcher = this.fetchers.get(id)
    if (!fetcher) return
    this.fetchers.delete(id)
    await fetcher.stop()
  }

  /** One round of ISR checks over every partition this node leads (the periodic task calls it). */
  async checkIsr(): Promise<void> {
    await Promise.all([...this.led].map(([id, partition]) => this.checkIsrOf(id, partition)))
  }

  /**
   * Shrink first (a lagging follower holds acks=all back), then expansions. The proposal and
   * beginIsrChange run in one turn, so a second check meanwhile finds the change pending.
   */
  private async checkIsrOf(id: string, partition: Partition): Promise<void> {
    if (this.closed || this.isrChangesStopped || this.led.get(id) !== partition || partition.role !== 'leader') return
    const proposed = partition.proposeIsrShrink(this.options.clock.nowMs(), this.config.replicaLagMaxMs) ?? this.proposedExpansion(partition)
    if (proposed === null) return
    const leaderEpoch = partition.leaderEpoch
    const change: IsrChangeRequest = {isr: proposed, leaderEpoch, addedIncarnations: addedIncarnations(partition, proposed)}
    partition.beginIsrChange(proposed)
    const written = await this.writeIsrUntilAnswered(id, partition, change)
    if (partition.role !== 'leader' || partition.leaderEpoch !== leaderEpoch || partition.pendingIsr === null) return
    if (!written) {
      this.options.logger.info('ISR change not written; keeping the old ISR', {partition: id, isr: partition.isr, proposed})
      partition.abortIsrChange()
      return
    }
    this.options.logger.info('ISR changed', {partition: id, from: partition.isr, to: proposed, leaderEpoch})
    partition.applyIsr(proposed, leaderEpoch)
  }

  /** Whether the change was written; sent again while unanswered (see ISR_WRITE_ATTEMPTS_MAX). */
  private async writeIsrUntilAnswered(id: string, partition: Partition, change: IsrChangeRequest): Promise<boolean> {
    const {isr, leaderEpoch} = change
    let unanswered = 0
    for (let attempt = 1; ; attempt++) {
      try {
        const written = await this.options.isrWriter.writeIsr(partition.topic, partition.partition, change)
        if (written || unanswered === 0 || attempt >= ISR_WRITE_ATTEMPTS_MAX) return written
      } catch (error) {
        unanswered += 1
        this.options.logger.warn('could not write an ISR change; sending it again until an attempt is answered', {partition: id, isr, attempt, error: (error as Error).message})
        if (attempt >= ISR_WRITE_ATTEMPTS_MAX) return false
      }
      if (this.closed || partition.role !== 'leader' || partition.leaderEpoch !== leaderEpoch || partition.pendingIsr === null) return false
    }
  }

  private proposedExpansion(partition: Partition): number[] | null {
    for (const id of partition.replicas) {
      const proposed = partition.proposeIsrExpand(id)
      if (proposed !== null) return proposed
    }
    return null
  }

  private scheduleIsrCheck(): void {
    if (this.closed || this.isrChangesStopped) return
    this.cancelCheck = this.options.clock.schedule(this.config.isrCheckIntervalMs, () => {
      this.checkIsr()
        .catch((error: Error) => this.options.logger.warn('ISR check failed', {error: error.message}))
        .finally(() => this.scheduleIsrCheck())
    })
  }

  private serialized<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(id) ?? Promise.resolve()
    const next = previous.then(task, task)
    const settled = next.catch(() => {})
    this.chains.set(id, settled)
    void settled.then(() => {
      if (this.chains.get(id) === settled) this.chains.delete(id)
    })
    return next
  }

  /**
   * Shutting down: no ISR change from now on. A leader that stopped serving its followers'
   * fetches (its server closing) would otherwise see them lag and shrink its ISR to itself on
   * its way out, leaving the controller no in-sync replica to elect: a clean shutdown would
   * take its partitions offline until it returned.
   */
  stopIsrChanges(): void {
    this.isrChangesStopped = true
    this.cancelCheck?.()
  }

  /** Stops the ISR checks and every fetcher. */
  async close(): Promise<void> {
    this.closed = true
    this.cancelCheck?.()
    await Promise.all([...this.fetchers.keys()].map((id) => this.stopFetcher(id)))
    this.led.clear()
  }
}

/**
 * The incarnation each member `proposed` adds fetched with, taken in the turn the expansion is
 * proposed: the process whose fetches caught it up. A restart after this leaves the recorded
 * incarnation behind, and the controller removes the member again (isr-incarnations.ts).
 */
function addedIncarnations(partition: Partition, proposed: number[]): Record<number, string> | undefined {
  const added: Record<number, string> = {}
  for (const id of proposed) {
    const incarnation = partition.isr.includes(id) ? undefined : partition.followerIncarnation(id)
    if (incarnation !== undefined) added[id] = incarnation
  }
  return Object.keys(added).length > 0 ? added : undefined
}

function key(topic: string, partition: number): string {
  return `${topic}-${partition}`
}
