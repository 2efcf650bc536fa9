/**
 * The Lignum gRPC service: each handler converts the request, calls the broker, converts the
 * answer. Streaming handlers are loops that respect backpressure and stop when the caller
 * cancels. Errors go through the one error table (grpc-errors.ts).
 */
import type {sendUnaryData, ServerUnaryCall, ServerWritableStream} from '@grpc/grpc-js'
import type {Acks as BrokerAcks, ProduceResult} from '../broker/broker.js'
import {recycleBuffer} from '../log/headroom.js'
import {decodeRecordBatch, batchPositions, type RecordInput} from '../log/record-batch.js'
import {LignumError} from '../errors.js'
import {
  Acks,
  type FetchResponse,
  type FetchedRecord,
  type LignumServer,
  LignumService,
  type ProducePartition,
  type ProducePartitionResult,
  type ProduceRequest,
  type ProduceResponse,
} from '../generated/lignum/v1/lignum.js'
import {settingsFromWire, toSafeNumber, topicToWire} from './convert.js'
import {encodeFetchResponse} from './fetch-response-codec.js'
import {decodeProduceRequest} from './produce-request-codec.js'
import {asLignumError, toServiceError} from './grpc-errors.js'
import type {ServingContext} from './serving-context.js'

// A fetch answers with at most this much unless asked for less: bounds one response's memory.
const FETCH_BYTES_DEFAULT = 1024 * 1024
const FETCH_BYTES_MAX = 16 * 1024 * 1024
// Long polls are capped so a forgotten client cannot pin a handler for ever.
const FETCH_WAIT_MS_MAX = 30_000
// A subscription re-checks for data at least this often even without an append signal.
const SUBSCRIBE_POLL_MS = 1000

/**
 * The generated service definition, with produce requests decoded and fetch responses encoded
 * without copying their record batches (produce-request-codec.ts, fetch-response-codec.ts).
 */
export const lignumServiceDefinition = {
  ...LignumService,
  produce: {...LignumService.produce, requestDeserialize: decodeProduceRequest},
  produceStream: {...LignumService.produceStream, requestDeserialize: decodeProduceRequest},
  fetch: {...LignumService.fetch, responseSerialize: encodeFetchResponse},
  subscribe: {...LignumService.subscribe, responseSerialize: encodeFetchResponse},
}

export function createLignumService(context: ServingContext): LignumServer {
  const {broker} = context
  const unary = <Request, Response>(handler: (request: Request, call: ServerUnaryCall<Request, Response>) => Promise<Response> | Response) =>
    (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>) => {
      Promise.resolve()
        .then(() => handler(call.request, call))
        .then((response) => callback(null, response), (error) => callback(toServiceError(error, context.logger), null))
    }

  return {
    produce: unary(async (request: ProduceRequest) => {
      if (request.acks === Acks.ACKS_NONE) {
        // The producer asked not to wait: answer now, append in the background.
        produceAll(context, request).catch((error) => context.logger.warn('acks=0 produce failed', {error}))
        return {requestId: request.requestId, results: []}
      }
      const response = await produceAll(context, request)
      for (const result of response.results) {
        if (result.error) throw new LignumError(result.error.code as never, result.error.message)
      }
      return response
    }),

    produceStream(call) {
      let pending = 0
      let ended = false
      let finished = false
      const finishIfDone = () => {
        if (!ended || pending > 0 || finished) return
        finished = true
        call.end()
      }
      // A stopping node takes no new requests: it answers those under way, then ends the
      // stream, and the client sends the rest again elsewhere or later.
      const onShutdown = () => {
        ended = true
        finishIfDone()
      }
      context.shutdownSignal.addEventListener('abort', onShutdown, {once: true})
      call.on('close', () => context.shutdownSignal.removeEventListener('abort', onShutdown))
      call.on('data', (request: ProduceRequest) => {
        if (context.shutdownSignal.aborted) return
        pending++
        produceAll(context, request).then(
          (response) => {
            if (request.acks !== Acks.ACKS_NONE) call.write(response)
          },
          (error) => context.logger.error('produce stream request failed', {error}),
        ).finally(() => {
          pending--
          finishIfDone()
        })
      })
      call.on('end', () => {
        ended = true
        finishIfDone()
      })
      call.on('error', () => {})
    },

    fetch: unary(async (request, call) => {
      const stop = context.metrics.fetchLatency.startTimer()
      const abort = abortOnCancel(call, context.shutdownSignal)
      try {
        const response = await fetchOnce(context, request.topic, request.partition, request.offset, request.maxBytes, Math.min(request.maxWaitMs, FETCH_WAIT_MS_MAX), request.decode, abort.signal)
        context.metrics.fetchRequests.inc({outcome: 'ok'})
        return response
      } catch (error) {
        context.metrics.fetchRequests.inc({outcome: 'error'})
        throw error
      } finally {
        abort.dispose()
        stop()
      }
    }),

    subscribe(call) {
      void subscribeLoop(context, call).catch((error) => {
        if (!call.cancelled) call.destroy(toServiceError(error, context.logger) as Error)
      })
    },

    listOffsets: unary(async (request) => ({
      offset: BigInt(await broker.listOffset(request.topic, request.partition, toSafeNumber(request.timestamp, 'timestamp'))),
    })),

    createTopic: unary(async (request) => {
      await broker.createTopic(request.name, {partitions: request.partitions || undefined, settings: settingsFromWire(request.config)})
      return topicToWire(broker.describeTopic(request.name), context.nodeId)
    }),

    deleteTopic: unary(async (request) => {
      await broker.deleteTopic(request.name)
      return {}
    }),

    listTopics: unary(() => ({topics: broker.listTopics().map((topic) => topicToWire(topic, context.nodeId))})),

    describeTopic: unary((request) => topicToWire(broker.describeTopic(request.name), context.nodeId)),

    metadata: unary(async (request) => {
      const view = context.clusterView()
      if (request.allowAutoTopicCreation) {
        for (const name of request.topics) await broker.ensureTopic(name)
      }
      const topics = request.topics.length > 0 ? request.topics.map((name) => broker.describeTopic(name)) : broker.listTopics()
      return {
        cluster: view.cluster,
        controller: view.controller ?? '',
        nodes: view.nodes,
        topics: topics.map((topic) => topicToWire(topic, context.nodeId)),
      }
    }),

    commitOffsets: unary(async (request) => {
      await broker.commitOffsets(
        request.group,
        request.offsets.map((entry) => ({topic: entry.topic, partition: entry.partition, offset: toSafeNumber(entry.offset, 'offset'), metadata: entry.metadata})),
      )
      return {}
    }),

    fetchOffsets: unary((request) => ({
      offsets: broker.fetchOffsets(request.group, request.topic || undefined).map((entry) => ({...entry, offset: BigInt(entry.offset)})),
    })),

    clusterStatus: unary(() => {
      const view = context.clusterView()
      return {
        cluster: view.cluster,
        controller: view.controller ?? '',
        controllerEpoch: BigInt(view.controllerEpoch),
        node: context.nodeId,
        nodes: view.nodes,
        topics: broker.listTopics().map((topic) => topicToWire(topic, context.nodeId)),
        consulReachable: view.consulReachable,
        mode: view.mode,
      }
    }),
  }
}

