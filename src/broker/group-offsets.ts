/**
 * Consumer-group offsets, kept durably in the internal topic `__consumer_offsets` as Kafka
 * does: each commit appends one batch of records keyed by (group, topic, partition) whose
 * value is the offset; the newest record for a key wins. On open the topic is read once to
 * rebuild the in-memory table; a record that does not parse (written by something other than
 * this class) is skipped and logged, never a reason to refuse to start. Clients cannot
 * produce to the topic (the broker refuses `__*` topics). The partition is flushed on every
 * commit, so an acknowledged commit survives a crash. Deleting a group appends a tombstone
 * (the key with a null value, as Kafka does) per offset it had: replay forgets the key, so a
 * deletion holds across restarts and leaders as a commit does. A commit of a negative offset is
 * how Kafka clients say "no committed offset, apply the reset policy" (kafkajs after
 * OFFSET_OUT_OF_RANGE): it is stored as a tombstone for that key too, so a fetch answers no
 * offset for the partition, across restarts and leaders. Whether an entry point accepts such
 * commits is its choice (checkCommittedOffsets): the Kafka listener does, gRPC does not.
 *
 * Standalone the topic has one partition, led by the node. In cluster mode it is replicated
 * (server/group-coordinator.ts): a group's offsets live in partition groupOffsetsPartitionOf,
 * one GroupOffsets per partition this node leads, opened at that leader epoch from the
 * committed log; a commit is acknowledged (and remembered) only once the high watermark covers
 * it, so what a fetch answers is always committed.
 */
import {decodeRecordBatch, encodeRecordBatch, batchPositions} from '../format/record-batch.js'
import type {Partition} from './partition.js'
import {assert} from '../assert.js'
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'

export const GROUP_OFFSETS_TOPIC = '__consumer_offsets'
// A consumer group id is echoed in keys and logs; keep it a printable, bounded name.
const GROUP_NAME_LENGTH_MAX = 255
const GROUP_NAME_PATTERN = /^[\x21-\x7e]+$/
// Reading the whole topic at open happens in chunks of this size.
const REPLAY_CHUNK_BYTES = 1024 * 1024
// Records that do not parse are each logged up to this many, then only counted.
const SKIPPED_RECORDS_LOGGED_MAX = 10
// Java's String.hashCode works on 32-bit ints: h = 31 * h + char.
const JAVA_HASH_MULTIPLIER = 31

export interface GroupOffsetsOptions {
  /** Cluster mode: commits wait until the in-sync replicas hold them (acks=all), this long at most. */
  replicatedCommitTimeoutMs?: number
}

/**
 * What a negative offset in a commit means to the entry point that took it: Kafka's OffsetCommit
 * forgets the partition's committed offset (Kafka's "unset"); Lignum's own clients never mean
 * that, so for them it is a mistake to report.
 */
export type NegativeOffsets = 'refuse' | 'forget'

export interface CommittedOffset {
  topic: string
  partition: number
  offset: number
  metadata: string
}

export class GroupOffsets {
  private readonly table = new Map<string, Map<string, CommittedOffset>>()
  /** Per group, offsets of deleted topics: out of the table, still in the log until the group's deletion tombstones them. */
  private readonly forgottenKeys = new Map<string, Map<string, CommittedOffset>>()

  private skippedRecords = 0

  /** The leader epoch the table was read at: it is valid while the partition leads at this epoch. */
  readonly leaderEpoch: number

  private constructor(
    private readonly partition: Partition,
    private readonly logger: Logger,
    private readonly options: GroupOffsetsOptions,
  ) {
    this.leaderEpoch = partition.leaderEpoch
  }

  /** Reads the partition's committed records (below its high watermark) into the table. */
  static async open(partition: Partition, logger: Logger, options: GroupOffsetsOptions = {}): Promise<GroupOffsets> {
    const offsets = new GroupOffsets(partition, logger, options)
    await offsets.replay()
    return offsets
  }

  /** True while the table may answer: its partition still leads at the epoch it was read at. */
  get current(): boolean {
    return this.partition.role === 'leader' && this.partition.leaderEpoch === this.leaderEpoch
  }

