/**
 * Consumer-group offsets, kept durably in the internal topic `__consumer_offsets` as Kafka
 * does: each commit appends one batch of records keyed by (group, topic, partition) whose
 * value is the offset; the newest record for a key wins. On open the topic is read once to
 * rebuild the in-memory table. The partition is flushed on every commit, so an acknowledged
 * commit survives a crash.
 */
import {decodeRecordBatch, encodeRecordBatch, batchPositions} from '../log/record-batch.js'
import type {Partition} from './partition.js'
import {LignumError} from '../errors.js'

export const GROUP_OFFSETS_TOPIC = '__consumer_offsets'
// A consumer group id is echoed in keys and logs; keep it a printable, bounded name.
const GROUP_NAME_LENGTH_MAX = 255
const GROUP_NAME_PATTERN = /^[\x21-\x7e]+$/
// Reading the whole topic at open happens in chunks of this size.
const REPLAY_CHUNK_BYTES = 1024 * 1024

export interface CommittedOffset {
  topic: string
  partition: number
  offset: number
  metadata: string
}

export class GroupOffsets {
  private readonly table = new Map<string, Map<string, CommittedOffset>>()

  private constructor(private readonly partition: Partition) {}

  static async open(partition: Partition): Promise<GroupOffsets> {
    const offsets = new GroupOffsets(partition)
    await offsets.replay()
    return offsets
  }

  async commit(group: string, offsets: CommittedOffset[]): Promise<void> {
    validateGroupName(group)
    if (offsets.length === 0) return
    const records = offsets.map((entry) => ({
      key: Buffer.from(JSON.stringify([group, entry.topic, entry.partition])),
      value: Buffer.from(JSON.stringify({offset: entry.offset, metadata: entry.metadata})),
    }))
    await this.partition.append(encodeRecordBatch(records))
    await this.partition.log.flush()
    for (const entry of offsets) this.remember(group, entry)
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
    for (const entries of this.table.values()) {
      for (const [key, entry] of entries) if (entry.topic === topic) entries.delete(key)
    }
  }

  private remember(group: string, entry: CommittedOffset): void {
    let entries = this.table.get(group)
    if (!entries) this.table.set(group, (entries = new Map()))
    entries.set(`${entry.topic}\u0000${entry.partition}`, entry)
  }

  private async replay(): Promise<void> {
    let offset = this.partition.log.logStartOffset
    while (offset < this.partition.highWatermark) {
      const {batches, nextOffset} = await this.partition.log.read(offset, {maxBytes: REPLAY_CHUNK_BYTES})
      if (batches.length === 0) break
      for (const {position} of batchPositions(batches)) {
        for (const record of decodeRecordBatch(batches, position).records) this.replayRecord(record.key, record.value)
      }
      offset = nextOffset
    }
  }

  private replayRecord(key: Buffer | null, value: Buffer | null): void {
    if (!key || !value) return
    const [group, topic, partition] = JSON.parse(key.toString('utf8')) as [string, string, number]
    const {offset, metadata} = JSON.parse(value.toString('utf8')) as {offset: number; metadata: string}
    this.remember(group, {topic, partition, offset, metadata})
  }
}

export function validateGroupName(group: string): void {
  if (group.length === 0 || group.length > GROUP_NAME_LENGTH_MAX || !GROUP_NAME_PATTERN.test(group)) {
    throw new LignumError('INVALID_ARGUMENT', `invalid consumer group "${group}": use 1 to ${GROUP_NAME_LENGTH_MAX} printable characters without spaces`)
  }
}
