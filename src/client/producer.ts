/**
 * The batching producer. Records are gathered per topic-partition into a batch that is sealed
 * when it reaches `batchBytes` or has waited `lingerMs`; sealed batches are encoded once (Kafka
 * v2) and sent whole, at most `maxInFlight` at a time. Memory is bounded: past
 * `bufferBytesMax` of unacknowledged data, `needsDrain` is true and `drain()` waits, which is
 * how a fast reader (stdin, a file) is slowed to the broker's pace.
 * Each batch goes to its partition's leader (ClusterRoutes), over one pipelined stream per node.
 *
 * Retries: a batch refused for a reason a new leader or a moment can cure (NOT_LEADER,
 * NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT, UNAVAILABLE, ...; retry.ts), in the answer or as a
 * broken stream, is sent again after a metadata refresh and a backoff, until
 * `deliveryTimeoutMs` from when its first record was queued; other failures fail the batch.
 * A retry resends the same bytes (producer id, epoch and sequence unchanged), so a leader that already has the
 * batch answers with its first offsets instead of appending it twice (broker/producer-state.ts).
 * While a partition has a batch waiting to be retried, none of its later batches is sent, and
 * its retries leave only once none of its batches is in flight: they reach the leader in
 * sequence order. A later batch refused OUT_OF_ORDER_SEQUENCE because an earlier one is being
 * retried is retried with it. A batch once sent keeps its sequence for good: renumbering it
 * could append a second copy of a batch the leader holds but did not acknowledge.
 */
import {randomBytes} from 'node:crypto'
import {status as GrpcStatus} from '@grpc/grpc-js'
import {assert} from '../assert.js'
import {isErrorCode, LignumError} from '../errors.js'
import {partitionForKey, StickyPartitioner} from '../format/partitioner.js'
import {borrowWithHeadroom, recycleBuffer} from '../format/headroom.js'
import {compressedBytesBound} from '../format/compression.js'
import {BATCH_HEADER_BYTES, encodeRecordBatch, recordBytesBound, TIMESTAMP_DELTA_BYTES_MAX, type CompressionCodec, type RecordInput} from '../format/record-batch.js'
import {Acks} from '../generated/lignum/v1/lignum.js'
import type {ClusterRoutes} from './cluster-routes.js'
import type {Connection} from './connection.js'
import {ProduceChannel} from './produce-channel.js'
import {BACKOFF_MS_MAX, retryBackoffMs, retryRouted, ROUTING_RETRIABLE_CODES, withRetry} from './retry.js'

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
  /**
   * How long a node may leave a produce request unanswered (acks=all: the wait it is given for
   * the ISR) before the client calls it frozen or gone and resends the request's batches, same
   * producer id and sequences, to the leader refreshed metadata names (Kafka's request.timeout.ms).
   */
  requestTimeoutMs?: number
  compression?: CompressionCodec
  /**
   * Hears each acknowledged batch: its records hold offsets baseOffset to baseOffset + count - 1
   * of the partition, in the order they were written (baseOffset -1 with acks=0, which learns none).
   */
  onAcknowledged?: (batch: AcknowledgedBatch) => void
}