  /** An entry with a negative offset forgets the partition's committed offset (a tombstone); the caller checked it may (checkCommittedOffsets). */
  async commit(group: string, offsets: CommittedOffset[]): Promise<void> {
    validateGroupName(group)
    if (offsets.length === 0) return
    for (const entry of offsets) assert(Number.isSafeInteger(entry.offset), `committed offsets are checked before they reach the table, got ${entry.offset}`)
    const records = offsets.map((entry) => ({
      key: offsetKey(group, entry.topic, entry.partition),
      // Written even where nothing is committed: it also buries an offset of a deleted topic that a replay would bring back.
      value: entry.offset < 0 ? null : Buffer.from(JSON.stringify({offset: entry.offset, metadata: entry.metadata})),
    }))
    await this.appendCommitted(records)
    for (const entry of offsets) {
      if (entry.offset < 0) this.forgetCommitted(group, entry.topic, entry.partition)
      else this.remember(group, entry)
    }
  }

  /** Appends, flushes and (cluster mode) waits for the in-sync replicas; the table changes only after. */
  private async appendCommitted(records: {key: Buffer; value: Buffer | null}[]): Promise<void> {
    const timeoutMs = this.options.replicatedCommitTimeoutMs
    const appended = await this.partition.appendAsLeader(encodeRecordBatch(records), {acks: timeoutMs === undefined ? 1 : 'all'})
    await this.partition.flush()
    // Not remembered before it is committed: a fetch never answers what a new leader may lack.
    if (timeoutMs !== undefined) await this.partition.waitForReplication(appended.lastOffset, timeoutMs)
  }

  /** Every group with at least one committed offset, by name. */
  groups(): string[] {
    return [...this.table].filter(([, entries]) => entries.size > 0).map(([group]) => group).sort()
  }

  /**
   * Removes every committed offset of the group, durably (one tombstone per offset, committed
   * and flushed as a commit is); how many there were. Nothing is written for an unknown group.
   */
  async deleteGroup(group: string): Promise<number> {
    validateGroupName(group)
    const entries = [...(this.table.get(group)?.values() ?? [])]
    if (entries.length === 0) return 0
    const forgotten = [...(this.forgottenKeys.get(group)?.values() ?? [])]
    const tombstones = [...entries, ...forgotten].map((entry) => ({key: offsetKey(group, entry.topic, entry.partition), value: null}))
    await this.appendCommitted(tombstones)
    this.table.delete(group)
    this.forgottenKeys.delete(group)
    return entries.length
  }

  fetch(group: string, topic?: string): CommittedOffset[] {
    validateGroupName(group)
    const entries = [...(this.table.get(group)?.values() ?? [])]
    return entries
      .filter((entry) => !topic || entry.topic === topic)
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
  }

  /** Forgets a deleted topic's offsets in memory; a topic created again starts afresh. */
  forgetTopic(topic: string): void {
    for (const [group, entries] of this.table) {
      for (const [key, entry] of entries) {
        if (entry.topic !== topic) continue
        entries.delete(key)
        // Still in the log: a deletion of the group tombstones them too, or a replay would bring it back.
        let forgotten = this.forgottenKeys.get(group)
        if (!forgotten) this.forgottenKeys.set(group, (forgotten = new Map()))
        forgotten.set(key, entry)
      }
    }
  }

  /** After a tombstone of this key: out of the table, and of the deleted topics' keys a group deletion still has to bury. */
  private forgetCommitted(group: string, topic: string, partition: number): void {
    this.forget(group, topic, partition)
    const forgotten = this.forgottenKeys.get(group)
    forgotten?.delete(`${topic}\u0000${partition}`)
    if (forgotten?.size === 0) this.forgottenKeys.delete(group)
  }

  private forget(group: string, topic: string, partition: number): void {
    const entries = this.table.get(group)
    entries?.delete(`${topic}\u0000${partition}`)
    if (entries?.size === 0) this.table.delete(group)
  }

  private remember(group: string, entry: CommittedOffset): void {
    let entries = this.table.get(group)
    if (!entries) this.table.set(group, (entries = new Map()))
    entries.set(`${entry.topic}\u0000${entry.partition}`, entry)
  }

