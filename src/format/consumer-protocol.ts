/**
 * Kafka's consumer protocol: the bytes consumer-group members exchange through the coordinator,
 * which treats them as opaque (JoinGroup's protocol metadata, SyncGroup's assignments). Kept
 * in Kafka's encoding so a Kafka client's members and Lignum's can read each other's.
 *
 *   ConsumerProtocolSubscription (version 1):
 *     version int16 | topic count int32 | (name length int16, name utf8)* |
 *     user data length int32 (-1: null) | user data |
 *     owned count int32 | (name length int16, name utf8, partition count int32, partition int32*)*
 *   ConsumerProtocolAssignment (version 1):
 *     version int16 | topic count int32 | (name length int16, name utf8, partition count int32, partition int32*)* |
 *     user data length int32 (-1: null) | user data
 *
 * Version 0 of the subscription has no owned partitions; later versions append fields that a
 * reader of version 1 ignores (Kafka's rule: a newer version only adds at the end).
 */
import {LignumError} from '../errors.js'

export const CONSUMER_PROTOCOL_TYPE = 'consumer'
const CONSUMER_PROTOCOL_VERSION = 1
// A member's metadata names its topics; bounded so a bad count cannot allocate without end.
const ENTRIES_MAX = 1_000_000

export interface TopicPartitionList {
  topic: string
  partitions: number[]
}

export interface Subscription {
  topics: string[]
  /** What the member holds now (cooperative assignors keep it where they can). */
  ownedPartitions: TopicPartitionList[]
}

export function encodeSubscription(subscription: Subscription): Buffer {
  const writer = new Writer()
  writer.int16(CONSUMER_PROTOCOL_VERSION)
  writer.int32(subscription.topics.length)
  for (const topic of subscription.topics) writer.string(topic)
  writer.int32(-1)
  writeTopicPartitions(writer, subscription.ownedPartitions)
  return writer.done()
}

export function decodeSubscription(bytes: Buffer): Subscription {
  const reader = new Reader(bytes)
  const version = reader.int16()
  const topics = reader.array(() => reader.string())
  reader.bytes()
  const ownedPartitions = version >= 1 && reader.remaining > 0 ? readTopicPartitions(reader) : []
  return {topics, ownedPartitions}
}

export function encodeAssignment(assigned: TopicPartitionList[]): Buffer {
  const writer = new Writer()
  writer.int16(CONSUMER_PROTOCOL_VERSION)
  writeTopicPartitions(writer, assigned)
  writer.int32(-1)
  return writer.done()
}

/** An empty buffer is no assignment (what SyncGroup answers a member the leader left out). */
export function decodeAssignment(bytes: Buffer): TopicPartitionList[] {
  if (bytes.length === 0) return []
  const reader = new Reader(bytes)
  reader.int16()
  return readTopicPartitions(reader)
}

function writeTopicPartitions(writer: Writer, lists: TopicPartitionList[]): void {
  writer.int32(lists.length)
  for (const list of lists) {
    writer.string(list.topic)
    writer.int32(list.partitions.length)
    for (const partition of list.partitions) writer.int32(partition)
  }
}

function readTopicPartitions(reader: Reader): TopicPartitionList[] {
  return reader.array(() => ({topic: reader.string(), partitions: reader.array(() => reader.int32())}))
}

class Writer {
  private readonly parts: Buffer[] = []

  int16(value: number): void {
    const part = Buffer.alloc(2)
    part.writeInt16BE(value)
    this.parts.push(part)
  }

  int32(value: number): void {
    const part = Buffer.alloc(4)
    part.writeInt32BE(value)
    this.parts.push(part)
  }

  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8')
    this.int16(bytes.length)
    this.parts.push(bytes)
  }

  done(): Buffer {
    return Buffer.concat(this.parts)
  }
}

class Reader {
  private position = 0

  constructor(private readonly data: Buffer) {}

  get remaining(): number {
    return this.data.length - this.position
  }

  int16(): number {
    this.need(2)
    const value = this.data.readInt16BE(this.position)
    this.position += 2
    return value
  }

  int32(): number {
    this.need(4)
    const value = this.data.readInt32BE(this.position)
    this.position += 4
    return value
  }

  string(): string {
    const length = this.int16()
    if (length < 0) throw malformed('a null string')
    this.need(length)
    const value = this.data.toString('utf8', this.position, this.position + length)
    this.position += length
    return value
  }

  bytes(): Buffer | null {
    const length = this.int32()
    if (length < 0) return null
    this.need(length)
    const value = this.data.subarray(this.position, this.position + length)
    this.position += length
    return value
  }

  array<T>(readOne: () => T): T[] {
    const count = this.int32()
    if (count < 0 || count > ENTRIES_MAX) throw malformed(`a count of ${count}`)
    return Array.from({length: count}, readOne)
  }

  private need(count: number): void {
    if (this.position + count > this.data.length) throw malformed('a truncated field')
  }
}

function malformed(what: string): LignumError {
  return new LignumError('INVALID_ARGUMENT', `consumer protocol bytes hold ${what}; a group member sent metadata or an assignment that is not Kafka's consumer protocol`)
}
