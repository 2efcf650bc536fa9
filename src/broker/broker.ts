/**
 * The broker: the topics of one node and what a request means for them: which partition a
 * record goes to, topic creation and its limit, acks and the produce timeout, group offsets,
 * retention and checkpoint timers. Each partition's state (log, high watermark, producers,
 * role, epoch) is the Partition's own; the broker only asks it. No transport here: the gRPC
 * and HTTP servers are thin adapters onto this class. A request is checked whole before
 * anything is appended, so a refused request stores nothing; past that, each partition
 * answers for itself. Internal topics (`__*`) belong to the node: clients cannot produce to
 * or delete them.
 */
import {mkdir, rm} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {PartitionDamagedError, type PartitionDamage, type PartitionLogConfig} from '../log/partition-log.js'
import {batchPositions, encodeRecordBatch, type RecordInput} from '../format/record-batch.js'
import {validateBatches} from '../log/append-checks.js'
import {listPartitions} from '../log/data-dir.js'
import {partitionDirName, validateTopicName} from '../log/topic-name.js'
import {NO_EPOCH, type EpochEnd} from './client-leader-epochs.js'
import {DamagedPartition} from './damaged-partition.js'
import {GROUP_OFFSETS_TOPIC, GroupOffsets, checkCommittedOffsets, type CommittedOffset, type NegativeOffsets} from './group-offsets.js'
import type {GroupOffsetsTable} from './group-admin.js'
import {GroupMemberships} from './group-membership.js'
import type {MemberIdentity} from './consumer-group.js'
import {Partition, systemClock, type FetchResult, type PartitionClock, type PartitionDescription} from './partition.js'
import {partitionForKey, StickyPartitioner} from '../format/partitioner.js'
import {readTopicStore, writeTopicStore, type TopicRecord, type TopicSettings} from './topic-store.js'

export type {PartitionDescription} from './partition.js'

export interface BrokerConfig {
  autoCreateTopics: boolean
  defaultPartitions: number
  partitionsPerTopicMax: number
  /** Most topics clients may have (internal topics aside); TOPICS_MAX_DEFAULT when absent. */
  topicsMax?: number
  batchBytesMax: number
  /** Defaults for every partition log; a topic's own settings override them. */
  logDefaults: Partial<PartitionLogConfig>
  /**
   * Cluster mode: a partition's role comes from the catalog, so until it says, a partition
   * opens as a follower and refuses produce. A node restarting on old data must not take
   * writes as a lone leader in the moment before it rejoins. The offsets topic too: it is
   * replicated, and no local one is made at open (server/group-coordinator.ts holds the
   * offsets then; commitOffsets and fetchOffsets here are standalone's).
   */
  partitionsFollowUntilAssigned?: boolean
}

export type Acks = 0 | 1 | 'all'

export interface FetchOptions {
  maxBytes: number
  maxWaitMs: number
  signal?: AbortSignal
  /** 'leader' (the default): only the leader serves it. 'in-sync': a follower may too (KIP-392). */
  replica?: 'leader' | 'in-sync'
  /** The leader epoch the client's metadata names (Kafka's current_leader_epoch); unset or -1: not fenced. */
  currentLeaderEpoch?: number
}

export interface ProduceInput {
  topic: string
  /** -1 lets the broker choose: murmur2 of the key, sticky for unkeyed records. */
  partition: number
  /** Encoded record batches (the fast path). */
  batches?: Buffer
  /** Records one by one (the friendly path). */
  records?: RecordInput[]
  /** 0: answered once the request is checked; 1: once the leader appended; 'all': once the high watermark covers it. */
  acks: Acks
  /** How long acks=all waits for the high watermark; 0 or absent: PRODUCE_TIMEOUT_MS_DEFAULT. */
  timeoutMs?: number
}

export interface ProduceResult {
  topic: string
  partition: number
  /** -1 with acks=0 (not known yet) or when `error` is set. */
  baseOffset: number
  lastOffset: number
  /** This partition failed; the request's other partitions may have been appended. */
  error?: LignumError
}

export interface DamagedPartitionDescription {
  topic: string
  partition: number
  damage: PartitionDamage & {repair: string}
}

export interface TopicDescription {
  name: string
  partitions: PartitionDescription[]
  settings: TopicSettings
  internal: boolean
}