  private async replay(): Promise<void> {
    let offset = this.partition.logStartOffset
    while (offset < this.partition.highWatermark) {
      const {batches, nextOffset} = await this.partition.fetch(offset, REPLAY_CHUNK_BYTES, 0)
      if (batches.length === 0) break
      for (const {position, header} of batchPositions(batches)) this.replayBatch(batches, position, header.baseOffset)
      offset = nextOffset
    }
    if (this.skippedRecords > 0) {
      this.logger.warn('skipped consumer group offset records that do not parse', {topic: GROUP_OFFSETS_TOPIC, skippedRecords: this.skippedRecords})
    }
  }

  private replayBatch(batches: Buffer, position: number, baseOffset: number): void {
    let records
    try {
      records = decodeRecordBatch(batches, position).records
    } catch (error) {
      this.skip(baseOffset, (error as Error).message)
      return
    }
    for (const record of records) {
      try {
        this.replayRecord(record.key, record.value)
      } catch (error) {
        this.skip(record.offset, (error as Error).message)
      }
    }
  }

  private skip(offset: number, reason: string): void {
    this.skippedRecords++
    // The first few are named; a flood of them is counted in the summary.
    if (this.skippedRecords <= SKIPPED_RECORDS_LOGGED_MAX) this.logger.warn('skipping a consumer group offset record that does not parse', {topic: GROUP_OFFSETS_TOPIC, offset, reason})
  }

  private replayRecord(key: Buffer | null, value: Buffer | null): void {
    if (!key) throw new Error('the record has no key')
    const parsedKey = JSON.parse(key.toString('utf8')) as unknown
    if (!Array.isArray(parsedKey) || parsedKey.length !== 3 || typeof parsedKey[0] !== 'string' || typeof parsedKey[1] !== 'string' || !Number.isInteger(parsedKey[2])) {
      throw new Error('the key is not [group, topic, partition]')
    }
    if (value === null) {
      this.forget(parsedKey[0], parsedKey[1], parsedKey[2] as number)
      return
    }
    const parsedValue = JSON.parse(value.toString('utf8')) as unknown
    const entry = parsedValue as {offset?: unknown; metadata?: unknown} | null
    if (entry === null || typeof entry !== 'object' || !Number.isSafeInteger(entry.offset) || typeof (entry.metadata ?? '') !== 'string') {
      throw new Error('the value is not {offset, metadata}')
    }
    const [group, topic, partition] = parsedKey as [string, string, number]
    this.remember(group, {topic, partition, offset: entry.offset as number, metadata: (entry.metadata as string | undefined) ?? ''})
  }
}

function offsetKey(group: string, topic: string, partition: number): Buffer {
  return Buffer.from(JSON.stringify([group, topic, partition]))
}

/**
 * The partition of the offsets topic that holds a group's offsets: abs(Java hashCode of the
 * group id) % partitions, as Kafka places groups, so the choice is stable across nodes,
 * restarts and versions. Kafka's abs maps Integer.MIN_VALUE to 0.
 */
export function groupOffsetsPartitionOf(group: string, partitionCount: number): number {
  let hash = 0
  for (let index = 0; index < group.length; index++) hash = (Math.imul(hash, JAVA_HASH_MULTIPLIER) + group.charCodeAt(index)) | 0
  const positive = hash === -0x80000000 ? 0 : Math.abs(hash)
  return positive % partitionCount
}

/** Refuses what no entry point stores: an offset that is not a whole number, and a negative one where `negative` says so. */
export function checkCommittedOffsets(offsets: CommittedOffset[], negative: NegativeOffsets): void {
  for (const entry of offsets) {
    if (!Number.isSafeInteger(entry.offset)) throw new LignumError('INVALID_ARGUMENT', `cannot commit offset ${entry.offset} for ${entry.topic}/${entry.partition}: offsets are whole numbers below 2^53`)
    if (entry.offset < 0 && negative === 'refuse') {
      throw new LignumError('INVALID_ARGUMENT', `cannot commit offset ${entry.offset} for ${entry.topic}/${entry.partition}: offsets are whole numbers from 0`, {hint: 'to start a group over, move it with: lignum groups seek'})
    }
  }
}

export function validateGroupName(group: string): void {
  if (group.length === 0 || group.length > GROUP_NAME_LENGTH_MAX || !GROUP_NAME_PATTERN.test(group)) {
    throw new LignumError('INVALID_ARGUMENT', `invalid consumer group "${group}": use 1 to ${GROUP_NAME_LENGTH_MAX} printable characters without spaces`)
  }
}
