/**
 * Consumption as an async iterable of records. Each partition has a fetch loop that follows
 * the node's Subscribe stream and pushes whole batches into one bounded queue (so a slow reader
 * slows the stream); the iterator scans a batch at a time (offsets and value positions, no
 * object per record unless asked) and skips the records before the asked offset (a fetch starts
 * at the batch that contains it, as in Kafka). Control batches (transaction markers) are
 * skipped as a Kafka consumer skips them; transactional records are read uncommitted. With a
 * group, the next offsets are committed every `autoCommitMs` and when the iteration ends.
 */
import {LignumError} from '../errors.js'
import {batchPositions, decodeRecordsAt, scanRecordBatch, type BatchLayout, type LogRecord, type RecordHeader} from '../format/record-batch.js'
import {recycleBuffer} from '../format/headroom.js'
import {AsyncQueue} from './async-queue.js'
import type {ClusterRoutes, ReplicaChoice} from './cluster-routes.js'
import type {Connection} from './connection.js'
import {retryRouted, withRetry} from './retry.js'
import {ReadReplica} from '../generated/lignum/v1/lignum.js'

export interface ConsumedRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
}

/** The records of one fetched batch, in offset order. */
export interface RecordChunk {
  topic: string
  partition: number
  /** How many records the chunk holds. */
  readonly count: number
  /** The records as objects, decoded on first use: a reader of values alone can skip them (writeValueLines). */
  readonly records: LogRecord[]
  offsetAt(index: number): number
  /**
   * Writes the values of records from `index` (below `end`) into `target` from `position`, each
   * followed by the byte `separator` (a null value writes nothing before it), as many as fit.
   * Returns how many records it wrote and where it stopped; 0 records when the next does not fit.
   */
  writeValueLines(index: number, end: number, target: Buffer, position: number, separator: number): {count: number; position: number}
  /**
   * For a reader that stops part-way through the chunk: only its first `count` records count
   * as consumed, so the group's commit resumes right after them.
   */
  consumedUpTo(count: number): void
  /**
   * Says the reader is done with the chunk's bytes (it copied what it needed, and keeps no
   * record): once every chunk of a response is released, the buffer the response arrived in
   * is reused for the next one. Optional; records taken from `records` keep their buffer.
   * The chunk cannot be read after it.
   */
  release(): void
}

/** 'beginning', 'end', an offset, a negative number (that many before the end), or that many after the log start. */
export type StartPosition = 'beginning' | 'end' | number | {fromStart: number}

export interface ConsumeOptions {
  topic: string
  /** Default: every partition of the topic. */
  partitions?: number[]
  /**
   * 'beginning', 'end', an offset, a negative number (that many before the end), or
   * {fromStart: N}. An offset past a partition's end starts that partition at its end, and
   * says so through onWarning.
   */
  from?: StartPosition
  /** Start at the first record at or after this time (ms since the epoch); wins over `from`. */
  fromTimeMs?: number
  /** Stop before this offset (exclusive), in every partition. */
  toOffset?: number
  /** Stop before the first record at or after this time (ms since the epoch), in every partition; a time past the last record stops at the end seen at start. */
  toTimeMs?: number
  /** Hears what the consumer adjusted rather than refused (an offset past a partition's end). */
  onWarning?: (message: string) => void
  /** Stop at the end offsets seen when consumption starts (kcat -e). */
  stopAtEnd?: boolean
  /** Start where this group committed, and commit as records are read. */
  group?: string
  autoCommitMs?: number
  /** Bytes of batches per message from the node. */
  maxBytes?: number
  /**
   * Which replica serves the reads (KIP-392): 'leader' (the default), or 'any': the node the
   * client bootstrapped from when it holds an in-sync replica, else the leader. Offsets are
   * asked of the leader either way.
   */
  replica?: ReplicaChoice
  signal?: AbortSignal
}