interface Topic {
  record: TopicRecord
  /** A partition whose files are damaged is held offline, alone (damaged-partition.ts). */
  partitions: (Partition | DamagedPartition)[]
}

/** One partition's share of a produce request, appended (or failed) at the leader. */
interface PartitionAppend {
  partition: Partition
  result: ProduceResult
}

// Retention is checked on a timer, as Kafka's log.retention.check.interval.ms (5 minutes).
const RETENTION_CHECK_INTERVAL_MS = 5 * 60 * 1000
// High watermarks are checkpointed on a timer, as Kafka's replica.high.watermark.checkpoint.interval.ms.
const HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS = 5000
// Kafka's producer request.timeout.ms: what acks=all waits when the request names no timeout.
export const PRODUCE_TIMEOUT_MS_DEFAULT = 30_000
// A request may not pin a waiting produce longer than this (a typo of a huge timeout).
const PRODUCE_TIMEOUT_MS_MAX = 5 * 60 * 1000
/**
 * Every topic costs open files (a partition's active segment and its indexes) and memory; a
 * flood of auto-created topics (a typo in a loop) must meet a clear error before the node runs
 * out of file descriptors. 1,000 topics of a few partitions each stay within the usual
 * 4,096-descriptor limit together with client connections; raise topicsMax with the limit.
 */
export const TOPICS_MAX_DEFAULT = 1000

export function isInternalTopic(name: string): boolean {
  return name.startsWith('__')
}

/** Throws the first partition error of a produce's results: for callers that produce to one partition. */
export function throwIfAnyFailed(results: ProduceResult[]): ProduceResult[] {
  const failed = results.find((result) => result.error !== undefined)
  if (failed?.error) throw failed.error
  return results
}

export class Broker {
  private readonly topics = new Map<string, Topic>()
  private readonly creating = new Map<string, Promise<Topic>>()
  private topicsSaved: Promise<void> = Promise.resolve()
  private readonly sticky = new StickyPartitioner()
  /** Null while the offsets topic's partition is damaged: commits and fetches of offsets are refused. */
  private groupOffsets: GroupOffsets | null = null
  private retentionTimer: NodeJS.Timeout | undefined
  private checkpointTimer: NodeJS.Timeout | undefined
  private closed = false
  /** Retries answered by partitions of topics since deleted, so the total never goes down. */
  private duplicatesOfDeletedTopics = 0
  /** Cluster mode: topics are auto-created in the cluster's catalog, which then makes them here. */
  private autoCreator: ((name: string) => Promise<void>) | null = null
  private readonly autoCreating = new Map<string, Promise<Topic>>()
  /** Standalone: the node coordinates every group, so their membership lives here (cluster mode: server/group-coordinator.ts). */
  readonly groupMemberships: GroupMemberships

  private constructor(
    readonly dataDir: string,
    readonly config: BrokerConfig,
    private readonly logger: Logger,
    private readonly clock: PartitionClock,
  ) {
    this.groupMemberships = new GroupMemberships(logger)
  }

  static async open(dataDir: string, config: BrokerConfig, logger: Logger, options: {clock?: PartitionClock} = {}): Promise<Broker> {
    await mkdir(dataDir, {recursive: true})
    const broker = new Broker(dataDir, config, logger, options.clock ?? systemClock)
    await broker.openTopics()
    if (!config.partitionsFollowUntilAssigned) {
      const offsetsTopic = broker.topics.get(GROUP_OFFSETS_TOPIC) ?? (await broker.createTopic(GROUP_OFFSETS_TOPIC, {partitions: 1, settings: {retentionMs: -1, flushPolicy: 'always'}, internal: true}))
      await broker.openGroupOffsets(offsetsTopic)
    }
    broker.retentionTimer = setInterval(() => void broker.applyRetention(), RETENTION_CHECK_INTERVAL_MS).unref()
    broker.checkpointTimer = setInterval(() => void broker.checkpointHighWatermarks(), HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS).unref()
    return broker
  }

  private get topicsMax(): number {
    return this.config.topicsMax ?? TOPICS_MAX_DEFAULT
  }

