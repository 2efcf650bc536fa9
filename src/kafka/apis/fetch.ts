/**
 * Fetch (key 1), versions 4-12: record batches from partition leaders, passed from the log to
 * the socket as stored (kafka-writer.ts keeps them as chunks of their own, not copied).
 *
 *   Request:  replica_id INT32, max_wait_ms INT32, min_bytes INT32, max_bytes INT32,
 *             isolation_level INT8, session_id INT32 (v7+), session_epoch INT32 (v7+),
 *             topics ARRAY[topic STRING, partitions ARRAY[partition INT32,
 *               current_leader_epoch INT32 (v9+), fetch_offset INT64,
 *               last_fetched_epoch INT32 (v12+), log_start_offset INT64 (v5+),
 *               partition_max_bytes INT32]],
 *             forgotten_topics_data ARRAY[topic STRING, partitions ARRAY[INT32]] (v7+),
 *             rack_id STRING (v11+)                                     (flexible from v12)
 *   Response: throttle_time_ms INT32, error_code INT16 (v7+), session_id INT32 (v7+),
 *             responses ARRAY[topic STRING, partitions ARRAY[partition_index INT32,
 *               error_code INT16, high_watermark INT64, last_stable_offset INT64,
 *               log_start_offset INT64 (v5+), aborted_transactions nullable ARRAY[
 *               producer_id INT64, first_offset INT64], preferred_read_replica INT32 (v11+),
 *               records NULLABLE_BYTES]]                                (flexible from v12)
 *
 * Incremental fetch sessions (KIP-227) are answered as full fetches: session_id 0 tells the
 * client no session was made, so every request names its partitions. Without transactions,
 * read_committed and read_uncommitted read the same: last_stable_offset is the high watermark
 * and no transaction is ever aborted. v13+ name topics by id, which Lignum does not have.
 *
 * current_leader_epoch (v9+) fences a client whose metadata names another leader epoch than
 * the partition's (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH: it refreshes and retries).
 * last_fetched_epoch (v12+) is read and not acted on: only followers send it (to find where
 * their log diverges), and Lignum's followers replicate over gRPC; consumers validate their
 * position with OffsetForLeaderEpoch instead.
 *
 * The wait: if the first pass finds fewer than min_bytes, the request waits (up to
 * max_wait_ms, at most FETCH_WAIT_MS_MAX) for an append to any of its partitions, then reads
 * once more, as Kafka's delayed fetch does. The reads answered go back to the buffer pool once
 * the response is written (a first pass the wait replaced is left to the collector).
 */
import {setTimeout} from 'node:timers/promises'
import {NO_EPOCH} from '../../broker/client-leader-epochs.js'
import {topicResource} from '../../server/authorization.js'
import {LignumError} from '../../errors.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {kafkaErrorCodeOf} from '../kafka-errors.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {KafkaReader} from '../protocol/kafka-reader.js'
import type {KafkaWriter} from '../protocol/kafka-writer.js'

// The same bounds as gRPC's Fetch: a request cannot hold a read open or ask for more than these.
const FETCH_WAIT_MS_MAX = 30_000
const FETCH_BYTES_MAX = 64 * 1024 * 1024
const PARTITION_FETCH_BYTES_MAX = 16 * 1024 * 1024
// No session: every fetch is a full one (KIP-227's INVALID_SESSION_ID).
const NO_SESSION_ID = 0
const NO_PREFERRED_READ_REPLICA = -1

interface PartitionRequest {
  partition: number
  /** The leader epoch the client's metadata names (-1: none, not fenced). */
  currentLeaderEpoch: number
  fetchOffset: number
  partitionMaxBytes: number
}

interface TopicRequest {
  topic: string
  partitions: PartitionRequest[]
}

interface FetchRequest {
  maxWaitMs: number
  minBytes: number
  maxBytes: number
  topics: TopicRequest[]
}

interface PartitionAnswer {
  partition: number
  highWatermark: number
  logStartOffset: number
  records: Buffer | null
  error?: unknown
}

export function fetchApi(): KafkaApi<KafkaContext> {
  return {
    key: 1,
    name: 'Fetch',
    minVersion: 4,
    maxVersion: 12,
    firstFlexibleVersion: 12,
    async handle(request, response) {
      const version = request.header.apiVersion
      const parsed = readFetchRequest(request.body, version, request.flexible)
      const answers = await fetchWithWait(request.context, request.principal, parsed)
      writeFetchResponse(response, version, request.flexible, parsed.topics, answers)
      for (const answer of answers.flat()) if (answer.records !== null && answer.records.length > 0) response.recycleOnceWritten(answer.records)
      return true
    },
  }
}

function readFetchRequest(body: KafkaReader, version: number, flexible: boolean): FetchRequest {
  body.int32()
  const maxWaitMs = body.int32()
  const minBytes = body.int32()
  const maxBytes = body.int32()
  body.int8()
  if (version >= 7) {
    body.int32()
    body.int32()
  }
  const topics = body.flexibleArray(flexible, (topicReader) => {
    const topic = topicReader.flexibleString(flexible)
    const partitions = topicReader.flexibleArray(flexible, (reader) => readPartitionRequest(reader, version, flexible))
    if (flexible) topicReader.skipTaggedFields()
    return {topic, partitions}
  })
  if (version >= 7) {
    body.flexibleArray(flexible, (reader) => {
      reader.flexibleString(flexible)
      reader.flexibleArray(flexible, (partitionReader) => partitionReader.int32())
      if (flexible) reader.skipTaggedFields()
    })
  }
  if (version >= 11) body.flexibleString(flexible)
  if (flexible) body.skipTaggedFields()
  return {maxWaitMs: Math.max(0, Math.min(maxWaitMs, FETCH_WAIT_MS_MAX)), minBytes, maxBytes: clampBytes(maxBytes, FETCH_BYTES_MAX), topics}
}