// Fetch responses buffered ahead of the reader across partitions: QUEUE_CAPACITY * FETCH_BYTES.
// Each partition's stream also holds up to 16 messages (grpc-js's object-mode buffer) and the
// HTTP/2 window (connection.ts), so memory is about (QUEUE_CAPACITY + 16 * partitions) * FETCH_BYTES
// plus the window for a reader slower than the node.
const QUEUE_CAPACITY = 4
// 2 MiB per message: as fast as 4 MiB when measured (1 MiB was slower under load), with half
// the memory per partition stream.
const FETCH_BYTES = 2 * 1024 * 1024
// Kafka's auto.commit.interval.ms.
const AUTO_COMMIT_MS = 5000
const FETCH_RETRY_DEADLINE_MS = 60_000

export interface Chunk {
  partition: number
  batches: Buffer
  fromOffset: number
}

/**
 * The chunks cut from one response's batches: its buffer goes back to the read pool once all
 * of them are released, unless a record (a view of the buffer) was handed out.
 */
export class ResponseBuffer {
  private unreleased = 0
  private cutting = true
  private recordsHandedOut = false

  constructor(private readonly batches: Buffer) {}

  chunkCut(): void {
    this.unreleased++
  }

  allCut(): void {
    this.cutting = false
    this.recycleWhenDone()
  }

  chunkReleased(recordsHandedOut: boolean): void {
    this.unreleased--
    this.recordsHandedOut ||= recordsHandedOut
    this.recycleWhenDone()
  }

  private recycleWhenDone(): void {
    if (!this.cutting && this.unreleased === 0 && !this.recordsHandedOut) recycleBuffer(this.batches)
  }
}

/**
 * A batch's records in [first, end) of its layout: offsets and values are read in place, and
 * record objects are built only if someone asks for `records`.
 */
class BatchChunk implements RecordChunk {
  private decoded: LogRecord[] | undefined
  private released = false
  consumedCount: number

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly layout: BatchLayout,
    private readonly first: number,
    readonly count: number,
    private readonly response: ResponseBuffer | undefined,
  ) {
    this.consumedCount = count
    response?.chunkCut()
  }

  get records(): LogRecord[] {
    this.assertHeld()
    this.decoded ??= decodeRecordsAt(this.layout, this.first, this.count)
    return this.decoded
  }

  private assertHeld(): void {
    // Its bytes may already carry another response.
    if (this.released) throw new LignumError('INTERNAL', 'a record chunk was read after release()')
  }

  release(): void {
    if (this.released) return
    this.released = true
    this.response?.chunkReleased(this.decoded !== undefined)
  }

  offsetAt(index: number): number {
    return this.layout.header.baseOffset + this.layout.offsetDeltas[this.first + index]
  }

  /**
   * One copy of the bytes from the first value to the last one that fits, then each value moved
   * down into place with copyWithin (a memmove that allocates nothing, unlike a copy per value).
   * Moving down never overwrites a value not yet moved: each record has at least one byte of
   * framing between values, so the lines written so far end before the next value starts.
   */
  writeValueLines(index: number, end: number, target: Buffer, position: number, separator: number): {count: number; position: number} {
    this.assertHeld()
    const {data, valueStarts, valueLengths} = this.layout
    const first = this.first + index
    const last = this.first + end
    const blockStart = valueStarts[first]
    const room = target.length - position
    let stop = first
    let blockEnd = blockStart
    while (stop < last) {
      const valueEnd = valueStarts[stop] + Math.max(valueLengths[stop], 0)
      if (valueEnd - blockStart + 1 > room) break
      blockEnd = valueEnd
      stop++
    }
    if (stop === first) return {count: 0, position}
    data.copy(target, position, blockStart, blockEnd)
    const shift = position - blockStart
    let written = position
    for (let record = first; record < stop; record++) {
      const length = valueLengths[record]
      if (length > 0) {
        const start = valueStarts[record] + shift
        if (start !== written) target.copyWithin(written, start, start + length)
        written += length
      }
      target[written++] = separator
    }
    return {count: stop - first, position: written}
  }

  consumedUpTo(count: number): void {
    this.consumedCount = count
  }

  /** The offset after the last consumed record, or undefined if none was. */
  nextOffset(): number | undefined {
    const consumed = Math.min(this.consumedCount, this.count)
    return consumed > 0 ? this.offsetAt(consumed - 1) + 1 : undefined
  }
}