  private async openTopics(): Promise<void> {
    const records = new Map((await readTopicStore(this.dataDir)).map((record) => [record.name, record]))
    // Partition directories the list does not know (e.g. copied in) are served too.
    for (const found of await listPartitions(this.dataDir).catch(() => [])) {
      const record = records.get(found.topic)
      if (!record) records.set(found.topic, {name: found.topic, partitions: found.partition + 1, settings: {}, internal: isInternalTopic(found.topic), createdAtMs: Date.now()})
      else if (record.partitions <= found.partition) record.partitions = found.partition + 1
    }
    for (const record of records.values()) this.topics.set(record.name, await this.openTopic(record))
    if (records.size > 0) await this.saveTopics()
  }

  /** A standalone node leads every partition it holds, at leader epoch 0. */
  private async openTopic(record: TopicRecord): Promise<Topic> {
    const partitions: (Partition | DamagedPartition)[] = []
    const logConfig = this.logConfigFor(record.settings)
    try {
      for (let index = 0; index < record.partitions; index++) {
        const dir = path.join(this.dataDir, partitionDirName(record.name, index))
        partitions.push(await this.openPartition(record.name, index, dir, logConfig))
      }
    } catch (error) {
      for (const partition of partitions) await partition.close().catch(() => {})
      throw error
    }
    return {record, partitions}
  }

  /** A partition whose files are damaged is opened offline, so one bad disk block never stops the node. */
  private async openPartition(topic: string, index: number, dir: string, logConfig: Partial<PartitionLogConfig>): Promise<Partition | DamagedPartition> {
    try {
      const role = this.config.partitionsFollowUntilAssigned ? 'follower' : 'leader'
      return await Partition.open(topic, index, dir, logConfig, {logger: this.logger, clock: this.clock, role, leaderEpoch: 0})
    } catch (error) {
      if (!(error instanceof PartitionDamagedError)) throw error
      return this.holdDamaged(topic, index, dir, error)
    }
  }

  private holdDamaged(topic: string, index: number, dir: string, error: PartitionDamagedError): DamagedPartition {
    const damaged = new DamagedPartition(topic, index, dir, error)
    this.logger.error('partition is damaged: it is offline, the node serves the others', {topic, partition: index, ...damaged.damage, repair: `stop the node, then run: ${damaged.repairCommand}`})
    return damaged
  }

  /** Replays committed offsets; a damaged offsets partition leaves commits refused, not the node down. */
  private async openGroupOffsets(offsetsTopic: Topic): Promise<void> {
    const partition = offsetsTopic.partitions[0]
    if (partition instanceof DamagedPartition) return
    try {
      this.groupOffsets = await GroupOffsets.open(partition, this.logger)
    } catch (error) {
      if (!(error instanceof PartitionDamagedError)) throw error
      await partition.close().catch(() => {})
      offsetsTopic.partitions[0] = this.holdDamaged(offsetsTopic.record.name, 0, partition.dir, error)
    }
  }

  private groupOffsetsOrThrow(): GroupOffsets {
    if (this.groupOffsets !== null) return this.groupOffsets
    if (this.config.partitionsFollowUntilAssigned) throw new LignumError('INTERNAL', 'in cluster mode group offsets are the group coordinator\'s, not the broker\'s')
    const offsetsTopic = this.topics.get(GROUP_OFFSETS_TOPIC)
    const damaged = offsetsTopic?.partitions[0]
    if (damaged instanceof DamagedPartition) throw damaged.error
    throw new LignumError('UNAVAILABLE', 'committed offsets are not loaded yet; retry')
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
      if (isInternalTopic(name) && !options.internal) {
        throw new LignumError('INVALID_TOPIC', `topic names starting with "__" are reserved for Lignum's internal topics; choose another name than "${name}"`)
      }
      const partitionCount = options.partitions ?? this.config.defaultPartitions
      if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > this.config.partitionsPerTopicMax) {
        throw new LignumError('INVALID_ARGUMENT', `a topic needs 1 to ${this.config.partitionsPerTopicMax} partitions, not ${partitionCount} (raise partitionsPerTopicMax to allow more)`)
      }
      if (this.topics.has(name) || this.creating.has(name)) throw new LignumError('ALREADY_EXISTS', `topic "${name}" already exists`)
      if (!options.internal) this.checkTopicLimit(name)
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