export interface AcknowledgedBatch {
  topic: string
  partition: number
  baseOffset: number
  count: number
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
  /** Batches acknowledged only after they were sent more than once (a retry, e.g. across a failover). */
  batchesAcknowledgedAfterRetry: number
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
// Kafka's 30 s sits beside its 120 s delivery timeout and 30 s replica lag; ours is a third of
// our 30 s delivery timeout, so a batch stuck on a frozen or vanished leader is resent twice
// before it is given up. It equals a node's default replica lag (10 s) and session TTL (10 s):
// a live leader waits that long at most for a lagging follower to leave the ISR before it
// commits or answers REQUEST_TIMED_OUT, and a leader silent for longer has lost its lease (its
// deadline is shorter than the TTL), so the cluster is electing another.
export const REQUEST_TIMEOUT_MS_DEFAULT = 10_000
// Kafka's sequence numbers are int32 and wrap to 0.
const SEQUENCE_MODULUS = 2 ** 31
// Producer epochs are int16 in the batch header.
const PRODUCER_EPOCH_MAX = 0x7fff
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
  /** topic and partition, the key of the maps below. */
  key: string
  /** Sealing order across the producer: within a partition, the order sequences were given in. */
  sealOrder: number
  records: RecordInput[]
  bytes: number
  /** The most its records can take encoded (recordBytesBound): kept within the node's batch limit. */
  boundBytes: number
  /** Whether a record has a timestamp of its own (deltas may then take up to TIMESTAMP_DELTA_BYTES_MAX). */
  explicitTimestamps: boolean
  waiters: Waiter[]
  /** The sequence number of its first record, given when sealed (sealing order is sending order). */
  baseSequence: number
  /** The producer epoch of its partition when sealed. */
  producerEpoch: number
  /** Encoded on first send and resent as is: same sequence, same bytes. */
  encoded: Buffer | undefined
  attempts: number
  /**
   * When its first record was queued: its delivery timeout runs from there, waits behind a held
   * partition and retries included (Kafka's delivery.timeout.ms), so every record settles within
   * the timeout of its send, not one batch's timeout after another.
   */
  createdMs: number
}

/** A held partition: its batches waiting to be resent, in sealing order; `due` once its backoff passed. */
interface PendingRetry {
  batches: OpenBatch[]
  due: boolean
  /** The backoff under way; undefined while the first failure is still being looked at. */
  timer: NodeJS.Timeout | undefined
  /** Failed batches of the partition still deciding whether to retry (awaiting a metadata refresh). */
  deciding: number
}

export interface TopicPartitionCounter {
  partitionCount(topic: string): Promise<number>
}

export class Producer {
  readonly stats: ProducerStats = {recordsAcknowledged: 0, recordsFailed: 0, batchesSent: 0, batchesAcknowledgedAfterRetry: 0, bytesSent: 0, firstError: undefined}
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
  /** send() calls still learning their topic: not yet in a batch. */
  private readonly preparingSends = new Set<Promise<void>>()
  /** One pipelined stream per node, by the node's connection. */
  private readonly channels = new Map<Connection, ProduceChannel>()
  private readonly inFlightByPartition = new Map<string, Set<OpenBatch>>()
  private readonly retries = new Map<string, PendingRetry>()
  private readonly retryTimers = new Set<NodeJS.Timeout>()
  private sealCount = 0
  /**
   * Idempotence: the broker answers a resent batch (same producer id and sequence) with its
   * first offsets. A cluster hands out ids unique across its nodes (InitProducerId, asked on
   * the first prepare), so the retry that reaches a new leader after a failover is known there
   * as this producer's. A standalone node hands out none: a random 48-bit id makes two
   * producers sharing one by chance unlikely.
   */
  producerId = randomBytes(6).readUIntBE(0, 6)
  private producerIdAsked: Promise<void> | undefined
  private readonly nextSequences = new Map<string, number>()
  /**
   * Per partition: a failed batch leaves a gap the broker refuses to skip (OUT_OF_ORDER_SEQUENCE),
   * so the partition's next batches start a new epoch at sequence 0, as Kafka's producer does.
   */
  private readonly producerEpochs = new Map<string, number>()
  /**
   * Partitions whose epochs ran out (past PRODUCER_EPOCH_MAX): they go on under a producer id of
   * their own, asked for as Kafka's producer does (InitProducerId), at epoch 0 and sequence 0.
   */
  private readonly partitionProducerIds = new Map<string, number>()
  /** Partitions waiting for that new id: none of their batches is sent meanwhile. */
  private readonly renewingIds = new Set<string>()

