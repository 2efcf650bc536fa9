/**
 * Consumption as a member of a consumer group: the partitions read are those the group's
 * leader assigned this member (GroupMember), and they change at each rebalance. One fetch loop
 * per owned partition feeds one bounded queue, as in consumer.ts; a chunk from a loop that has
 * since been stopped (its partition revoked) is dropped, never yielded.
 *
 * Rebalances run between chunks, never while the reader holds one, so the consumed position of
 * every partition is exact when it is given up: before a partition is revoked its position is
 * committed (eager assignors give up everything before rejoining; cooperative ones keep what
 * stays and give up only what moves, then rejoin once more). The next owner starts at that
 * commit, so no record is skipped across a rebalance; records read after the last commit of a
 * member that dies are read again by the next owner (at least once). A member whose membership
 * was lost (its session expired) commits nothing: its partitions already belong to others.
 *
 * Commits: 'auto' every `autoCommitMs` (and at each revocation and at the end), 'sync' once the
 * reader has finished with every chunk fetched so far (the CLI: after their records are printed),
 * and at least every SYNC_COMMIT_RECORDS_MAX records. Not after every chunk: a followed partition
 * brings one producer batch per response, often one record, and a commit is a round trip to an
 * fsync at the coordinator (5 to 120 ms measured), so a commit per chunk reads slower than a busy
 * producer writes and the consumer never catches up. Committing when caught up batches itself:
 * the longer a commit takes, the more is ready after it, and the next commit covers all of it.
 */
import {LignumError} from '../errors.js'
import {batchPositions} from '../format/record-batch.js'
import {ASSIGNORS, type AssignorName} from './assignors/index.js'
import {AsyncQueue} from './async-queue.js'
import type {ClusterRoutes} from './cluster-routes.js'
import {chunkOfBatch, fetchLoop, resolveRanges, ResponseBuffer, type Chunk, type ConsumeOptions, type RecordChunk} from './consumer.js'
import {GroupMember} from './group-member.js'

export interface GroupConsumeOptions extends ConsumeOptions {
  group: string
  /** How the leader splits the partitions: 'range' (the default) or 'cooperative-sticky'. */
  assignor?: AssignorName
  /** 'auto': every autoCommitMs; 'sync': once the reader has finished with every chunk fetched so far. */
  commit?: 'auto' | 'sync'
  sessionTimeoutMs?: number
  rebalanceTimeoutMs?: number
  /** The first assignment starts at `from` / `fromTimeMs`, not at the committed offsets. */
  resetOffsets?: boolean
}

// As consumer.ts: fetch responses buffered ahead of the reader across partitions.
const QUEUE_CAPACITY = 4
// Kafka's auto.commit.interval.ms.
const AUTO_COMMIT_MS = 5000
// Kafka's max.poll.records: with --commit sync, a reader that never catches up (a producer as
// fast as it) still commits at least this often, so a crash re-reads no more than this.
const SYNC_COMMIT_RECORDS_MAX = 500

type TaggedChunk = Chunk & {loop: AbortController}
/** Pushed by the heartbeat loop to wake a reader waiting for records: a rebalance is due. */
const WAKE = Symbol('rebalance')

export async function* consumeGroupChunks(routes: ClusterRoutes, partitionCountOf: (topic: string) => Promise<number>, options: GroupConsumeOptions): AsyncGenerator<RecordChunk> {
  const assignor = ASSIGNORS.get(options.assignor ?? 'range')
  if (!assignor) throw new LignumError('INVALID_ARGUMENT', `there is no assignor "${options.assignor}"; use one of ${[...ASSIGNORS.keys()].join(', ')}`)
  const member = new GroupMember(routes.bootstrap, {group: options.group, topic: options.topic, assignor, sessionTimeoutMs: options.sessionTimeoutMs, rebalanceTimeoutMs: options.rebalanceTimeoutMs, partitionCountOf})
  const queue = new AsyncQueue<TaggedChunk | typeof WAKE>(QUEUE_CAPACITY)
  const owned = new OwnedPartitions(routes, options, queue, member)
  member.onRejoinNeeded = () => void queue.push(WAKE)
  const onAbort = () => queue.close()
  options.signal?.addEventListener('abort', onAbort, {once: true})
  let lastCommitMs = Date.now()
  let uncommittedRecords = 0
  try {
    await owned.rebalance(assignor.rebalance, true)
    for (;;) {
      if (member.rejoinNeeded && !options.signal?.aborted) {
        await owned.rebalance(assignor.rebalance, false)
        continue
      }
      // Checked before waiting for more, so a reader that caught up (--commit sync) never idles on an uncommitted record.
      const syncDue = options.commit === 'sync' && uncommittedRecords > 0 && (queue.size === 0 || uncommittedRecords >= SYNC_COMMIT_RECORDS_MAX)
      if (syncDue || Date.now() - lastCommitMs >= (options.autoCommitMs ?? AUTO_COMMIT_MS)) {
        await owned.commit()
        lastCommitMs = Date.now()
        uncommittedRecords = 0
      }
      // -e or --to: done once every partition owned now is read to its end.
      if (owned.allAtEnd()) break
      const item = await queue.shift()
      if (item === undefined) break
      if (item === WAKE || !owned.isCurrent(item)) continue
      uncommittedRecords += yield* owned.chunksOf(item)
    }
  } finally {
    owned.settleHeld()
    owned.stopAll()
    queue.close()
    options.signal?.removeEventListener('abort', onAbort)
    await owned.commit().catch(() => {})
    await member.leave()
  }
}

