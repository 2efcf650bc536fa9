/**
 * The batching producer. Records are gathered per topic-partition into a batch that is sealed
 * when it reaches `batchBytes` or has waited `lingerMs`; sealed batches are encoded once (Kafka
 * v2) and sent whole, at most `maxInFlight` at a time. Memory is bounded: past
 * `bufferBytesMax` of unacknowledged data, `needsDrain` is true and `drain()` waits, which is
 * how a fast reader (stdin, a file) is slowed to the broker's pace.
 * Retriable failures are retried with backoff until `deliveryTimeoutMs`; others fail the batch.
 */
import {randomBytes} from 'node:crypto'
import {isErrorCode, LignumError} from '../errors.js'
import {partitionForKey, StickyPartitioner} from '../broker/partitioner.js'
import {borrowWithHeadroom, recycleBuffer} from '../log/headroom.js'
import {encodeRecordBatch, type CompressionCodec, type RecordInput} from '../log/record-batch.js'
import {Acks} from '../generated/lignum/v1/lignum.js'
import type {Connection} from './connection.js'
import {ProduceChannel} from './produce-channel.js'

export type AcksSetting = 0 | 1 | 'all'

export interface ProducerOptions {
  acks?: AcksSetting
  /** Seal a partition's batch once it holds this many bytes. */
  batchBytes?: number
  /**
   * Wait at most this long for a batch to fill. 0 (the default): natural batching, a batch
   * leaves as soon as none of this producer's requests is in flight.
   */
  lingerMs?: number
  maxInFlight?: number
  /** Unacknowledged bytes held before writers must wait. */
  bufferBytesMax?: number
  deliveryTimeoutMs?: number
  compression?: CompressionCodec
}

export interface ProducerRecord {
  key?: Buffer | string | null
  value: Buffer | string | null
  headers?: {key: string; value: Buffer | string | null}[]
  partition?: number
  timestamp?: number
}

export interface RecordMetadata {
  topic: string
  partition: number
  offset: number
}

export interface ProducerStats {
  recordsAcknowledged: number
  recordsFailed: number
  batchesSent: number
  bytesSent: number
  firstError: LignumError | undefined
}

// Defaults: batches large enough to amortise a request, small enough to stay well under the
// broker's 1 MiB batch limit; Kafka's in-flight default (5). No linger by default (natural
// batching, as franz-go does): records gather only while a request is in flight, so a record
// at a low rate leaves at once instead of waiting out Kafka's 5 ms, and at high rates batches
// still fill by size.
const BATCH_BYTES_DEFAULT = 256 * 1024
const LINGER_MS_DEFAULT = 0
const MAX_IN_FLIGHT_DEFAULT = 5
const BUFFER_BYTES_MAX_DEFAULT = 32 * 1024 * 1024
const DELIVERY_TIMEOUT_MS_DEFAULT = 30_000
// Kafka's sequence numbers are int32 and wrap to 0.
const SEQUENCE_MODULUS = 2 ** 31
// Estimated per-record framing bytes in a v2 batch (varints, attributes, deltas).
const RECORD_OVERHEAD_BYTES = 12
// Memory a queued record costs beyond its bytes (its object and Buffer views in V8): counted
// against bufferBytesMax so that tiny records (`yes | lignum produce`) stay bounded too.
const RECORD_MEMORY_OVERHEAD_BYTES = 160

interface Waiter {
  index: number
  resolve: (metadata: RecordMetadata) => void
  reject: (error: unknown) => void
}

interface OpenBatch {
  topic: string
  partition: number
  records: RecordInput[]
  bytes: number
  waiters: Waiter[]
  /** The sequence number of its first record, given when sealed (sealing order is sending order). */
  baseSequence: number
}

export interface TopicPartitionCounter {
  partitionCount(topic: string): Promise<number>
}

export class Producer {
  readonly stats: ProducerStats = {recordsAcknowledged: 0, recordsFailed: 0, batchesSent: 0, bytesSent: 0, firstError: undefined}
  private readonly options: Required<ProducerOptions>
  private readonly open = new Map<string, OpenBatch>()
  private readonly sealed: OpenBatch[] = []
  private readonly partitionCounts = new Map<string, number>()
  private readonly loadingTopics = new Map<string, Promise<number>>()
  private readonly sticky = new Map<string, StickyPartitioner>()
  private lingerTimer: NodeJS.Timeout | undefined
  private idleSendCheck: NodeJS.Immediate | undefined
  private inFlight = 0
  private bufferedBytes = 0
  private idleWaiters: (() => void)[] = []
  private drainWaiters: (() => void)[] = []
  private closed = false
  private readonly channel: ProduceChannel
  /**
   * Idempotence: the broker answers a resent batch (same producer id and sequence) with its
   * first offsets. A random 48-bit id makes two producers sharing one by chance unlikely
   * without a round trip to ask the broker for one.
   */
  readonly producerId = randomBytes(6).readUIntBE(0, 6)
  private readonly nextSequences = new Map<string, number>()

