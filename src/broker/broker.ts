/**
 * The broker: the topics of one node, their partitions, and the produce, fetch and offset
 * semantics on top of the log. No transport here: the gRPC and HTTP servers are thin adapters
 * onto this class. Every request is validated whole before anything is appended, so a refused
 * request stores nothing.
 */
import {mkdir, rm} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {PartitionLog, type PartitionLogConfig} from '../log/partition-log.js'
import {batchPositions, encodeRecordBatch, type RecordInput} from '../log/record-batch.js'
import {listPartitions} from '../log/data-dir.js'
import {partitionDirName, validateTopicName} from '../log/topic-name.js'
import {GROUP_OFFSETS_TOPIC, GroupOffsets, type CommittedOffset} from './group-offsets.js'
import {Partition, type FetchResult} from './partition.js'
import {lastSequenceOf, ProducerStateTable} from './producer-state.js'
import {partitionForKey, StickyPartitioner} from './partitioner.js'
import {readTopicStore, writeTopicStore, type TopicRecord, type TopicSettings} from './topic-store.js'

export interface BrokerConfig {
  autoCreateTopics: boolean
  defaultPartitions: number
  partitionsPerTopicMax: number
  batchBytesMax: number
  /** Defaults for every partition log; a topic's own settings override them. */
  logDefaults: Partial<PartitionLogConfig>
}

export type Acks = 0 | 1 | 'all'

export interface ProduceInput {
  topic: string
  /** -1 lets the broker choose: murmur2 of the key, sticky for unkeyed records. */
  partition: number
  /** Encoded record batches (the fast path). */
  batches?: Buffer
  /** Records one by one (the friendly path). */
  records?: RecordInput[]
  acks: Acks
}

export interface ProduceResult {
  topic: string
  partition: number
  baseOffset: number
  lastOffset: number
}

export interface PartitionDescription {
  partition: number
  logStartOffset: number
  logEndOffset: number
  highWatermark: number
  segmentCount: number
  sizeBytes: number
}

export interface TopicDescription {
  name: string
  partitions: PartitionDescription[]
  settings: TopicSettings
  internal: boolean
}

interface Topic {
  record: TopicRecord
  partitions: Partition[]
  /** Per partition: the idempotent producers' recent batches. */
  producerStates: ProducerStateTable[]
}

// After a restart, producer state is rebuilt from about this many bytes at the end of each
// partition: a retry can only repeat one of the last few batches of a producer.
const PRODUCER_STATE_REBUILD_BYTES = 16 * 1024 * 1024
// Retention is checked on a timer, as Kafka's log.retention.check.interval.ms (5 minutes).
const RETENTION_CHECK_INTERVAL_MS = 5 * 60 * 1000

export class Broker {
  private readonly topics = new Map<string, Topic>()
  private readonly creating = new Map<string, Promise<Topic>>()
  private topicsSaved: Promise<void> = Promise.resolve()
  private readonly sticky = new StickyPartitioner()
  private groupOffsets!: GroupOffsets
  private retentionTimer: NodeJS.Timeout | undefined
  private closed = false

  private constructor(
    readonly dataDir: string,
    readonly config: BrokerConfig,
    private readonly logger: Logger,
  ) {}

  static async open(dataDir: string, config: BrokerConfig, logger: Logger): Promise<Broker> {
    await mkdir(dataDir, {recursive: true})
    const broker = new Broker(dataDir, config, logger)
    await broker.openTopics()
    const offsetsTopic = broker.topics.get(GROUP_OFFSETS_TOPIC) ?? (await broker.createTopic(GROUP_OFFSETS_TOPIC, {partitions: 1, settings: {retentionMs: -1, flushPolicy: 'always'}, internal: true}))
    broker.groupOffsets = await GroupOffsets.open(offsetsTopic.partitions[0])
    broker.retentionTimer = setInterval(() => void broker.applyRetention(), RETENTION_CHECK_INTERVAL_MS).unref()
    return broker
  }

  private async openTopics(): Promise<void> {
    const records = new Map((await readTopicStore(this.dataDir)).map((record) => [record.name, record]))
    // Partition directories the list does not know (e.g. copied in) are served too.
    for (const found of await listPartitions(this.dataDir).catch(() => [])) {
      const record = records.get(found.topic)
      if (!record) records.set(found.topic, {name: found.topic, partitions: found.partition + 1, settings: {}, internal: found.topic.startsWith('__'), createdAtMs: Date.now()})
      else if (record.partitions <= found.partition) record.partitions = found.partition + 1
    }
    for (const record of records.values()) this.topics.set(record.name, await this.openTopic(record))
    if (records.size > 0) await this.saveTopics()
  }

