/**
 * Finding damage in what a node stored before it started, so that a damaged replica is known
 * (and never elected: replica-health.ts, leader-election.ts) even when nothing reads it.
 *
 * Opening a partition CRC-checks only the batches past its recovery point (recovery.ts); a
 * batch below it, in a closed segment above all, is checked the first time a read returns it.
 * A follower's closed segments are read by nobody: clients read from the leader, and the
 * follower fetches only past its own log end. A bit flipped there would stay unknown until the
 * follower became leader and a consumer hit it, which is too late.
 *
 * The choice, by cost: checking every stored batch at open would hold the node's start (and
 * so its return to the ISR) for as long as reading its whole data directory takes: about 35
 * minutes for 1 TB at 500 MB/s, at every restart, clean or not (a clean stop proves nothing
 * about the bits a disk keeps). Instead the node serves at once and verifies in the background
 * after every start, every batch that was stored when it started, one partition after another
 * through the ordinary read path (which remembers what it checked, so those reads stay
 * zero-copy), at a bounded rate so that producers and fetchers keep the disk. Until a replica
 * is verified its node reports it unverified, and the controller elects it only when no
 * verified in-sync replica is live; one found damaged is reported damaged and never elected.
 * A batch that a later read finds failing its CRC (segment.ts) is reported the same way,
 * within a poll. A partition held offline at open (damaged-partition.ts) is damaged from the
 * start. The pacing and the polls run on an injected clock (the system's timers by default), so
 * the simulator (sim/simulation.ts) runs this same code in simulated time.
 *
 * Invariants: the health reported only changes when what the node knows changes; a replica
 * leaves the unverified list only after every batch stored at start below its log end read
 * whole; damage is never forgotten while the process runs (a repair needs a restart).
 */
import type {Broker} from '../broker/broker.js'
import {systemClock, type Partition, type PartitionClock} from '../broker/partition.js'
import {partitionId, type ReplicaHealth} from '../cluster/replica-health.js'
import {LignumError} from '../errors.js'
import {PartitionDamagedError} from '../log/partition-log.js'
import type {Logger} from '../logger.js'

// A tenth of a modest disk's sequential rate: the verification of 1 GB takes about 30 s and
// leaves the disk to producers and fetchers.
export const VERIFY_BYTES_PER_SECOND = 32 * 1024 * 1024
// One read of the verification: large enough to be sequential, small enough to pace finely.
const VERIFY_CHUNK_BYTES = 1024 * 1024
// How soon damage found by an ordinary read reaches the controller.
const DAMAGE_POLL_MS = 1_000
// The pacing reads a monotonic clock: a wall-clock step must not stall or rush the verification.
const MONOTONIC_CLOCK: PartitionClock = {nowMs: () => performance.now(), schedule: systemClock.schedule}

/** What the verification needs of a broker: its partitions, and those held offline at open. */
export type StoredReplicas = Pick<Broker, 'localPartition' | 'listTopics' | 'damagedPartitions'>

export interface ReplicaVerificationOptions {
  broker: StoredReplicas
  logger: Logger
  /** Sends the health to the controller (ClusterMember.reportReplicaHealth). */
  report(health: ReplicaHealth): Promise<void>
  bytesPerSecond?: number
  /** Bytes per read (default VERIFY_CHUNK_BYTES). */
  chunkBytes?: number
  /** Paces the reads and the damage polls (default the system's timers): a seam for the simulator. */
  clock?: PartitionClock
}

/** What the node knows when it opened its data directory: held-offline partitions damaged, every non-empty replica unverified. */
export function initialReplicaHealth(broker: StoredReplicas): ReplicaHealth {
  const damaged = broker.damagedPartitions().map((held) => partitionId(held.topic, held.partition))
  const unverified: string[] = []
  for (const topic of broker.listTopics(true)) {
    for (const described of topic.partitions) {
      const partition = broker.localPartition(topic.name, described.partition)
      if (partition && partition.logEndOffset > partition.logStartOffset) unverified.push(partition.name)
    }
  }
  return {damaged: damaged.sort(), unverified: unverified.sort()}
}

export class ReplicaVerification {
  private readonly damaged = new Set<string>()
  private readonly unverified: Set<string>
  private lastReported: string
  private stopped = false
  private loop: Promise<void> | undefined
  private cancelPoll: (() => void) | undefined
  private reporting: Promise<void> = Promise.resolve()