/** The chunk of the batch at `position` holding its records in [fromOffset, endOffset), or undefined if none is. */
export function chunkOfBatch(topic: string, partition: number, batches: Buffer, position: number, fromOffset: number, endOffset: number, response?: ResponseBuffer): BatchChunk | undefined {
  const layout = scanRecordBatch(batches, position)
  const offsetOf = (index: number) => layout.header.baseOffset + layout.offsetDeltas[index]
  let first = 0
  while (first < layout.count && offsetOf(first) < fromOffset) first++
  let end = first
  while (end < layout.count && offsetOf(end) < endOffset) end++
  return end > first ? new BatchChunk(topic, partition, layout, first, end - first, response) : undefined
}

export interface PartitionRange {
  partition: number
  start: number
  /** Exclusive; Infinity when following. */
  end: number
}

/**
 * Records a batch at a time: the fast way to read (one await per batch, not per record). A
 * chunk counts as consumed (for group commits) once the reader asks for the next one, so a
 * reader that stops half-way through a chunk gets it again next time: at least once.
 */
export async function* consumeChunks(routes: ClusterRoutes, partitionCount: number, options: ConsumeOptions): AsyncGenerator<RecordChunk> {
  // Group offsets live on the node the client bootstrapped from.
  const connection = routes.bootstrap
  const partitions = options.partitions ?? Array.from({length: partitionCount}, (_, index) => index)
  for (const partition of partitions) {
    if (!Number.isInteger(partition) || partition < 0 || partition >= partitionCount) {
      throw new LignumError('NOT_FOUND', `topic "${options.topic}" has partitions 0 to ${partitionCount - 1}; there is no partition ${partition}`)
    }
  }
  const ranges = await resolveRanges(routes, options, partitions)
  const positions = new Map(ranges.map((range) => [range.partition, range.start]))
  const committed = new Map(positions)
  const queue = new AsyncQueue<Chunk>(QUEUE_CAPACITY)
  const stopFetching = new AbortController()
  const onAbort = () => queue.close()
  options.signal?.addEventListener('abort', onAbort, {once: true})
  const active = ranges.filter((range) => range.start < range.end)
  let running = active.length
  if (running === 0) queue.close()
  for (const range of active) {
    fetchLoop(routes, options, range, queue, stopFetching.signal)
      .catch((error) => queue.fail(error))
      .finally(() => {
        if (--running === 0) queue.close()
      })
  }
  const commit = async () => {
    if (!options.group) return
    const changed = [...positions].filter(([partition, offset]) => committed.get(partition) !== offset)
    if (changed.length === 0) return
    await connection.call(connection.grpc.commitOffsets, {
      group: options.group,
      offsets: changed.map(([partition, offset]) => ({topic: options.topic, partition, offset: BigInt(offset), metadata: ''})),
      memberId: '',
      generationId: 0,
    })
    for (const [partition, offset] of changed) committed.set(partition, offset)
  }
  let lastCommitMs = Date.now()
  // The chunk the reader holds: settled (its consumed part recorded) when the reader asks for
  // more or stops.
  let held: BatchChunk | undefined
  const settleHeld = () => {
    const next = held?.nextOffset()
    if (held && next !== undefined) positions.set(held.partition, next)
    held = undefined
  }
  try {
    for (;;) {
      const chunk = await queue.shift()
      if (!chunk) break
      const end = ranges.find((range) => range.partition === chunk.partition)?.end ?? Number.POSITIVE_INFINITY
      const response = new ResponseBuffer(chunk.batches)
      for (const {position, header} of batchPositions(chunk.batches)) {
        if (header.isControl) {
          // A transaction marker is no record, but the position moves past it, as a Kafka consumer's does.
          if (header.lastOffset >= chunk.fromOffset && header.lastOffset < end) positions.set(chunk.partition, header.lastOffset + 1)
          continue
        }
        held = chunkOfBatch(options.topic, chunk.partition, chunk.batches, position, chunk.fromOffset, end, response)
        if (!held) continue
        yield held
        settleHeld()
      }
      response.allCut()
      if (options.group && Date.now() - lastCommitMs >= (options.autoCommitMs ?? AUTO_COMMIT_MS)) {
        await commit()
        lastCommitMs = Date.now()
      }
    }
  } finally {
    settleHeld()
    stopFetching.abort()
    queue.close()
    options.signal?.removeEventListener('abort', onAbort)
    await commit()
  }
}