  private async openTopic(record: TopicRecord): Promise<Topic> {
    const partitions: Partition[] = []
    const producerStates: ProducerStateTable[] = []
    for (let index = 0; index < record.partitions; index++) {
      const dir = path.join(this.dataDir, partitionDirName(record.name, index))
      const log = await PartitionLog.open(dir, this.logConfigFor(record.settings), {logger: this.logger})
      partitions.push(new Partition(record.name, index, log))
      producerStates.push(await rebuildProducerState(log))
    }
    return {record, partitions, producerStates}
  }

  private logConfigFor(settings: TopicSettings): Partial<PartitionLogConfig> {
    const {flushPolicy, ...rest} = settings
    const config: Partial<PartitionLogConfig> = {...this.config.logDefaults, ...rest}
    if (flushPolicy !== undefined) config.flushPolicy = typeof flushPolicy === 'number' ? {intervalMs: flushPolicy} : flushPolicy
    return config
  }

  /**
   * One write of topics.json at a time: writes share its temporary file, and two topics
   * auto-created at once must not race. Each write takes the topics as they are when it runs.
   */
  private saveTopics(): Promise<void> {
    const save = this.topicsSaved.then(() => writeTopicStore(this.dataDir, [...this.topics.values()].map((topic) => topic.record)))
    this.topicsSaved = save.catch(() => {})
    return save
  }