  constructor(
    connection: Connection,
    private readonly topics: TopicPartitionCounter,
    options: ProducerOptions = {},
  ) {
    this.options = {
      acks: options.acks ?? 'all',
      batchBytes: options.batchBytes ?? BATCH_BYTES_DEFAULT,
      lingerMs: options.lingerMs ?? LINGER_MS_DEFAULT,
      maxInFlight: options.maxInFlight ?? MAX_IN_FLIGHT_DEFAULT,
      bufferBytesMax: options.bufferBytesMax ?? BUFFER_BYTES_MAX_DEFAULT,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? DELIVERY_TIMEOUT_MS_DEFAULT,
      compression: options.compression ?? 'none',
    }
    this.channel = new ProduceChannel(connection, this.options.deliveryTimeoutMs)
  }

  /** Learns the topic's partition count (creating it if the node auto-creates) before writing. */
  async prepare(topic: string): Promise<void> {
    if (this.partitionCounts.has(topic)) return
    let loading = this.loadingTopics.get(topic)
    if (!loading) {
      loading = this.topics.partitionCount(topic)
      this.loadingTopics.set(topic, loading)
    }
    try {
      this.partitionCounts.set(topic, await loading)
    } finally {
      this.loadingTopics.delete(topic)
    }
  }

  /** Sends a record and resolves with its offset once acknowledged (at once with acks=0). */
  async send(topic: string, record: ProducerRecord): Promise<RecordMetadata> {
    await this.prepare(topic)
    return new Promise((resolve, reject) => this.append(topic, toRecordInput(record), record.partition, {resolve, reject}))
  }

  /**
   * Queues a record without a promise of its own (for high-rate writers); failures are counted
   * in `stats` and reported by `flush()`. The topic must have been `prepare`d.
   */
  write(topic: string, record: ProducerRecord): void {
    this.append(topic, toRecordInput(record), record.partition, undefined)
  }

  /** The fastest path: a record already in the encoder's form (Buffers), taken as is. */
  writeRecord(topic: string, record: RecordInput, partition?: number): void {
    this.append(topic, record, partition, undefined)
  }

  get needsDrain(): boolean {
    return this.bufferedBytes >= this.options.bufferBytesMax
  }