/**
 * Records one at a time, for programs that prefer them to chunks: the records of a stream of
 * chunks. Not an async generator: a generator's yield costs several promise hops per record,
 * where this answers from the chunk in hand with one resolved promise. Ending the iteration
 * early ends the chunk stream (which commits as it does).
 */
export function recordsOfChunks(chunks: AsyncGenerator<RecordChunk>): AsyncGenerator<ConsumedRecord, void, undefined> {
  return new ChunkRecordIterator(chunks)
}

class ChunkRecordIterator implements AsyncGenerator<ConsumedRecord, void, undefined> {
  private records: ConsumedRecord[] = []
  private index = 0
  /** The chunk `records` came from: a reader leaving part-way through it consumed only what it was given. */
  private chunk: RecordChunk | undefined

  constructor(private readonly chunks: AsyncGenerator<RecordChunk>) {}

  next(): Promise<IteratorResult<ConsumedRecord, void>> {
    if (this.index < this.records.length) return Promise.resolve({value: this.records[this.index++], done: false})
    return this.nextChunk()
  }

  private async nextChunk(): Promise<IteratorResult<ConsumedRecord, void>> {
    for (;;) {
      const result = await this.chunks.next()
      if (result.done) return {value: undefined, done: true}
      this.chunk = result.value
      this.records = consumedRecords(result.value)
      this.index = 0
      if (this.records.length > 0) return {value: this.records[this.index++], done: false}
    }
  }

  async return(): Promise<IteratorResult<ConsumedRecord, void>> {
    this.settleChunk()
    await this.chunks.return(undefined)
    return {value: undefined, done: true}
  }

  async throw(error: unknown): Promise<IteratorResult<ConsumedRecord, void>> {
    this.settleChunk()
    await this.chunks.throw(error)
    return {value: undefined, done: true}
  }

  /** Only the records handed out count as consumed: a group's commit resumes after the last of them. */
  private settleChunk(): void {
    this.chunk?.consumedUpTo(this.index)
    this.chunk = undefined
    this.records = []
  }

  [Symbol.asyncIterator](): this {
    return this
  }
}

function consumedRecords(chunk: RecordChunk): ConsumedRecord[] {
  const {topic, partition} = chunk
  return chunk.records.map((record) => ({topic, partition, offset: record.offset, timestamp: record.timestamp, key: record.key, value: record.value, headers: record.headers}))
}

/** Where a fetch loop puts what it fetched: the consumer's queue, or a group consumer's view of it. */
export type ChunkSink = Pick<AsyncQueue<Chunk>, 'push' | 'isClosed'>

/**
 * Follows one partition over a Subscribe stream, so the node reads and sends the next batches
 * while this side still works on the last ones (a unary fetch per chunk leaves each side idle
 * while the other works). Each stream runs until the range's end; a retriable failure
 * resubscribes where it stopped, backing off only while no progress is made.
 */
export async function fetchLoop(routes: ClusterRoutes, options: ConsumeOptions, range: PartitionRange, queue: ChunkSink, signal: AbortSignal): Promise<void> {
  const position = {offset: range.start}
  const active = () => position.offset < range.end && !signal.aborted && !queue.isClosed
  const replica = options.replica ?? 'leader'
  // Each attempt asks the routes again: a refresh after NOT_LEADER may name another node.
  const stream = () => streamBatches(routes.readConnection(options.topic, range.partition, replica), options, range, position, queue, signal)
  const shouldRetry = (error: unknown) => retryRouted(error, routes, options.topic, 'any-retriable')
  while (active()) {
    await withRetry(stream, {deadlineMs: FETCH_RETRY_DEADLINE_MS, signal, shouldRetry})
  }
}