  private checkTopicLimit(name: string): void {
    let count = 0
    for (const topic of this.topics.values()) if (!topic.record.internal) count++
    for (const pending of this.creating.keys()) if (!isInternalTopic(pending)) count++
    if (count >= this.topicsMax) {
      throw new LignumError('INVALID_ARGUMENT', `cannot create topic "${name}": this node already has ${count} topics, its limit (topicsMax ${this.topicsMax}); delete unused topics or raise topicsMax (and the open-files limit with it)`)
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
    if (topic.record.internal || isInternalTopic(name)) throw internalTopicRefused(name, 'delete')
    this.topics.delete(name)
    for (const partition of topic.partitions) {
      if (partition instanceof DamagedPartition) {
        await rm(partition.dir, {recursive: true, force: true})
        continue
      }
      this.duplicatesOfDeletedTopics += partition.duplicatesAnswered
      await partition.deleteFiles()
    }
    this.groupOffsets?.forgetTopic(name)
    await this.saveTopics()
    this.logger.info('topic deleted', {topic: name})
  }

  listTopics(includeInternal = false): TopicDescription[] {
    return [...this.topics.values()]
      .filter((topic) => includeInternal || !topic.record.internal)
      .map((topic) => describe(topic))
      .sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Whether this node holds the topic now (a produce to one it does not hold may create it). */
  hasTopic(name: string): boolean {
    return this.topics.has(name)
  }

  describeTopic(name: string): TopicDescription {
    return describe(this.topicOrThrow(name))
  }

  /** Every partition held offline because its files are damaged, internal topics included. */
  damagedPartitions(): DamagedPartitionDescription[] {
    const damaged: DamagedPartitionDescription[] = []
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) {
        if (partition instanceof DamagedPartition) damaged.push({topic: partition.topic, partition: partition.partition, damage: damageOf(partition)})
      }
    }
    return damaged.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
  }

  /** The topic, created with the defaults if it does not exist and auto-creation is on. */
  async ensureTopic(name: string): Promise<void> {
    this.checkOpen()
    validateTopicName(name)
    await this.topicForProduce(name)
  }

  /** Retries answered with their first offsets instead of appended again, over every partition. */
  duplicateBatchesAnswered(): number {
    let count = this.duplicatesOfDeletedTopics
    for (const topic of this.topics.values()) for (const partition of topic.partitions) if (partition instanceof Partition) count += partition.duplicatesAnswered
    return count
  }

  // ---- produce ----