function acksOf(acks: Acks): BrokerAcks {
  if (acks === Acks.ACKS_NONE) return 0
  if (acks === Acks.ACKS_LEADER) return 1
  return 'all'
}

/** Runs every partition of a produce request; a failed partition reports its error, the others still append. */
async function produceAll(context: ServingContext, request: ProduceRequest): Promise<ProduceResponse> {
  const stop = context.metrics.produceLatency.startTimer()
  const acks = acksOf(request.acks)
  if (request.partitions.length === 0) {
    stop()
    throw new LignumError('INVALID_ARGUMENT', 'the produce request names no topic-partition; add at least one with records')
  }
  const settled = await Promise.all(request.partitions.map((entry) => producePartition(context, entry, acks)))
  stop()
  const results = settled.flat()
  if (results.every((result) => !result.error)) recycleReceivedBatches(request)
  return {requestId: request.requestId, results}
}

/**
 * Every partition is in the log: the received message the batches are views of (a pooled
 * buffer when large, wire/grpc-framing.ts) may take the next request. Only then: partitions of
 * one request share the message, and a failed append leaves the question of what it wrote.
 */
function recycleReceivedBatches(request: ProduceRequest): void {
  const batches = request.partitions.find((entry) => entry.recordBatch.length > 0)?.recordBatch
  if (batches) recycleBuffer(batches)
}

async function producePartition(context: ServingContext, entry: ProducePartition, acks: BrokerAcks): Promise<ProducePartitionResult[]> {
  try {
    if (!entry.topic) throw new LignumError('INVALID_ARGUMENT', 'the produce request has no topic; set "topic"')
    const records: RecordInput[] = entry.records.map((record) => ({
      key: record.key ?? null,
      value: record.value ?? null,
      headers: record.headers.map((header) => ({key: header.key, value: header.value ?? null})),
      timestamp: record.timestamp > 0n ? toSafeNumber(record.timestamp, 'timestamp') : undefined,
    }))
    const results = await context.broker.produce({topic: entry.topic, partition: entry.partition, batches: entry.recordBatch, records, acks})
    context.metrics.produceRequests.inc({outcome: 'ok'})
    return results.map((result) => resultToWire(context, result, entry.recordBatch.length))
  } catch (error) {
    context.metrics.produceRequests.inc({outcome: 'error'})
    const failure = asLignumError(error)
    if (failure.code === 'INTERNAL') context.logger.error('produce failed', {error})
    return [{topic: entry.topic, partition: entry.partition, baseOffset: -1n, lastOffset: -1n, error: {code: failure.code, message: failure.message, retriable: failure.retriable}}]
  }
}