  /** Resolves once unacknowledged data is back under the buffer limit. */
  drain(): Promise<void> {
    if (!this.needsDrain) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  private append(topic: string, input: RecordInput, requestedPartition: number | undefined, waiter: Omit<Waiter, 'index'> | undefined): void {
    if (this.closed) throw new LignumError('INVALID_ARGUMENT', 'the producer is closed')
    const partitionCount = this.partitionCounts.get(topic)
    if (partitionCount === undefined) throw new LignumError('INVALID_ARGUMENT', `call prepare("${topic}") before write()`)
    const partition = this.choosePartition(topic, partitionCount, requestedPartition, input.key)
    const key = `${topic}\u0000${partition}`
    const bytes = recordBytes(input)
    let batch = this.open.get(key)
    // A record that would overflow the batch starts a new one, so a single oversized record
    // fails alone instead of taking its neighbours with it.
    if (batch && batch.bytes + bytes > this.options.batchBytes) {
      this.seal(key, batch)
      batch = undefined
    }
    if (!batch) {
      batch = {topic, partition, records: [], bytes: 0, waiters: [], baseSequence: -1}
      this.open.set(key, batch)
    }
    if (waiter) batch.waiters.push({...waiter, index: batch.records.length})
    batch.records.push(input)
    batch.bytes += bytes
    this.bufferedBytes += bytes + RECORD_MEMORY_OVERHEAD_BYTES
    if (batch.bytes >= this.options.batchBytes) this.seal(key, batch)
    else if (this.options.lingerMs > 0) this.lingerTimer ??= setTimeout(() => this.sealAll(), this.options.lingerMs)
    // After the current task: records written in one go (a chunk of a file) leave together.
    else {
      this.idleSendCheck ??= setImmediate(() => {
        this.idleSendCheck = undefined
        this.sendGatheredWhenIdle()
      })
    }
  }

  private choosePartition(topic: string, partitionCount: number, requested: number | undefined, key: Buffer | null): number {
    if (requested !== undefined) {
      if (!Number.isInteger(requested) || requested < 0 || requested >= partitionCount) {
        throw new LignumError('NOT_FOUND', `topic "${topic}" has partitions 0 to ${partitionCount - 1}; there is no partition ${requested}`)
      }
      return requested
    }
    if (key) return partitionForKey(key, partitionCount)
    let sticky = this.sticky.get(topic)
    if (!sticky) this.sticky.set(topic, (sticky = new StickyPartitioner()))
    return sticky.choose(partitionCount)
  }

  private seal(key: string, batch: OpenBatch): void {
    this.open.delete(key)
    const nextSequence = this.nextSequences.get(key) ?? 0
    batch.baseSequence = nextSequence
    this.nextSequences.set(key, (nextSequence + batch.records.length) % SEQUENCE_MODULUS)
    this.sealed.push(batch)
    if (batch.records.some((record) => !record.key)) this.sticky.get(batch.topic)?.next(this.partitionCounts.get(batch.topic) ?? 1)
    this.pump()
  }

  private sealAll(): void {
    clearTimeout(this.lingerTimer)
    this.lingerTimer = undefined
    clearImmediate(this.idleSendCheck)
    this.idleSendCheck = undefined
    for (const [key, batch] of [...this.open]) this.seal(key, batch)
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.sealed.length > 0) {
      const batch = this.sealed.shift() as OpenBatch
      this.inFlight++
      void this.sendBatch(batch).finally(() => {
        this.inFlight--
        this.bufferedBytes -= batch.bytes + batch.records.length * RECORD_MEMORY_OVERHEAD_BYTES
        if (!this.needsDrain) for (const wake of this.drainWaiters.splice(0)) wake()
        this.pump()
        this.sendGatheredWhenIdle()
        if (this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake()
      })
    }
  }

  private async sendBatch(batch: OpenBatch): Promise<void> {
    // Room in front: the request is framed around the batch instead of copied (produce-request-codec.ts).
    const encoded = encodeRecordBatch(batch.records, {compression: this.options.compression, producerId: this.producerId, producerEpoch: 0, baseSequence: batch.baseSequence, allocate: borrowWithHeadroom})
    const acks = this.options.acks === 0 ? Acks.ACKS_NONE : this.options.acks === 1 ? Acks.ACKS_LEADER : Acks.ACKS_ALL
    const request = {partitions: [{topic: batch.topic, partition: batch.partition, records: [], recordBatch: encoded, leaderEpoch: -1}], acks, timeoutMs: 0}
    try {
      const response = await this.channel.send(request)
      const result = response.results[0]
      if (result?.error) throw new LignumError(isErrorCode(result.error.code) ? result.error.code : 'INTERNAL', result.error.message)
      this.stats.batchesSent++
      this.stats.bytesSent += encoded.length
      this.stats.recordsAcknowledged += batch.records.length
      const baseOffset = result ? Number(result.baseOffset) : -1
      for (const waiter of batch.waiters) waiter.resolve({topic: batch.topic, partition: batch.partition, offset: result ? baseOffset + waiter.index : -1})
      // Acknowledged, so the node has every byte and no resend will come: the next batch may
      // use the buffer. (acks=0 is answered before the bytes are even sent.)
      if (this.options.acks !== 0) recycleBuffer(encoded)
    } catch (error) {
      const failure = error instanceof LignumError ? error : new LignumError('INTERNAL', String(error), {cause: error})
      this.stats.recordsFailed += batch.records.length
      this.stats.firstError ??= failure
      for (const waiter of batch.waiters) waiter.reject(failure)
    }
  }

  /** Natural batching (no linger): what gathered while requests were in flight leaves once none is. */
  private sendGatheredWhenIdle(): void {
    if (this.options.lingerMs === 0 && this.inFlight === 0 && this.open.size > 0) this.sealAll()
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.sealed.length === 0 && this.open.size === 0
  }

  /** Sends everything queued and waits for every answer. */
  async flush(): Promise<void> {
    for (const topic of this.loadingTopics.keys()) await this.prepare(topic)
    this.sealAll()
    if (this.isIdle()) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  async close(): Promise<void> {
    if (this.closed) return
    await this.flush()
    this.closed = true
    await this.channel.close()
  }
}

function toBuffer(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value
}

function toRecordInput(record: ProducerRecord): RecordInput {
  return {
    key: toBuffer(record.key),
    value: toBuffer(record.value),
    headers: record.headers?.map((header) => ({key: header.key, value: toBuffer(header.value)})),
    timestamp: record.timestamp,
  }
}

function recordBytes(record: RecordInput): number {
  let bytes = RECORD_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0)
  for (const header of record.headers ?? []) bytes += header.key.length + (header.value?.length ?? 0) + 4
  return bytes
}