  /**
   * Appends the request's records and answers per `acks`: 0 once the request is checked (the
   * append goes on; its failure is logged), 1 once the leader appended, 'all' once the high
   * watermark covers every partition's batch or `timeoutMs` passed (REQUEST_TIMED_OUT for that
   * partition). Each partition answers for itself: one failing does not hide the others'
   * offsets. A request that fails its checks appends nothing and rejects. When the topic
   * exists, the appends are issued before this returns, so requests (e.g. pipelined on one
   * stream) reach a partition in call order.
   */
  produce(input: ProduceInput): Promise<ProduceResult[]> {
    try {
      this.checkOpen()
      validateTopicName(input.topic)
      if (isInternalTopic(input.topic)) throw internalTopicRefused(input.topic, 'produce to')
      checkProduceInput(input)
      const topic = this.topics.get(input.topic)
      if (!topic) this.checkBeforeCreating(input)
      const appended = topic ? this.appendTo(topic, input) : this.topicForProduce(input.topic).then((created) => this.appendTo(created, input))
      return this.acknowledge(input, appended)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private acknowledge(input: ProduceInput, appended: Promise<PartitionAppend[]>): Promise<ProduceResult[]> {
    if (input.acks === 0) {
      appended.then(
        (appends) => {
          for (const {result} of appends) if (result.error) this.logger.warn('acks=0 produce failed', {topic: result.topic, partition: result.partition, error: result.error})
        },
        (error: unknown) => this.logger.warn('acks=0 produce failed', {topic: input.topic, error}),
      )
      return Promise.resolve([])
    }
    if (input.acks === 1) return appended.then((appends) => appends.map(({result}) => result))
    const timeoutMs = Math.min(input.timeoutMs || PRODUCE_TIMEOUT_MS_DEFAULT, PRODUCE_TIMEOUT_MS_MAX)
    return appended.then((appends) => Promise.all(appends.map(({partition, result}) => this.replicated(partition, result, timeoutMs))))
  }

  private async replicated(partition: Partition, result: ProduceResult, timeoutMs: number): Promise<ProduceResult> {
    if (result.error) return result
    try {
      await partition.waitForReplication(result.lastOffset, timeoutMs)
      return result
    } catch (error) {
      return {...result, error: asLignumError(error)}
    }
  }

  private appendTo(topic: Topic, input: ProduceInput): Promise<PartitionAppend[]> {
    if (input.batches && input.batches.length > 0) return this.appendBatches(topic, input.partition, input.batches, input.acks)
    if (input.records && input.records.length > 0) return this.appendRecords(topic, input.partition, input.records, input.acks)
    throw new LignumError('INVALID_ARGUMENT', `the produce request for topic "${input.topic}" has no records; send at least one`)
  }

  /** One partition: a failure rejects the request, as nothing else was appended. */
  private appendBatches(topic: Topic, requested: number, batches: Buffer, acks: Acks): Promise<PartitionAppend[]> {
    for (const {header} of batchPositions(batches)) this.checkBatchSize(header.sizeBytes)
    const index = requested >= 0 ? requested : this.stickyPartition(topic)
    const partition = this.partitionOf(topic, index)
    return partition.appendAsLeader(batches, {acks}).then((offsets) => [{partition, result: {topic: topic.record.name, partition: index, baseOffset: offsets.baseOffset, lastOffset: offsets.lastOffset}}])
  }

  private appendRecords(topic: Topic, requested: number, records: RecordInput[], acks: Acks): Promise<PartitionAppend[]> {
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
      const partition = this.partitionOf(topic, index)
      const batch = encodeRecordBatch(group)
      this.checkBatchSize(batch.length)
      return {index, partition, batch}
    })
    // All appends are issued now, in call order, and each partition answers for itself.
    return Promise.all(encoded.map(({index, partition, batch}) => partition.appendAsLeader(batch, {acks}).then(
      (offsets) => ({partition, result: {topic: topic.record.name, partition: index, baseOffset: offsets.baseOffset, lastOffset: offsets.lastOffset}}),
      (error: unknown) => ({partition, result: {topic: topic.record.name, partition: index, baseOffset: -1, lastOffset: -1, error: asLignumError(error)}}),
    )))
  }

  /** Unkeyed records may go to any partition: the sticky choice passes over damaged ones. */
  private stickyPartition(topic: Topic): number {
    const count = topic.partitions.length
    let index = 0
    for (let tried = 0; tried < count; tried++) {
      index = this.sticky.choose(count)
      this.sticky.next(count)
      if (!(topic.partitions[index] instanceof DamagedPartition)) return index
    }
    return index
  }