function resultToWire(context: ServingContext, result: ProduceResult, bytes: number): ProducePartitionResult {
  context.metrics.produceRecords.inc({topic: result.topic}, result.lastOffset - result.baseOffset + 1)
  if (bytes > 0) context.metrics.produceBytes.inc({topic: result.topic}, bytes)
  return {topic: result.topic, partition: result.partition, baseOffset: BigInt(result.baseOffset), lastOffset: BigInt(result.lastOffset), error: undefined}
}

async function fetchOnce(context: ServingContext, topic: string, partition: number, offset: bigint, maxBytes: number, maxWaitMs: number, decode: boolean, signal: AbortSignal): Promise<FetchResponse> {
  const from = toSafeNumber(offset, 'offset')
  const bytesLimit = Math.min(maxBytes || FETCH_BYTES_DEFAULT, FETCH_BYTES_MAX)
  const result = await context.broker.fetch(topic, partition, from, {maxBytes: bytesLimit, maxWaitMs, signal})
  context.metrics.fetchBytes.inc({topic}, result.batches.length)
  return {
    topic,
    partition,
    recordBatches: result.batches,
    highWatermark: BigInt(result.highWatermark),
    logStartOffset: BigInt(result.logStartOffset),
    nextOffset: BigInt(result.nextOffset),
    records: decode ? decodeFrom(result.batches, from) : [],
  }
}

function decodeFrom(batches: Buffer, fromOffset: number): FetchedRecord[] {
  const records: FetchedRecord[] = []
  for (const {position} of batchPositions(batches)) {
    for (const record of decodeRecordBatch(batches, position).records) {
      if (record.offset < fromOffset) continue
      records.push({
        offset: BigInt(record.offset),
        timestamp: BigInt(record.timestamp),
        key: record.key ?? undefined,
        value: record.value ?? undefined,
        headers: record.headers.map((header) => ({key: header.key, value: header.value ?? undefined})),
      })
    }
  }
  return records
}

async function subscribeLoop(context: ServingContext, call: ServerWritableStream<import('../generated/lignum/v1/lignum.js').SubscribeRequest, FetchResponse>): Promise<void> {
  const {topic, partition, decode} = call.request
  let offset = call.request.offset
  const abort = abortOnCancel(call, context.shutdownSignal)
  // The next read starts before this response is sent, so the client never waits for the disk
  // after it has taken what was sent. Marked handled at once: the stream may end before it is awaited.
  const readFrom = (from: bigint) => {
    const read = fetchOnce(context, topic, partition, from, call.request.maxBytes, SUBSCRIBE_POLL_MS, decode, abort.signal)
    read.catch(() => {})
    return read
  }
  try {
    let next = readFrom(offset)
    while (!call.cancelled && !abort.signal.aborted) {
      const response = await next
      if (call.cancelled || abort.signal.aborted) break
      if (response.recordBatches.length > 0) offset = response.nextOffset
      next = readFrom(offset)
      if (response.recordBatches.length === 0) continue
      if (!call.write(response, decode ? undefined : recycleOnceWritten(response.recordBatches))) await drainedOrCancelled(call, abort.signal)
    }
  } finally {
    abort.dispose()
  }
  // The node is stopping: end the stream cleanly so the client can reconnect elsewhere.
  if (!call.cancelled) call.end()
}

/**
 * Once grpc-js has written a response (framed in place: the batches themselves went to the
 * socket), nothing holds the read any more and the next one may reuse it. Not with decoded
 * records: they are views of it.
 */
function recycleOnceWritten(batches: Buffer): (error?: Error | null) => void {
  // After an error the stream may have been torn down mid-write: leave the read to the collector.
  return (error) => {
    if (!error) recycleBuffer(batches)
  }
}

/** Waits until the stream can take more, or until the caller cancels or the node stops (no drain comes then). */
function drainedOrCancelled(call: ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done)
      call.off('cancelled', done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    call.on('drain', done)
    call.on('cancelled', done)
    signal.addEventListener('abort', done, {once: true})
  })
}

/** Aborts when the caller cancels or the node begins to shut down, whichever is first. */
function abortOnCancel(call: {on(event: 'cancelled', listener: () => void): unknown; removeListener(event: 'cancelled', listener: () => void): unknown}, shutdownSignal: AbortSignal): {signal: AbortSignal; dispose: () => void} {
  const controller = new AbortController()
  const onCancel = () => controller.abort()
  call.on('cancelled', onCancel)
  shutdownSignal.addEventListener('abort', onCancel, {once: true})
  return {
    signal: controller.signal,
    dispose: () => {
      call.removeListener('cancelled', onCancel)
      shutdownSignal.removeEventListener('abort', onCancel)
    },
  }
}