  /**
   * Creates a topic. Everyone waiting for the same topic (auto-creating produces) gets this
   * one promise, so their appends run in the order they asked.
   */
  createTopic(name: string, options: {partitions?: number; settings?: TopicSettings; internal?: boolean} = {}): Promise<Topic> {
    try {
      this.checkOpen()
      validateTopicName(name)
      if (name.startsWith('__') && !options.internal) {
        throw new LignumError('INVALID_TOPIC', `topic names starting with "__" are reserved for Lignum's internal topics; choose another name than "${name}"`)
      }
      const partitionCount = options.partitions ?? this.config.defaultPartitions
      if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > this.config.partitionsPerTopicMax) {
        throw new LignumError('INVALID_ARGUMENT', `a topic needs 1 to ${this.config.partitionsPerTopicMax} partitions, not ${partitionCount} (raise partitionsPerTopicMax to allow more)`)
      }
      if (this.topics.has(name) || this.creating.has(name)) throw new LignumError('ALREADY_EXISTS', `topic "${name}" already exists`)
      const record: TopicRecord = {name, partitions: partitionCount, settings: options.settings ?? {}, internal: options.internal ?? false, createdAtMs: Date.now()}
      const creation = this.openNewTopic(record)
      this.creating.set(name, creation)
      const forget = () => this.creating.delete(name)
      creation.then(forget, forget)
      return creation
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private async openNewTopic(record: TopicRecord): Promise<Topic> {
    const topic = await this.openTopic(record)
    this.topics.set(record.name, topic)
    await this.saveTopics()
    this.logger.info('topic created', {topic: record.name, partitions: record.partitions})
    return topic
  }

  async deleteTopic(name: string): Promise<void> {
    const topic = this.topicOrThrow(name)
    if (topic.record.internal) throw new LignumError('INVALID_ARGUMENT', `topic "${name}" is internal to Lignum and cannot be deleted`)
    this.topics.delete(name)
    for (const partition of topic.partitions) {
      await partition.close()
      await rm(partition.log.dir, {recursive: true, force: true})
    }
    this.groupOffsets.forgetTopic(name)
    await this.saveTopics()
    this.logger.info('topic deleted', {topic: name})
  }

  listTopics(includeInternal = false): TopicDescription[] {
    return [...this.topics.values()]
      .filter((topic) => includeInternal || !topic.record.internal)
      .map((topic) => describe(topic))
      .sort((a, b) => a.name.localeCompare(b.name))
  }

  describeTopic(name: string): TopicDescription {
    return describe(this.topicOrThrow(name))
  }

  /** The topic, created with the defaults if it does not exist and auto-creation is on. */
  async ensureTopic(name: string): Promise<void> {
    this.checkOpen()
    validateTopicName(name)
    await this.topicForProduce(name)
  }

  /**
   * Appends the request's records. When the topic exists, the append is issued before this
   * returns, so requests (e.g. pipelined on one stream) reach a partition in call order.
   */
  produce(input: ProduceInput): Promise<ProduceResult[]> {
    try {
      this.checkOpen()
      validateTopicName(input.topic)
      if (input.batches && input.batches.length > 0 && input.records?.length) {
        throw new LignumError('INVALID_ARGUMENT', 'a produce request carries either records or a record batch, not both')
      }
      const topic = this.topics.get(input.topic)
      return topic ? this.produceTo(topic, input) : this.topicForProduce(input.topic).then((created) => this.produceTo(created, input))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private async produceTo(topic: Topic, input: ProduceInput): Promise<ProduceResult[]> {
    if (input.batches && input.batches.length > 0) return [await this.produceBatches(topic, input.partition, input.batches)]
    if (input.records && input.records.length > 0) return this.produceRecords(topic, input.partition, input.records)
    throw new LignumError('INVALID_ARGUMENT', `the produce request for topic "${input.topic}" has no records; send at least one`)
  }

  private async produceBatches(topic: Topic, requested: number, batches: Buffer): Promise<ProduceResult> {
    const headers = [...batchPositions(batches)].map(({header}) => header)
    for (const header of headers) this.checkBatchSize(header.sizeBytes)
    const partitionIndex = requested >= 0 ? requested : this.stickyPartition(topic)
    const partition = this.partitionOf(topic, partitionIndex)
    const first = headers[0]
    // Idempotence is tracked for the one-batch requests idempotent producers send.
    const offsets = headers.length === 1 && first.producerId >= 0 && first.baseSequence >= 0
      ? await this.appendIdempotent(partition, topic.producerStates[partitionIndex], batches, first.producerId, first.baseSequence, first.recordCount)
      : await partition.append(batches)
    return {topic: topic.record.name, partition: partitionIndex, baseOffset: offsets.baseOffset, lastOffset: offsets.lastOffset}
  }

  /** Appends a producer's batch once: a retry of a recent batch gets the first append's offsets. */
  private appendIdempotent(partition: Partition, producers: ProducerStateTable, batch: Buffer, producerId: number, baseSequence: number, recordCount: number): Promise<{baseOffset: number; lastOffset: number}> {
    const lastSequence = lastSequenceOf(baseSequence, recordCount)
    const earlier = producers.findDuplicate(producerId, baseSequence, lastSequence)
    if (earlier) return earlier.offsets
    const offsets = partition.append(batch).then((info) => ({baseOffset: info.baseOffset, lastOffset: info.lastOffset}))
    const entry = {baseSequence, lastSequence, offsets}
    producers.remember(producerId, entry)
    offsets.catch(() => producers.forget(producerId, entry))
    return offsets
  }

  private async produceRecords(topic: Topic, requested: number, records: RecordInput[]): Promise<ProduceResult[]> {
    const byPartition = new Map<number, RecordInput[]>()
    const unkeyedPartition = requested >= 0 ? requested : this.stickyPartition(topic)
    for (const record of records) {
      const index = requested >= 0 ? requested : record.key ? partitionForKey(record.key, topic.partitions.length) : unkeyedPartition
      let group = byPartition.get(index)
      if (!group) byPartition.set(index, (group = []))
      group.push(record)
    }
    // Encode every batch before appending any, so an oversized one refuses the whole request.
    const encoded = [...byPartition].map(([index, group]) => {
      this.partitionOf(topic, index)
      const batch = encodeRecordBatch(group)
      this.checkBatchSize(batch.length)
      return [index, batch] as const
    })
    const results: ProduceResult[] = []
    for (const [index, batch] of encoded) {
      const info = await this.partitionOf(topic, index).append(batch)
      results.push({topic: topic.record.name, partition: index, baseOffset: info.baseOffset, lastOffset: info.lastOffset})
    }
    return results
  }

  private stickyPartition(topic: Topic): number {
    const index = this.sticky.choose(topic.partitions.length)
    this.sticky.next(topic.partitions.length)
    return index
  }

  private checkBatchSize(sizeBytes: number): void {
    if (sizeBytes > this.config.batchBytesMax) {
      throw new LignumError('RECORD_TOO_LARGE', `a record batch of ${sizeBytes} bytes exceeds the limit of ${this.config.batchBytesMax} bytes; send smaller records or raise batchBytesMax`)
    }
  }

  private topicForProduce(name: string): Promise<Topic> {
    const existing = this.topics.get(name)
    if (existing) return Promise.resolve(existing)
    const pending = this.creating.get(name)
    if (pending) return pending
    if (!this.config.autoCreateTopics) {
      return Promise.reject(new LignumError('UNKNOWN_TOPIC', `topic "${name}" does not exist and auto-creation is off; create it with: lignum topics create ${name}`))
    }
    return this.createTopic(name)
  }

  async fetch(name: string, partitionIndex: number, offset: number, options: {maxBytes: number; maxWaitMs: number; signal?: AbortSignal}): Promise<FetchResult> {
    this.checkOpen()
    const partition = this.partitionOf(this.topicOrThrow(name), partitionIndex)
    return partition.fetch(offset, options.maxBytes, options.maxWaitMs, options.signal)
  }

  /** Waits for an append to a partition (or the timeout, or the signal). */
  waitForAppend(name: string, partitionIndex: number, maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return this.partitionOf(this.topicOrThrow(name), partitionIndex).waitForAppend(maxWaitMs, signal)
  }

  /** Kafka's ListOffsets: -1 the end (high watermark), -2 the start, else the first offset at or after a timestamp. */
  async listOffset(name: string, partitionIndex: number, timestamp: number): Promise<number> {
    const partition = this.partitionOf(this.topicOrThrow(name), partitionIndex)
    if (timestamp === -1) return partition.highWatermark
    if (timestamp === -2) return partition.log.logStartOffset
    const offset = await partition.log.offsetForTimestamp(timestamp)
    return offset === null ? partition.highWatermark : Math.min(offset, partition.highWatermark)
  }

  async commitOffsets(group: string, offsets: CommittedOffset[]): Promise<void> {
    for (const entry of offsets) {
      this.partitionOf(this.topicOrThrow(entry.topic), entry.partition)
      if (!Number.isSafeInteger(entry.offset) || entry.offset < 0) throw new LignumError('INVALID_ARGUMENT', `cannot commit offset ${entry.offset}: offsets are whole numbers from 0`)
    }
    await this.groupOffsets.commit(group, offsets)
  }

  fetchOffsets(group: string, topic?: string): CommittedOffset[] {
    return this.groupOffsets.fetch(group, topic)
  }

  async applyRetention(): Promise<void> {
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) {
        try {
          const {deletedSegments} = await partition.log.applyRetention()
          if (deletedSegments > 0) this.logger.info('retention deleted segments', {topic: topic.record.name, partition: partition.partition, deletedSegments})
        } catch (error) {
          this.logger.error('retention failed', {topic: topic.record.name, partition: partition.partition, error})
        }
      }
    }
  }

  private topicOrThrow(name: string): Topic {
    validateTopicName(name)
    const topic = this.topics.get(name)
    if (!topic) throw new LignumError('UNKNOWN_TOPIC', `topic "${name}" does not exist; list topics with: lignum topics list`)
    return topic
  }

  private partitionOf(topic: Topic, index: number): Partition {
    const partition = topic.partitions[index]
    if (!partition) {
      throw new LignumError('NOT_FOUND', `topic "${topic.record.name}" has partitions 0 to ${topic.partitions.length - 1}; there is no partition ${index}`)
    }
    return partition
  }

  private checkOpen(): void {
    if (this.closed) throw new LignumError('UNAVAILABLE', 'the broker is shutting down; retry on another node or after it restarts')
  }

  /** Flushes and closes every partition. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.retentionTimer)
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) await partition.close()
    }
  }
}

/** Learns the idempotent producers' last batches from the end of a partition's log. */
async function rebuildProducerState(log: PartitionLog): Promise<ProducerStateTable> {
  const table = new ProducerStateTable()
  const segments = log.segments()
  const last = segments[segments.length - 1]
  if (!last || last.recordCount === 0) return table
  // Offsets are dense: estimate the offset that many bytes before the end from the last segment's average record size.
  const recordsInWindow = Math.ceil((PRODUCER_STATE_REBUILD_BYTES * last.recordCount) / Math.max(last.sizeBytes, 1))
  let offset = Math.max(log.logStartOffset, log.logEndOffset - recordsInWindow)
  while (offset < log.logEndOffset) {
    const {batches, nextOffset} = await log.read(offset, {maxBytes: PRODUCER_STATE_REBUILD_BYTES})
    if (batches.length === 0) break
    table.rememberFromLog(batches)
    offset = nextOffset
  }
  return table
}

function describe(topic: Topic): TopicDescription {
  return {
    name: topic.record.name,
    settings: topic.record.settings,
    internal: topic.record.internal,
    partitions: topic.partitions.map((partition) => {
      const segments = partition.log.segments()
      return {
        partition: partition.partition,
        logStartOffset: partition.log.logStartOffset,
        logEndOffset: partition.log.logEndOffset,
        highWatermark: partition.highWatermark,
        segmentCount: segments.length,
        sizeBytes: segments.reduce((sum, segment) => sum + segment.sizeBytes, 0),
      }
    }),
  }
}