  /**
   * A produce to a topic that does not exist yet is checked as its append will be before the
   * topic is auto-created: a refused request leaves no empty topic behind.
   */
  private checkBeforeCreating(input: ProduceInput): void {
    if (input.batches && input.batches.length > 0) {
      for (const {header} of batchPositions(input.batches)) this.checkBatchSize(header.sizeBytes)
      validateBatches(input.batches, 'client')
    }
    for (const record of input.records ?? []) this.checkBatchSize(encodeRecordBatch([record]).length)
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
      return Promise.reject(new LignumError('UNKNOWN_TOPIC', `topic "${name}" does not exist and auto-creation is off`, {hint: `create it with: lignum topics create ${name}`}))
    }
    if (this.autoCreator) {
      // Kept apart from `creating`: the catalog's watch creates the topic here meanwhile.
      const asked = this.autoCreating.get(name)
      if (asked) return asked
      const creation = this.autoCreator(name).then(() => this.topicOrThrow(name))
      this.autoCreating.set(name, creation)
      const forget = () => this.autoCreating.delete(name)
      creation.then(forget, forget)
      return creation
    }
    return this.createTopic(name)
  }

  // ---- reads ----

  /**
   * A consumer's read. From the leader by default; a follower refuses it with NOT_LEADER, so a
   * client with stale metadata learns to look again. With `replica: 'in-sync'` a follower
   * serves it below its own high watermark (the caller checked it is in the ISR).
   */
  async fetch(name: string, partitionIndex: number, offset: number, options: FetchOptions): Promise<FetchResult> {
    this.checkOpen()
    const partition = this.partitionOf(this.topicOrThrow(name), partitionIndex)
    if (options.currentLeaderEpoch !== undefined) partition.checkClientLeaderEpoch(options.currentLeaderEpoch)
    if (partition.role === 'leader') return partition.fetch(offset, options.maxBytes, options.maxWaitMs, options.signal)
    if (options.replica === 'in-sync') return partition.fetchAsFollower(offset, options.maxBytes, options.maxWaitMs, options.signal)
    throw notLeaderForReads(partition)
  }

  /** Waits for an append to a partition (or the timeout, or the signal). */
  waitForAppend(name: string, partitionIndex: number, maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return this.partitionOf(this.topicOrThrow(name), partitionIndex).waitForAppend(maxWaitMs, signal)
  }

  /** Kafka's ListOffsets: -1 the end (high watermark), -2 the start, else the first offset at or after a timestamp. */
  async listOffset(name: string, partitionIndex: number, timestamp: number, currentLeaderEpoch = NO_EPOCH): Promise<number> {
    const partition = this.partitionOf(this.topicOrThrow(name), partitionIndex)
    partition.checkClientLeaderEpoch(currentLeaderEpoch)
    // A follower's end trails the leader's: only the leader answers where the partition ends, as in Kafka.
    if (partition.role !== 'leader') throw notLeaderForReads(partition)
    return partition.listOffset(timestamp)
  }

  /** The leader epoch ListOffsets names with the offset it found for `timestamp` (-1 when the log holds none). */
  listedOffsetEpoch(name: string, partitionIndex: number, timestamp: number, offset: number): number {
    return this.partitionOf(this.topicOrThrow(name), partitionIndex).listedOffsetEpoch(timestamp, offset)
  }

  /**
   * Kafka's OffsetForLeaderEpoch from a consumer: where `epoch` ends on the leader's log and the
   * largest epoch at or below it, fenced by the leader epoch the consumer's metadata names.
   */
  endOffsetForEpoch(name: string, partitionIndex: number, currentLeaderEpoch: number, epoch: number): EpochEnd {
    this.checkOpen()
    return this.partitionOf(this.topicOrThrow(name), partitionIndex).clientEndOffsetForEpoch(currentLeaderEpoch, epoch)
  }

  /**
   * `member`: a group member's commit, fenced unless it is of the current generation; none: allowed only while the group has no members.
   * `negative`: whether a negative offset forgets the partition's committed offset (Kafka's OffsetCommit) or is refused.
   */
  async commitOffsets(group: string, offsets: CommittedOffset[], member?: MemberIdentity, negative: NegativeOffsets = 'refuse'): Promise<void> {
    this.groupMemberships.checkCommit(group, member)
    for (const entry of offsets) this.partitionOf(this.topicOrThrow(entry.topic), entry.partition)
    checkCommittedOffsets(offsets, negative)
    await this.groupOffsetsOrThrow().commit(group, offsets)
  }

  fetchOffsets(group: string, topic?: string): CommittedOffset[] {
    return this.groupOffsetsOrThrow().fetch(group, topic)
  }

  /** Standalone's table of committed offsets for the group tooling (group-admin.ts); its commits check their topic-partitions. */
  groupOffsetsTable(): GroupOffsetsTable {
    const table = this.groupOffsetsOrThrow()
    return {
      groups: () => table.groups(),
      fetch: (group, topic) => table.fetch(group, topic),
      commit: (group, offsets) => this.commitOffsets(group, offsets),
      deleteGroup: (group) => table.deleteGroup(group),
    }
  }

  // ---- upkeep ----

  async applyRetention(): Promise<void> {
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) {
        if (partition instanceof DamagedPartition) continue
        try {
          const {deletedSegments} = await partition.applyRetention()
          if (deletedSegments > 0) this.logger.info('retention deleted segments', {topic: topic.record.name, partition: partition.partition, deletedSegments})
        } catch (error) {
          this.logger.error('retention failed', {topic: topic.record.name, partition: partition.partition, error})
        }
      }
    }
  }

  async checkpointHighWatermarks(): Promise<void> {
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) {
        if (partition instanceof DamagedPartition) continue
        await partition.checkpointHighWatermark().catch((error: unknown) => this.logger.warn('could not checkpoint a high watermark', {partition: partition.name, error}))
      }
    }
  }

  private topicOrThrow(name: string): Topic {
    validateTopicName(name)
    const topic = this.topics.get(name)
    if (!topic) throw new LignumError('UNKNOWN_TOPIC', `topic "${name}" does not exist`, {hint: `list topics with: lignum topics list`})
    return topic
  }

  /** Auto-creation goes through `create` from now on; it resolves once the topic exists here. */
  autoCreateThrough(create: (name: string) => Promise<void>): void {
    this.autoCreator = create
  }

  /** A partition this node holds and can serve, for replication to drive (become leader or follower); undefined otherwise. */
  localPartition(name: string, index: number): Partition | undefined {
    const partition = this.topics.get(name)?.partitions[index]
    return partition instanceof Partition ? partition : undefined
  }

  /** The partition to read or write: PARTITION_DAMAGED, naming the file and the repair, if it is offline. */
  private partitionOf(topic: Topic, index: number): Partition {
    const partition = topic.partitions[index]
    if (!partition) {
      throw new LignumError('NOT_FOUND', `topic "${topic.record.name}" has partitions 0 to ${topic.partitions.length - 1}; there is no partition ${index}`)
    }
    if (partition instanceof DamagedPartition) throw partition.error
    return partition
  }

  private checkOpen(): void {
    if (this.closed) throw new LignumError('UNAVAILABLE', 'the broker is shutting down; retry on another node or after it restarts')
  }

  /** Flushes and closes every partition. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.groupMemberships.close()
    clearInterval(this.retentionTimer)
    clearInterval(this.checkpointTimer)
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) await partition.close()
    }
  }
}

function checkProduceInput(input: ProduceInput): void {
  if (input.batches && input.batches.length > 0 && input.records?.length) {
    throw new LignumError('INVALID_ARGUMENT', 'a produce request carries either records or a record batch, not both')
  }
  if (!Number.isInteger(input.partition) || input.partition < -1) {
    throw new LignumError('INVALID_ARGUMENT', `partition ${input.partition} is not a partition: give one from 0, or -1 to let the broker choose`)
  }
  if (input.acks !== 0 && input.acks !== 1 && input.acks !== 'all') throw new LignumError('INVALID_ARGUMENT', `acks ${String(input.acks)} must be 0, 1 or "all"`)
  if (input.timeoutMs !== undefined && (!Number.isInteger(input.timeoutMs) || input.timeoutMs < 0)) {
    throw new LignumError('INVALID_ARGUMENT', `timeoutMs ${input.timeoutMs} must be a whole number of milliseconds (0: the default of ${PRODUCE_TIMEOUT_MS_DEFAULT})`)
  }
}

function internalTopicRefused(name: string, action: string): LignumError {
  return new LignumError('PERMISSION_DENIED', `cannot ${action} "${name}": topics starting with "__" belong to the node`, {hint: `consumer group offsets are managed with \`lignum groups\` (list, describe, seek, delete) and committed by \`lignum consume --group\``})
}

function asLignumError(error: unknown): LignumError {
  if (error instanceof LignumError) return error
  return new LignumError('INTERNAL', error instanceof Error ? error.message : String(error), {cause: error})
}

function damageOf(partition: DamagedPartition): PartitionDamage & {repair: string} {
  return {...partition.damage, repair: partition.repairCommand}
}

function describe(topic: Topic): TopicDescription {
  return {
    name: topic.record.name,
    settings: topic.record.settings,
    internal: topic.record.internal,
    partitions: topic.partitions.map((partition) => {
      if (partition instanceof DamagedPartition) {
        return {partition: partition.partition, state: 'damaged', damage: damageOf(partition), logStartOffset: -1, logEndOffset: -1, highWatermark: -1, segmentCount: 0, sizeBytes: 0}
      }
      return partition.describe()
    }),
  }
}

function notLeaderForReads(partition: Partition): LignumError {
  return new LignumError('NOT_LEADER', `this node follows ${partition.name} (leader epoch ${partition.leaderEpoch})`, {hint: `read it from its leader, or with --replica any from an in-sync replica`})
}