/** The partitions this member owns now: their fetch loops and consumed positions. */
class OwnedPartitions {
  private readonly loops = new Map<number, AbortController>()
  private readonly ends = new Map<number, number>()
  private readonly positions = new Map<number, number>()
  private readonly committed = new Map<number, number>()
  private held: ReturnType<typeof chunkOfBatch>
  private heldPartition = -1

  constructor(
    private readonly routes: ClusterRoutes,
    private readonly options: GroupConsumeOptions,
    private readonly queue: AsyncQueue<TaggedChunk | typeof WAKE>,
    private readonly member: GroupMember,
  ) {}

  allAtEnd(): boolean {
    if (!this.options.stopAtEnd && this.options.toOffset === undefined) return false
    return [...this.positions].every(([partition, position]) => position >= (this.ends.get(partition) ?? Number.POSITIVE_INFINITY))
  }

  isCurrent(chunk: TaggedChunk): boolean {
    return this.loops.get(chunk.partition) === chunk.loop
  }

  /** The chunks of one fetched response, each counted as consumed once the reader asks for the next; returns how many records they held. */
  *chunksOf(chunk: TaggedChunk): Generator<RecordChunk, number> {
    let records = 0
    const end = this.ends.get(chunk.partition) ?? Number.POSITIVE_INFINITY
    const response = new ResponseBuffer(chunk.batches)
    for (const {position, header} of batchPositions(chunk.batches)) {
      if (header.isControl) {
        if (header.lastOffset >= chunk.fromOffset && header.lastOffset < end) this.positions.set(chunk.partition, header.lastOffset + 1)
        continue
      }
      this.held = chunkOfBatch(this.options.topic, chunk.partition, chunk.batches, position, chunk.fromOffset, end, response)
      if (!this.held) continue
      this.heldPartition = chunk.partition
      records += this.held.count
      yield this.held
      this.settleHeld()
    }
    response.allCut()
    return records
  }

  settleHeld(): void {
    const next = this.held?.nextOffset()
    if (this.held && next !== undefined && this.loops.has(this.heldPartition)) this.positions.set(this.heldPartition, next)
    this.held = undefined
  }

  /** Commits the positions that moved, as this generation's member; a stale membership commits nothing. */
  async commit(partitions: number[] = [...this.positions.keys()]): Promise<void> {
    if (!this.member.isMember) return
    const changed = new Map(partitions.filter((partition) => this.positions.has(partition) && this.committed.get(partition) !== this.positions.get(partition)).map((partition) => [partition, this.positions.get(partition) as number]))
    try {
      await this.member.commit(changed)
      for (const [partition, offset] of changed) this.committed.set(partition, offset)
    } catch (error) {
      if (!(error instanceof LignumError)) throw error
      if (error.code === 'UNKNOWN_MEMBER_ID' || error.code === 'ILLEGAL_GENERATION') this.member.markLost(error)
      else if (error.code === 'REBALANCE_IN_PROGRESS') this.member.requestRejoin()
      else if (!error.retriable) throw error
    }
  }

  /**
   * Gives up what must go (committing it first, unless the membership is lost), joins a round,
   * and starts reading what was added. Cooperative members that gave something up rejoin once
   * more, so the partitions reach their new owner.
   */
  async rebalance(protocol: 'eager' | 'cooperative', first: boolean): Promise<void> {
    // Lost: the partitions are someone else's already, and what was read since the last commit is read again there.
    if (this.member.lost) this.revoke([...this.loops.keys()])
    else if (protocol === 'eager') await this.revokeCommitted([...this.loops.keys()])
    const assigned = await this.member.joinRound([...this.loops.keys()].sort((a, b) => a - b))
    const revoked = [...this.loops.keys()].filter((partition) => !assigned.includes(partition))
    const added = assigned.filter((partition) => !this.loops.has(partition))
    await this.revokeCommitted(revoked)
    if (protocol === 'cooperative' && revoked.length > 0) this.member.requestRejoin()
    await this.start(added, first && this.options.resetOffsets === true)
  }

  stopAll(): void {
    for (const loop of this.loops.values()) loop.abort()
  }

  private async revokeCommitted(partitions: number[]): Promise<void> {
    if (partitions.length === 0) return
    await this.commit(partitions)
    this.revoke(partitions)
  }

  private revoke(partitions: number[]): void {
    for (const partition of partitions) {
      this.loops.get(partition)?.abort()
      this.loops.delete(partition)
      this.positions.delete(partition)
      this.committed.delete(partition)
      this.ends.delete(partition)
    }
  }

  private async start(partitions: number[], ignoreCommitted: boolean): Promise<void> {
    if (partitions.length === 0) return
    const ranges = await resolveRanges(this.routes, this.options, partitions, ignoreCommitted)
    for (const range of ranges) {
      const loop = new AbortController()
      this.loops.set(range.partition, loop)
      this.positions.set(range.partition, range.start)
      this.ends.set(range.partition, range.end)
      if (range.start >= range.end) continue
      const queue = this.queue
      const sink = {
        push: (chunk: Chunk) => (loop.signal.aborted ? Promise.resolve() : queue.push({...chunk, loop})),
        get isClosed() {
          return queue.isClosed || loop.signal.aborted
        },
      }
      fetchLoop(this.routes, this.options, range, sink, loop.signal).catch((error) => {
        if (!loop.signal.aborted) queue.fail(error)
      })
    }
  }
}
