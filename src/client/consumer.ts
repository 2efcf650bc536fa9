/**
 * Consumption as an async iterable of records. Each partition has a fetch loop that
 * long-polls the node and pushes whole batches into one bounded queue (so a slow reader slows
 * the fetches); the iterator decodes a batch at a time and skips the records before the asked
 * offset (a fetch starts at the batch that contains it, as in Kafka). With a group, the next
 * offsets are committed every `autoCommitMs` and when the iteration ends.
 */
import {LignumError} from '../errors.js'
import {batchPositions, decodeRecordBatch, type LogRecord, type RecordHeader} from '../log/record-batch.js'
import {AsyncQueue} from './async-queue.js'
import type {Connection} from './connection.js'
import {withRetry} from './retry.js'

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
  records: LogRecord[]
  /**
   * For a reader that stops part-way through the chunk: only its first `count` records count
   * as consumed, so the group's commit resumes right after them.
   */
  consumedUpTo(count: number): void
}

export type StartPosition = 'beginning' | 'end' | number

export interface ConsumeOptions {
  topic: string
  /** Default: every partition of the topic. */
  partitions?: number[]
  /** 'beginning', 'end', an offset, or a negative number: that many before the end. */
  from?: StartPosition
  /** Start at the first record at or after this time (ms since the epoch); wins over `from`. */
  fromTimeMs?: number
  /** Stop before this offset (exclusive), in every partition. */
  toOffset?: number
  /** Stop at the end offsets seen when consumption starts (kcat -e). */
  stopAtEnd?: boolean
  /** Start where this group committed, and commit as records are read. */
  group?: string
  autoCommitMs?: number
  maxBytes?: number
  maxWaitMs?: number
  signal?: AbortSignal
}

// Fetch responses buffered ahead of the reader across partitions: bounds memory to about
// QUEUE_CAPACITY * FETCH_BYTES.
const QUEUE_CAPACITY = 8
const FETCH_BYTES = 4 * 1024 * 1024
const FETCH_WAIT_MS = 500
// Kafka's auto.commit.interval.ms.
const AUTO_COMMIT_MS = 5000
const FETCH_RETRY_DEADLINE_MS = 60_000

interface Chunk {
  partition: number
  batches: Buffer
  fromOffset: number
}

interface PartitionRange {
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
export async function* consumeChunks(connection: Connection, partitionCount: number, options: ConsumeOptions): AsyncGenerator<RecordChunk> {
  const partitions = options.partitions ?? Array.from({length: partitionCount}, (_, index) => index)
  for (const partition of partitions) {
    if (!Number.isInteger(partition) || partition < 0 || partition >= partitionCount) {
      throw new LignumError('NOT_FOUND', `topic "${options.topic}" has partitions 0 to ${partitionCount - 1}; there is no partition ${partition}`)
    }
  }
  const ranges = await resolveRanges(connection, options, partitions)
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
    fetchLoop(connection, options, range, queue, stopFetching.signal)
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
    })
    for (const [partition, offset] of changed) committed.set(partition, offset)
  }
  let lastCommitMs = Date.now()
  // The chunk the reader holds: settled (its consumed part recorded) when the reader asks for
  // more or stops.
  let held: {partition: number; records: LogRecord[]; consumedCount: number} | undefined
  const settleHeld = () => {
    if (held && held.consumedCount > 0) positions.set(held.partition, held.records[Math.min(held.consumedCount, held.records.length) - 1].offset + 1)
    held = undefined
  }
  try {
    for (;;) {
      const chunk = await queue.shift()
      if (!chunk) break
      const end = ranges.find((range) => range.partition === chunk.partition)?.end ?? Number.POSITIVE_INFINITY
      for (const {position} of batchPositions(chunk.batches)) {
        const records = decodeRecordBatch(chunk.batches, position).records.filter((record) => record.offset >= chunk.fromOffset && record.offset < end)
        if (records.length === 0) continue
        const current = {partition: chunk.partition, records, consumedCount: records.length}
        held = current
        yield {topic: options.topic, partition: chunk.partition, records, consumedUpTo: (count) => (current.consumedCount = count)}
        settleHeld()
      }
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

/** Records one at a time, for programs that prefer it to chunks. */
export async function* consume(connection: Connection, partitionCount: number, options: ConsumeOptions): AsyncGenerator<ConsumedRecord> {
  for await (const chunk of consumeChunks(connection, partitionCount, options)) {
    for (const record of chunk.records) yield {topic: chunk.topic, partition: chunk.partition, ...record}
  }
}

async function fetchLoop(connection: Connection, options: ConsumeOptions, range: PartitionRange, queue: AsyncQueue<Chunk>, signal: AbortSignal): Promise<void> {
  let offset = range.start
  while (offset < range.end && !signal.aborted && !queue.isClosed) {
    const request = {topic: options.topic, partition: range.partition, offset: BigInt(offset), maxBytes: options.maxBytes ?? FETCH_BYTES, maxWaitMs: options.maxWaitMs ?? FETCH_WAIT_MS, decode: false}
    const response = await withRetry(() => connection.call(connection.grpc.fetch, request), {deadlineMs: FETCH_RETRY_DEADLINE_MS, signal})
    if (response.recordBatches.length === 0) continue
    await queue.push({partition: range.partition, batches: response.recordBatches, fromOffset: offset})
    offset = Number(response.nextOffset)
  }
}

async function resolveRanges(connection: Connection, options: ConsumeOptions, partitions: number[]): Promise<PartitionRange[]> {
  const committed = options.group ? await committedOffsets(connection, options.group, options.topic) : new Map<number, number>()
  return Promise.all(
    partitions.map(async (partition) => {
      const listOffset = async (timestamp: number) => Number((await connection.call(connection.grpc.listOffsets, {topic: options.topic, partition, timestamp: BigInt(timestamp)})).offset)
      const [logStart, logEnd] = await Promise.all([listOffset(-2), listOffset(-1)])
      let start: number
      if (committed.has(partition)) start = committed.get(partition) as number
      else if (options.fromTimeMs !== undefined) start = await listOffset(options.fromTimeMs)
      else start = startOffset(options.from ?? 'beginning', logStart, logEnd)
      start = Math.min(Math.max(start, logStart), logEnd)
      let end = options.stopAtEnd ? logEnd : Number.POSITIVE_INFINITY
      if (options.toOffset !== undefined) end = Math.min(end, options.toOffset)
      return {partition, start, end}
    }),
  )
}

function startOffset(from: StartPosition, logStart: number, logEnd: number): number {
  if (from === 'beginning') return logStart
  if (from === 'end') return logEnd
  if (from < 0) return Math.max(logStart, logEnd + from)
  if (from > logEnd) {
    throw new LignumError('OFFSET_OUT_OF_RANGE', `offset ${from} is past the end of the partition (${logEnd}); use --from end to wait for new records`)
  }
  return from
}

async function committedOffsets(connection: Connection, group: string, topic: string): Promise<Map<number, number>> {
  const response = await connection.call(connection.grpc.fetchOffsets, {group, topic})
  return new Map(response.offsets.map((entry) => [entry.partition, Number(entry.offset)]))
}