function readPartitionRequest(reader: KafkaReader, version: number, flexible: boolean): PartitionRequest {
  const partition = reader.int32()
  const currentLeaderEpoch = version >= 9 ? reader.int32() : NO_EPOCH
  const fetchOffset = reader.int64Number('fetch_offset')
  if (version >= 12) reader.int32()
  if (version >= 5) reader.int64()
  const partitionMaxBytes = clampBytes(reader.int32(), PARTITION_FETCH_BYTES_MAX)
  if (flexible) reader.skipTaggedFields()
  return {partition, currentLeaderEpoch, fetchOffset, partitionMaxBytes}
}

function clampBytes(asked: number, limit: number): number {
  return Math.max(1, Math.min(asked, limit))
}

async function fetchWithWait(context: KafkaContext, principal: string, request: FetchRequest): Promise<PartitionAnswer[][]> {
  const first = await fetchAll(context, principal, request)
  if (request.maxWaitMs === 0 || bytesOf(first) >= Math.max(1, request.minBytes) || first.flat().some((answer) => answer.error !== undefined)) return first
  await anyAppend(context, request)
  return fetchAll(context, principal, request)
}

function bytesOf(answers: PartitionAnswer[][]): number {
  return answers.flat().reduce((total, answer) => total + (answer.records?.length ?? 0), 0)
}

/** Resolves on the first append to any partition asked for, the wait's end, or the node stopping. */
async function anyAppend(context: KafkaContext, request: FetchRequest): Promise<void> {
  const abort = new AbortController()
  const stopping = () => abort.abort()
  context.serving.shutdownSignal.addEventListener('abort', stopping, {once: true})
  try {
    const appends = request.topics.flatMap(({topic, partitions}) => partitions.map(({partition}) => Promise.resolve().then(() => context.serving.broker.waitForAppend(topic, partition, request.maxWaitMs, abort.signal)).catch(() => {})))
    // A fetch that names no partition (a client keeping its session alive) still waits its time out.
    await Promise.race([...appends, setTimeout(request.maxWaitMs, undefined, {signal: abort.signal}).catch(() => {})])
  } finally {
    abort.abort()
    context.serving.shutdownSignal.removeEventListener('abort', stopping)
  }
}

async function fetchAll(context: KafkaContext, principal: string, request: FetchRequest): Promise<PartitionAnswer[][]> {
  let bytesLeft = request.maxBytes
  const answers: PartitionAnswer[][] = []
  for (const {topic, partitions} of request.topics) {
    const topicAnswers: PartitionAnswer[] = []
    for (const asked of partitions) {
      const answer = await fetchPartition(context, principal, topic, asked, Math.min(asked.partitionMaxBytes, Math.max(bytesLeft, 1)))
      bytesLeft -= answer.records?.length ?? 0
      topicAnswers.push(answer)
    }
    answers.push(topicAnswers)
  }
  return answers
}

async function fetchPartition(context: KafkaContext, principal: string, topic: string, asked: PartitionRequest, maxBytes: number): Promise<PartitionAnswer> {
  try {
    const {access} = context.serving
    if (access && !access.allows(principal, 'consume', topicResource(topic))) throw new LignumError('PERMISSION_DENIED', `${principal} may not consume from topic "${topic}"`)
    const result = await context.serving.broker.fetch(topic, asked.partition, asked.fetchOffset, {maxBytes, maxWaitMs: 0, currentLeaderEpoch: asked.currentLeaderEpoch})
    context.serving.metrics.fetchBytes.inc({topic}, result.batches.length)
    return {partition: asked.partition, highWatermark: result.highWatermark, logStartOffset: result.logStartOffset, records: result.batches}
  } catch (error) {
    return {partition: asked.partition, highWatermark: -1, logStartOffset: -1, records: null, error}
  }
}

function writeFetchResponse(response: KafkaWriter, version: number, flexible: boolean, topics: TopicRequest[], answers: PartitionAnswer[][]): void {
  response.int32(0)
  if (version >= 7) response.int16(KafkaErrorCode.NONE).int32(NO_SESSION_ID)
  response.flexibleArray(flexible, topics.map((topic, index) => ({topic: topic.topic, partitions: answers[index]!})), (writer, topic) => {
    writer.flexibleString(flexible, topic.topic)
    writer.flexibleArray(flexible, topic.partitions, (partitionWriter, answer) => writePartition(partitionWriter, version, flexible, answer))
    if (flexible) writer.emptyTaggedFields()
  })
  if (flexible) response.emptyTaggedFields()
}

function writePartition(writer: KafkaWriter, version: number, flexible: boolean, answer: PartitionAnswer): void {
  writer.int32(answer.partition).int16(answer.error === undefined ? KafkaErrorCode.NONE : kafkaErrorCodeOf(answer.error))
  writer.int64(answer.highWatermark).int64(answer.highWatermark)
  if (version >= 5) writer.int64(answer.logStartOffset)
  writer.flexibleArray(flexible, null, () => {})
  if (version >= 11) writer.int32(NO_PREFERRED_READ_REPLICA)
  writer.flexibleBytes(flexible, answer.records)
  if (flexible) writer.emptyTaggedFields()
}