  constructor(
    private readonly options: ReplicaVerificationOptions,
    initial: ReplicaHealth,
    /** What the node's registration already carries (it joined with it). */
    alreadyReported: ReplicaHealth,
  ) {
    for (const id of initial.damaged) this.damaged.add(id)
    this.unverified = new Set(initial.unverified)
    this.lastReported = healthKey(alreadyReported)
  }

  get health(): ReplicaHealth {
    return {damaged: [...this.damaged].sort(), unverified: [...this.unverified].filter((id) => !this.damaged.has(id)).sort()}
  }

  start(): void {
    this.reportIfChanged()
    this.loop = this.verifyAll()
    this.pollDamageLater()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.cancelPoll?.()
    await this.loop
    await this.reporting
  }

  private async verifyAll(): Promise<void> {
    const {logger} = this.options
    const startedMs = this.clock.nowMs()
    let bytes = 0
    for (const id of [...this.unverified].sort()) {
      if (this.stopped) return
      try {
        bytes += await this.verifyOne(id)
      } catch (error) {
        // Not known damaged, not known whole: it stays unverified, a leader only when no verified replica can be.
        logger.warn('could not verify a stored replica; it stays unverified until the node restarts', {partition: id, error: (error as Error).message})
        continue
      }
      this.unverified.delete(id)
      this.reportIfChanged()
    }
    if (!this.stopped) logger.info('stored replicas verified', {bytes, seconds: (this.clock.nowMs() - startedMs) / 1000, damaged: [...this.damaged]})
  }

  /** Reads every batch stored when the node started; the bytes read. */
  private async verifyOne(id: string): Promise<number> {
    const partition = this.partitionOf(id)
    if (!partition) return 0
    const rate = this.options.bytesPerSecond ?? VERIFY_BYTES_PER_SECOND
    const chunkBytes = this.options.chunkBytes ?? VERIFY_CHUNK_BYTES
    const endOffset = partition.logEndOffset
    const startedMs = this.clock.nowMs()
    let offset = partition.logStartOffset
    let bytes = 0
    while (offset < endOffset && !this.stopped) {
      try {
        const read = await partition.verifyStoredBatches(offset, chunkBytes)
        if (read.bytes === 0) break
        offset = read.nextOffset
        bytes += read.bytes
      } catch (error) {
        if (error instanceof PartitionDamagedError) {
          this.markDamaged(id)
          break
        }
        // Truncated below where it got (a follower following a new epoch) or closed: nothing more stored to verify.
        if (error instanceof LignumError && (error.code === 'OFFSET_OUT_OF_RANGE' || error.code === 'UNAVAILABLE')) break
        throw error
      }
      const aheadMs = (bytes / rate) * 1000 - (this.clock.nowMs() - startedMs)
      if (aheadMs > 0) await new Promise<void>((resolve) => this.clock.schedule(aheadMs, resolve))
    }
    return bytes
  }

  private partitionOf(id: string): Partition | undefined {
    const separator = id.lastIndexOf('-')
    return this.options.broker.localPartition(id.slice(0, separator), Number(id.slice(separator + 1)))
  }

  private get clock(): PartitionClock {
    return this.options.clock ?? MONOTONIC_CLOCK
  }

  private pollDamageLater(): void {
    this.cancelPoll = this.clock.schedule(DAMAGE_POLL_MS, () => {
      if (this.stopped) return
      this.pollDamage()
      this.pollDamageLater()
    })
  }

  private pollDamage(): void {
    for (const topic of this.options.broker.listTopics(true)) {
      for (const described of topic.partitions) {
        const partition = this.options.broker.localPartition(topic.name, described.partition)
        if (partition?.damageFound) this.markDamaged(partition.name)
      }
    }
  }

  private markDamaged(id: string): void {
    if (this.damaged.has(id)) return
    this.damaged.add(id)
    this.options.logger.error('replica damaged: reported to the controller, it is not elected leader until repaired', {partition: id})
    this.reportIfChanged()
  }

  private reportIfChanged(): void {
    const health = this.health
    const key = healthKey(health)
    if (key === this.lastReported) return
    this.lastReported = key
    this.reporting = this.reporting.then(() => this.options.report(health)).catch((error: Error) => {
      this.options.logger.warn('could not report replica health', {error: error.message})
    })
  }
}

function healthKey(health: ReplicaHealth): string {
  return `${health.damaged.join(',')}|${health.unverified.join(',')}`
}