/** One Subscribe stream from position.offset, pushing what it brings; returns on a retriable failure after progress (the caller resubscribes at once). */
async function streamBatches(connection: Connection, options: ConsumeOptions, range: PartitionRange, position: {offset: number}, queue: ChunkSink, signal: AbortSignal): Promise<void> {
  const startOffset = position.offset
  const replica = options.replica === 'any' ? ReadReplica.READ_REPLICA_IN_SYNC : ReadReplica.READ_REPLICA_LEADER
  const request = {topic: options.topic, partition: range.partition, offset: BigInt(position.offset), maxBytes: options.maxBytes ?? FETCH_BYTES, decode: false, replica}
  try {
    for await (const response of connection.stream(connection.grpc.subscribe, request, signal)) {
      if (response.recordBatches.length === 0) continue
      await queue.push({partition: range.partition, batches: response.recordBatches, fromOffset: position.offset})
      position.offset = Number(response.nextOffset)
      if (position.offset >= range.end || signal.aborted || queue.isClosed) return
    }
  } catch (error) {
    const retriable = error instanceof LignumError && error.retriable
    if (!retriable || position.offset === startOffset) throw error
  }
}

/** Where each partition starts (the group's committed offset wins unless `ignoreCommitted`) and ends. */
export async function resolveRanges(routes: ClusterRoutes, options: ConsumeOptions, partitions: number[], ignoreCommitted = false): Promise<PartitionRange[]> {
  const committed = options.group && !ignoreCommitted ? await committedOffsets(routes.bootstrap, options.group, options.topic) : new Map<number, number>()
  const shouldRetry = (error: unknown) => retryRouted(error, routes, options.topic, 'any-retriable')
  const pastEnd: string[] = []
  const ranges = await Promise.all(
    partitions.map(async (partition) => {
      // Only the leader knows where the partition ends (a follower's high watermark trails it).
      const askLeader = async (timestamp: number) => {
        const connection = routes.leaderConnection(options.topic, partition)
        return Number((await connection.call(connection.grpc.listOffsets, {topic: options.topic, partition, timestamp: BigInt(timestamp)})).offset)
      }
      const listOffset = (timestamp: number) => withRetry(() => askLeader(timestamp), {deadlineMs: FETCH_RETRY_DEADLINE_MS, signal: options.signal, shouldRetry})
      const [logStart, logEnd] = await Promise.all([listOffset(-2), listOffset(-1)])
      let start: number
      if (committed.has(partition)) start = committed.get(partition) as number
      else if (options.fromTimeMs !== undefined) start = await listOffset(options.fromTimeMs)
      else start = startOffset(options.from ?? 'beginning', logStart, logEnd)
      if (start > logEnd) pastEnd.push(`${partition} (ends at ${logEnd}, before offset ${start})`)
      start = Math.min(Math.max(start, logStart), logEnd)
      let end = options.stopAtEnd ? logEnd : Number.POSITIVE_INFINITY
      if (options.toOffset !== undefined) end = Math.min(end, options.toOffset)
      if (options.toTimeMs !== undefined) end = Math.min(end, await listOffset(options.toTimeMs))
      return {partition, start, end}
    }),
  )
  // One line for them all: a topic of many short partitions should not print a screenful.
  if (pastEnd.length > 0) options.onWarning?.(`${pastEnd.length === 1 ? 'partition' : 'partitions'} ${pastEnd.join(', ')} of "${options.topic}" ${pastEnd.length === 1 ? 'ends' : 'end'} before the asked offset: ${pastEnd.length === 1 ? 'it starts' : 'each starts'} at its end`)
  return ranges
}

function startOffset(from: StartPosition, logStart: number, logEnd: number): number {
  if (from === 'beginning') return logStart
  if (from === 'end') return logEnd
  if (typeof from === 'object') return logStart + from.fromStart
  // Object.is: -0 (the end, as kcat spells it) must not read as offset 0.
  if (Object.is(from, -0)) return logEnd
  if (from < 0) return Math.max(logStart, logEnd + from)
  return from
}

async function committedOffsets(connection: Connection, group: string, topic: string): Promise<Map<number, number>> {
  const response = await connection.call(connection.grpc.fetchOffsets, {group, topic})
  return new Map(response.offsets.map((entry) => [entry.partition, Number(entry.offset)]))
}