  constructor(
    private readonly routes: ClusterRoutes,
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
      requestTimeoutMs: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT,
      compression: options.compression ?? 'none',
      onAcknowledged: options.onAcknowledged ?? (() => {}),
    }
    for (const [name, value] of [['deliveryTimeoutMs', this.options.deliveryTimeoutMs], ['requestTimeoutMs', this.options.requestTimeoutMs]] as const) {
      if (!Number.isInteger(value) || value <= 0) throw new LignumError('INVALID_ARGUMENT', `${name} must be a whole number of milliseconds above 0, not ${value}`)
    }
  }

  private channelTo(connection: Connection): ProduceChannel {
    let channel = this.channels.get(connection)
    if (!channel) {
      channel = new ProduceChannel(connection, {deliveryTimeoutMs: this.options.deliveryTimeoutMs, requestTimeoutMs: this.options.requestTimeoutMs})
      this.channels.set(connection, channel)
    }
    return channel
  }

  /** Learns the topic's partition count (creating it if the node auto-creates) before writing. */
  async prepare(topic: string): Promise<void> {
    await this.initProducerId()
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

  /** Asks the cluster for this producer's id once, before its first batch; a failed ask is asked again by the next prepare. */
  private initProducerId(): Promise<void> {
    this.producerIdAsked ??= this.askProducerId().catch((error: unknown) => {
      this.producerIdAsked = undefined
      throw error
    })
    return this.producerIdAsked
  }

  private async askProducerId(): Promise<void> {
    this.producerId = (await this.fetchProducerId()) ?? this.producerId
  }

  /** A producer id unique in the cluster; undefined from a standalone node (which hands out none). */
  private async fetchProducerId(): Promise<number | undefined> {
    const connection = this.routes.bootstrap
    let answer: {producerId: bigint; producerEpoch: number}
    try {
      answer = await withRetry(() => connection.call(connection.grpc.initProducerId, {}), {deadlineMs: this.options.deliveryTimeoutMs})
    } catch (error) {
      // A node older than InitProducerId: it is standalone, keep the random id.
      if (error instanceof LignumError && (error.cause as {code?: number} | undefined)?.code === GrpcStatus.UNIMPLEMENTED) return undefined
      throw error
    }
    if (answer.producerId < 0n) return undefined
    assert(answer.producerId <= BigInt(Number.MAX_SAFE_INTEGER), `producer id ${answer.producerId} from ${connection.address} is beyond the exact integer range`)
    return Number(answer.producerId)
  }

  /** The producer id a partition's batches carry: the producer's, or the one its exhausted epochs led to. */
  producerIdOf(topic: string, partition: number): number {
    return this.partitionProducerIds.get(`${topic}\u0000${partition}`) ?? this.producerId
  }

  /** Sends a record and resolves with its offset once acknowledged (at once with acks=0). */
  async send(topic: string, record: ProducerRecord): Promise<RecordMetadata> {
    const input = toRecordInput(record)
    // Refused before the topic is looked up, so a record that cannot be taken creates no topic.
    if (!this.fitsBatch(input)) return new Promise((resolve, reject) => this.append(topic, input, record.partition, {resolve, reject}))
    // Counted until appended: a flush() or close() called meanwhile waits for it, so the record
    // is sent (or refused) instead of joining a batch nobody sends any more.
    const prepared = this.prepare(topic)
    this.preparingSends.add(prepared)
    try {
      await prepared
    } finally {
      this.preparingSends.delete(prepared)
    }
    return new Promise((resolve, reject) => this.append(topic, input, record.partition, {resolve, reject}))
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

  /**
   * Whether `record` fits in a batch within the node's limit (batchBytesMax, from metadata). A
   * record that does not is refused alone when written, without the topic (so a writer may
   * check before its first record creates the topic).
   */
  fitsBatch(record: RecordInput): boolean {
    const limit = this.routes.batchBytesMax
    if (limit === undefined) return true
    if (this.batchBytesBound(boundIn(undefined, record)) <= limit) return true
    // Beyond the worst case, a compressed record may still fit once really compressed.
    return this.options.compression !== 'none' && encodeRecordBatch([record], {compression: this.options.compression}).length <= limit
  }

  /** The most a batch whose records take `recordsBoundBytes` uncompressed can take on the wire. */
  private batchBytesBound(recordsBoundBytes: number): number {
    return BATCH_HEADER_BYTES + compressedBytesBound(this.options.compression, recordsBoundBytes)
  }

  private append(topic: string, input: RecordInput, requestedPartition: number | undefined, waiter: Omit<Waiter, 'index'> | undefined): void {
    if (this.closed) throw new LignumError('INVALID_ARGUMENT', 'the producer is closed')
    const limit = this.routes.batchBytesMax
    // Over the limit even alone: refused before anything else (the topic need not exist).
    const alone = limit !== undefined && this.batchBytesBound(boundIn(undefined, input)) > limit
    if (alone && !this.fitsBatch(input)) return this.refuse(input, limit, waiter)
    const partitionCount = this.partitionCounts.get(topic)
    if (partitionCount === undefined) throw new LignumError('INVALID_ARGUMENT', `call prepare("${topic}") before write()`)
    const partition = this.choosePartition(topic, partitionCount, requestedPartition, input.key)
    const key = `${topic}\u0000${partition}`
    const bytes = recordBytes(input)
    let batch = this.open.get(key)
    // A record that would overflow the batch (the size asked for, or the node's limit at worst)
    // starts a new one, so a single large record does not take its neighbours with it.
    if (batch && (alone || batch.bytes + bytes > this.options.batchBytes || (limit !== undefined && this.batchBytesBound(batch.boundBytes + boundIn(batch, input)) > limit))) {
      this.seal(key, batch)
      batch = undefined
    }
    if (!batch) {
      batch = {topic, partition, key, sealOrder: -1, records: [], bytes: 0, boundBytes: 0, explicitTimestamps: false, waiters: [], baseSequence: -1, producerEpoch: 0, encoded: undefined, attempts: 0, createdMs: Date.now()}
      this.open.set(key, batch)
    }
    if (waiter) batch.waiters.push({...waiter, index: batch.records.length})
    batch.boundBytes += boundIn(batch, input)
    batch.explicitTimestamps ||= input.timestamp !== undefined
    batch.records.push(input)
    batch.bytes += bytes
    this.bufferedBytes += bytes + RECORD_MEMORY_OVERHEAD_BYTES
    // A record that fits only once compressed goes in a batch of its own.
    if (alone || batch.bytes >= this.options.batchBytes) this.seal(key, batch)
    else if (this.options.lingerMs > 0) this.lingerTimer ??= setTimeout(() => this.sealAll(), this.options.lingerMs)
    // After the current task: records written in one go (a chunk of a file) leave together.
    else {
      this.idleSendCheck ??= setImmediate(() => {
        this.idleSendCheck = undefined
        this.sendGatheredWhenIdle()
      })
    }
  }

  /** A record no batch within the node's limit can hold: failed alone, in one line saying what to do. */
  private refuse(input: RecordInput, limit: number, waiter: Omit<Waiter, 'index'> | undefined): void {
    const size = recordBytes(input) - RECORD_OVERHEAD_BYTES
    const compressed = this.options.compression === 'none' ? '' : ` even ${this.options.compression}-compressed`
    const error = new LignumError('RECORD_TOO_LARGE', `a record of ${size} bytes does not fit${compressed} in one batch within the node's limit of ${limit} bytes (batchBytesMax); send smaller records or raise batchBytesMax on the node`)
    this.stats.recordsFailed++
    this.stats.firstError ??= error
    waiter?.reject(error)
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
    batch.producerEpoch = this.producerEpochs.get(key) ?? 0
    batch.sealOrder = this.sealCount++
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
    while (this.inFlight < this.options.maxInFlight) {
      const batch = this.nextToSend()
      if (!batch) break
      this.inFlight++
      let inFlight = this.inFlightByPartition.get(batch.key)
      if (!inFlight) this.inFlightByPartition.set(batch.key, (inFlight = new Set()))
      inFlight.add(batch)
      void this.sendBatch(batch).finally(() => {
        this.inFlight--
        inFlight.delete(batch)
        if (inFlight.size === 0) this.inFlightByPartition.delete(batch.key)
        this.releaseRetries(batch.key)
        this.pump()
        this.sendGatheredWhenIdle()
        if (this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake()
      })
    }
  }

  /** The oldest sealed batch of a partition not held back by a pending retry. */
  private nextToSend(): OpenBatch | undefined {
    if (this.retries.size === 0 && this.renewingIds.size === 0) return this.sealed.shift()
    const index = this.sealed.findIndex((batch) => !this.retries.has(batch.key) && !this.renewingIds.has(batch.key))
    return index < 0 ? undefined : this.sealed.splice(index, 1)[0]
  }

  private async sendBatch(batch: OpenBatch): Promise<void> {
    // Room in front: the request is framed around the batch instead of copied (produce-request-codec.ts).
    batch.encoded ??= encodeRecordBatch(batch.records, {compression: this.options.compression, producerId: this.partitionProducerIds.get(batch.key) ?? this.producerId, producerEpoch: batch.producerEpoch, baseSequence: batch.baseSequence, allocate: borrowWithHeadroom})
    const limit = this.routes.batchBytesMax
    // Only a lone record that fitted once compressed can land here (others are bounded as they
    // gather), if its timestamp made it compress a few bytes worse: refused, never sent.
    if (limit !== undefined && batch.encoded.length > limit) {
      assert(batch.records.length === 1, `a batch of ${batch.records.length} records came to ${batch.encoded.length} bytes, past the node's limit of ${limit}`)
      return this.fail(batch, new LignumError('RECORD_TOO_LARGE', `a record compressed to ${batch.encoded.length} bytes does not fit in one batch within the node's limit of ${limit} bytes (batchBytesMax); send smaller records or raise batchBytesMax on the node`))
    }
    batch.attempts++
    const acks = this.options.acks === 0 ? Acks.ACKS_NONE : this.options.acks === 1 ? Acks.ACKS_LEADER : Acks.ACKS_ALL
    const request = {partitions: [{topic: batch.topic, partition: batch.partition, records: [], recordBatch: batch.encoded, leaderEpoch: -1}], acks, timeoutMs: this.options.requestTimeoutMs}
    let failure: LignumError
    try {
      const channel = this.channelTo(this.routes.leaderConnection(batch.topic, batch.partition))
      const response = await channel.send(request, batch.createdMs)
      const result = response.results[0]
      if (!result?.error) return this.acknowledge(batch, result)
      failure = new LignumError(isErrorCode(result.error.code) ? result.error.code : 'INTERNAL', result.error.message, {hint: result.error.hint || undefined})
    } catch (error) {
      failure = error instanceof LignumError ? error : new LignumError('INTERNAL', String(error), {cause: error})
    }
    // Held at once, before deciding (which may wait for a metadata refresh): a later batch of
    // the partition sent meanwhile could push this one out of the leader's memory of recent
    // batches, and its resend would then be refused instead of answered as a duplicate.
    const pending = this.holdPartition(batch.key)
    // While this batch decides, a batch of the partition that fails must not let the hold go:
    // this one would be queued on a hold nobody releases, neither sent nor failed.
    pending.deciding++
    let retry: boolean
    try {
      retry = await this.mayRetry(batch, failure)
    } finally {
      pending.deciding--
    }
    if (retry) return this.queueRetry(batch, pending)
    this.fail(batch, failure)
    if (pending.batches.length === 0 && pending.timer === undefined && pending.deciding === 0) {
      this.retries.delete(batch.key)
      this.pump()
    }
  }

  private holdPartition(key: string): PendingRetry {
    let pending = this.retries.get(key)
    if (!pending) this.retries.set(key, (pending = {batches: [], due: false, timer: undefined, deciding: 0}))
    return pending
  }

  private acknowledge(batch: OpenBatch, result: {baseOffset: bigint} | undefined): void {
    const encoded = batch.encoded as Buffer
    this.stats.batchesSent++
    if (batch.attempts > 1) this.stats.batchesAcknowledgedAfterRetry++
    this.stats.bytesSent += encoded.length
    this.stats.recordsAcknowledged += batch.records.length
    const baseOffset = result ? Number(result.baseOffset) : -1
    for (const waiter of batch.waiters) waiter.resolve({topic: batch.topic, partition: batch.partition, offset: result ? baseOffset + waiter.index : -1})
    this.options.onAcknowledged({topic: batch.topic, partition: batch.partition, baseOffset, count: batch.records.length})
    // Acknowledged, so the node has every byte and no resend will come: the next batch may
    // use the buffer. (acks=0 is answered before the bytes are even sent.)
    if (this.options.acks !== 0) recycleBuffer(encoded)
    this.finished(batch)
  }

  private fail(batch: OpenBatch, failure: LignumError): void {
    this.stats.recordsFailed += batch.records.length
    this.stats.firstError ??= failure
    this.restartSequences(batch)
    for (const waiter of batch.waiters) waiter.reject(failure)
    this.finished(batch)
  }

  private finished(batch: OpenBatch): void {
    this.bufferedBytes -= batch.bytes + batch.records.length * RECORD_MEMORY_OVERHEAD_BYTES
    if (!this.needsDrain) for (const wake of this.drainWaiters.splice(0)) wake()
  }

  /** Retriable (retry.ts), or out of sequence only because an earlier batch is being retried; and time left. */
  private async mayRetry(batch: OpenBatch, failure: LignumError): Promise<boolean> {
    if (this.routes.closed) return false
    if (Date.now() + retryBackoffMs(batch.attempts) >= batch.createdMs + this.options.deliveryTimeoutMs) return false
    if (failure.code === 'OUT_OF_ORDER_SEQUENCE') return this.hasEarlierUnacknowledged(batch)
    return retryRouted(failure, this.routes, batch.topic, ROUTING_RETRIABLE_CODES)
  }

  private hasEarlierUnacknowledged(batch: OpenBatch): boolean {
    const earlier = (other: OpenBatch) => other !== batch && other.producerEpoch === batch.producerEpoch && other.sealOrder < batch.sealOrder
    const inFlight = this.inFlightByPartition.get(batch.key)
    return (inFlight !== undefined && [...inFlight].some(earlier)) || (this.retries.get(batch.key)?.batches.some(earlier) ?? false)
  }

  /** Resends the held partition's waiting batches, in order, after a backoff. */
  private queueRetry(batch: OpenBatch, pending: PendingRetry): void {
    // Released only once due and none of the partition's batches is in flight (this one still is).
    assert(this.retries.get(batch.key) === pending, `batch ${batch.sealOrder} of ${batch.key} would wait on a retry hold that was let go`)
    if (pending.timer === undefined) {
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer)
        // What the client knows of the leader was read when the batch failed, a backoff ago: a
        // leader elected meanwhile would otherwise be found only after one more refusal and
        // backoff. The wait for the refresh is bounded, as a node that does not answer must
        // not hold the retry longer than a backoff.
        const bound = new Promise<void>((resolve) => setTimeout(resolve, BACKOFF_MS_MAX).unref())
        void Promise.race([this.routes.refresh(batch.topic).catch(() => {}), bound]).then(() => {
          pending.due = true
          this.releaseRetries(batch.key)
        })
      }, retryBackoffMs(batch.attempts))
      this.retryTimers.add(timer)
      pending.timer = timer
    }
    const at = pending.batches.findIndex((queued) => queued.sealOrder > batch.sealOrder)
    pending.batches.splice(at < 0 ? pending.batches.length : at, 0, batch)
  }

  /** Once due and with none of the partition's batches in flight, its retries go first in line. */
  private releaseRetries(key: string): void {
    const pending = this.retries.get(key)
    if (!pending?.due || this.inFlightByPartition.has(key)) return
    this.retries.delete(key)
    this.sealed.unshift(...pending.batches)
    this.pump()
  }

  /**
   * After a failed batch, the partition's batches not yet sent move to a new epoch from
   * sequence 0, so the gap the failure left does not refuse them. Batches already sent keep
   * theirs (one in flight fails with OUT_OF_ORDER_SEQUENCE, and its failure starts no second
   * epoch): the leader may hold them.
   */
  private restartSequences(failed: OpenBatch): void {
    const key = failed.key
    const epoch = this.producerEpochs.get(key) ?? 0
    if (failed.producerEpoch !== epoch) return
    // The epoch is an int16: past it, the partition needs a new producer id (at epoch 0).
    if (epoch >= PRODUCER_EPOCH_MAX) {
      this.renumberUnsent(key, 0)
      this.renewProducerId(key)
      return
    }
    this.renumberUnsent(key, epoch + 1)
  }

  /** The partition's batches not yet sent move to `epoch`, their sequences from 0. */
  private renumberUnsent(key: string, epoch: number): void {
    assert(epoch >= 0 && epoch <= PRODUCER_EPOCH_MAX, `producer epoch ${epoch} is outside 0 to ${PRODUCER_EPOCH_MAX}`)
    this.producerEpochs.set(key, epoch)
    let nextSequence = 0
    for (const queued of this.sealed) {
      if (queued.key !== key || queued.attempts > 0) continue
      queued.producerEpoch = epoch
      queued.baseSequence = nextSequence
      nextSequence = (nextSequence + queued.records.length) % SEQUENCE_MODULUS
    }
    this.nextSequences.set(key, nextSequence)
  }

  /**
   * Holds the partition until a new producer id comes (a random one from a standalone node).
   * If none can be had, it goes on under the old id at epoch 0, which the node refuses as a
   * fenced epoch: the failures stay visible rather than the partition stalling.
   */
  private renewProducerId(key: string): void {
    if (this.renewingIds.has(key)) return
    this.renewingIds.add(key)
    void this.fetchProducerId()
      .then((id) => this.partitionProducerIds.set(key, id ?? randomBytes(6).readUIntBE(0, 6)), () => undefined)
      .finally(() => {
        this.renewingIds.delete(key)
        this.pump()
        this.sendGatheredWhenIdle()
        if (this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake()
      })
  }

  /** Natural batching (no linger): what gathered while requests were in flight leaves once none is. */
  private sendGatheredWhenIdle(): void {
    if (this.options.lingerMs === 0 && this.inFlight === 0 && this.open.size > 0) this.sealAll()
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.sealed.length === 0 && this.open.size === 0 && this.retries.size === 0 && this.renewingIds.size === 0
  }

  /** Sends everything queued and waits for every answer. */
  async flush(): Promise<void> {
    for (const topic of this.loadingTopics.keys()) await this.prepare(topic)
    // A turn after they prepared, their records are in batches (or refused).
    while (this.preparingSends.size > 0) {
      await Promise.allSettled([...this.preparingSends])
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    this.sealAll()
    if (this.isIdle()) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  async close(): Promise<void> {
    if (this.closed) return
    await this.flush()
    this.closed = true
    for (const timer of this.retryTimers) clearTimeout(timer)
    await Promise.all([...this.channels.values()].map((channel) => channel.close()))
    this.channels.clear()
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

/**
 * What `record` adds to the bound of `batch` (undefined: a batch of its own): its own bound, and
 * if it is the first with a timestamp of its own, the wider deltas the records before it may take.
 */
function boundIn(batch: OpenBatch | undefined, record: RecordInput): number {
  const explicit = record.timestamp !== undefined || (batch?.explicitTimestamps ?? false)
  const widened = batch && explicit && !batch.explicitTimestamps ? batch.records.length * (TIMESTAMP_DELTA_BYTES_MAX - 1) : 0
  return recordBytesBound(record, batch?.records.length ?? 0, explicit) + widened
}

function recordBytes(record: RecordInput): number {
  let bytes = RECORD_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0)
  for (const header of record.headers ?? []) bytes += header.key.length + (header.value?.length ?? 0) + 4
  return bytes
}
