/**
 * The Lignum gRPC service: each handler converts the request, calls the broker, converts the
 * answer. Streaming handlers are loops that respect backpressure and stop when the caller
 * cancels. Errors go through the one error table (grpc-errors.ts). Every handler checks the
 * caller's authorization first (authorization.ts); a produce checks each topic it names.
 */
import type {Metadata, sendUnaryData, ServerUnaryCall, ServerWritableStream} from '@grpc/grpc-js'
import type {Acks as BrokerAcks, ProduceResult} from '../broker/broker.js'
import {recycleBuffer} from '../format/headroom.js'
import {decodeRecordBatch, batchPositions, type RecordInput} from '../format/record-batch.js'
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
  ReadReplica,
  type SubscribeRequest,
  type TopicDescription,
} from '../generated/lignum/v1/lignum.js'
import {nodeToWire, settingsFromWire, toSafeNumber, topicToWire} from './convert.js'
import {clusterStatusAnswer} from './cluster-status.js'
import {encodeFetchResponse} from './fetch-response-codec.js'
import {forwardedBy, groupHandlers, memberIdentityOf, requireGroupAccess} from './group-handlers.js'
import {decodeProduceRequest} from './produce-request-codec.js'
import {asLignumError, toServiceError, wireErrorOf} from './grpc-errors.js'
import {callPrincipal, groupResource, mayCreateTopic, mayProduceNowhere, requireAllowed, requireCreateTopic, requireProduce, topicResource} from './authorization.js'
import {clusterResource} from '../acl/acl-rule.js'
import {aclHandlers} from './acl-handlers.js'
import {groupAdminHandlers} from './group-admin-handlers.js'
import {ResponseQueue} from './response-queue.js'
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
    // Per-partition results, errors included: one partition failing does not hide the others' offsets.
    produce: unary((request: ProduceRequest, call) => produceAll(context, request, callPrincipal(call, context.principalMapping))),

    produceStream(call) {
      const principal = callPrincipal(call, context.principalMapping)
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
        produceAll(context, request, principal).then(
          (response) => {
            if (request.acks !== Acks.ACKS_NONE) call.write(response)
          },
          (error) => {
            // A request refused whole (e.g. naming no partition) is still answered: the client
            // waits for every request id it sent.
            const failure = asLignumError(error)
            if (failure.code === 'INTERNAL') context.logger.error('produce stream request failed', {error})
            if (request.acks !== Acks.ACKS_NONE) call.write(refusedWhole(request, failure))
          },
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
      requireAllowed(context.access, callPrincipal(call, context.principalMapping), 'consume', topicResource(request.topic))
      const stop = context.metrics.fetchLatency.startTimer()
      const abort = abortOnCancel(call, context.shutdownSignal)
      try {
        const response = await fetchOnce(context, request, Math.min(request.maxWaitMs, FETCH_WAIT_MS_MAX), abort.signal)
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
      void Promise.resolve()
        .then(() => requireAllowed(context.access, callPrincipal(call, context.principalMapping), 'consume', topicResource(call.request.topic)))
        .then(() => subscribeLoop(context, call))
        .catch((error) => {
          // An 'error' event is how a grpc-js server stream ends with a status (destroy() would
          // tear the stream down without one, leaving the client to wait for its deadline).
          if (!call.cancelled) call.emit('error', toServiceError(error, context.logger))
        })
    },

    // Kafka's ListOffsets needs describe; consume implies it.
    listOffsets: unary(async (request, call) => {
      requireAllowed(context.access, callPrincipal(call, context.principalMapping), 'describe', topicResource(request.topic))
      return {offset: BigInt(await broker.listOffset(request.topic, readPartition(request.partition), toSafeNumber(request.timestamp, 'timestamp')))}
    }),

    createTopic: unary(async (request, call) => {
      requireCreateTopic(context.access, callPrincipal(call, context.principalMapping), request.name)
      if (context.clusterTopics) {
        return context.clusterTopics.createTopic({
          name: request.name,
          partitions: request.partitions || 1,
          replicationFactor: request.replicationFactor || undefined,
          minInsyncReplicas: request.minInsyncReplicas || undefined,
          config: request.config,
        })
      }
      await broker.createTopic(request.name, {partitions: request.partitions || undefined, settings: settingsFromWire(request.config)})
      return topicToWire(broker.describeTopic(request.name), context.nodeId)
    }),

    deleteTopic: unary(async (request, call) => {
      requireAllowed(context.access, callPrincipal(call, context.principalMapping), 'delete', topicResource(request.name))
      if (context.clusterTopics) await context.clusterTopics.deleteTopic(request.name)
      else await broker.deleteTopic(request.name)
      return {}
    }),

    // Cluster mode: from the catalog, so every node answers alike, holding a replica or not.
    // Topics the caller may not describe are left out, as Kafka does.
    listTopics: unary(async (request, call) => ({
      topics: describable(context, callPrincipal(call, context.principalMapping), context.clusterTopics ? await context.clusterTopics.listTopics() : broker.listTopics().map((topic) => topicToWire(topic, context.nodeId))),
    })),

    describeTopic: unary((request, call) => {
      requireAllowed(context.access, callPrincipal(call, context.principalMapping), 'describe', topicResource(request.name))
      return context.clusterTopics ? context.clusterTopics.describeTopic(request.name) : topicToWire(broker.describeTopic(request.name), context.nodeId)
    }),

    metadata: unary(async (request, call) => {
      const view = context.clusterView()
      const principal = callPrincipal(call, context.principalMapping)
      for (const name of request.topics) requireAllowed(context.access, principal, 'describe', topicResource(name))
      // Auto-creation is creation: without that right a missing topic is answered as missing.
      const autoCreate = request.allowAutoTopicCreation && request.topics.every((name) => mayCreateTopic(context.access, principal, name))
      const topics = context.clusterTopics ? await context.clusterTopics.metadataTopics(request.topics, autoCreate) : await standaloneMetadataTopics(context, request.topics, autoCreate)
      return {
        cluster: view.cluster,
        controller: view.controller ?? '',
        nodes: view.nodes.map(nodeToWire),
        topics: describable(context, principal, topics),
        node: context.nodeId,
        batchBytesMax: broker.config.batchBytesMax,
      }
    }),

    commitOffsets: unary(async (request, call) => {
      requireGroupAccess(context, call, request.group, request.offsets.map((entry) => entry.topic))
      const offsets = request.offsets.map((entry) => ({topic: entry.topic, partition: entry.partition, offset: toSafeNumber(entry.offset, 'offset'), metadata: entry.metadata}))
      const member = memberIdentityOf(request)
      if (context.clusterOffsets) await context.clusterOffsets.commitOffsets(request.group, offsets, forwardedBy(call), member)
      else await broker.commitOffsets(request.group, offsets, member)
      return {}
    }),

    fetchOffsets: unary(async (request, call) => {
      const topic = request.topic || undefined
      requireGroupAccess(context, call, request.group, topic === undefined ? [] : [topic])
      const offsets = context.clusterOffsets ? await context.clusterOffsets.fetchOffsets(request.group, topic, forwardedBy(call)) : broker.fetchOffsets(request.group, topic)
      // A group's offsets of topics the caller may not describe stay hidden (Kafka's OffsetFetch).
      const principal = callPrincipal(call, context.principalMapping)
      const visible = offsets.filter((entry) => !context.access || context.access.allows(principal, 'describe', topicResource(entry.topic)))
      return {offsets: visible.map((entry) => ({...entry, offset: BigInt(entry.offset)}))}
    }),

    clusterStatus: unary((request, call) => {
      requireAllowed(context.access, callPrincipal(call, context.principalMapping), 'describe', clusterResource())
      return clusterStatusAnswer(context, request.localOnly)
    }),

    // Kafka 3: an idempotent producer's id is for whoever may produce to some topic; each produce is checked still.
    initProducerId: unary(async (request, call) => {
      const principal = callPrincipal(call, context.principalMapping)
      if (context.access && !context.access.allowsSomewhere(principal, 'produce', 'topic')) throw mayProduceNowhere(principal)
      if (!context.producerIds) return {producerId: -1n, producerEpoch: -1}
      return {producerId: BigInt(await context.producerIds.nextId()), producerEpoch: 0}
    }),

    ...aclHandlers(context, unary),
    ...groupHandlers(context, unary),
    ...groupAdminHandlers(context, unary),
  }
}

/** The topics `principal` may describe, of those found. */
function describable(context: ServingContext, principal: string, topics: TopicDescription[]): TopicDescription[] {
  const {access} = context
  return access ? topics.filter((topic) => access.allows(principal, 'describe', topicResource(topic.name))) : topics
}

async function standaloneMetadataTopics(context: ServingContext, names: string[], allowAutoTopicCreation: boolean) {
  const {broker} = context
  if (allowAutoTopicCreation) {
    for (const name of names) await broker.ensureTopic(name)
  }
  const topics = names.length > 0 ? names.map((name) => broker.describeTopic(name)) : broker.listTopics()
  return topics.map((topic) => topicToWire(topic, context.nodeId))
}

function acksOf(acks: Acks): BrokerAcks {
  if (acks === Acks.ACKS_NONE) return 0
  if (acks === Acks.ACKS_LEADER) return 1
  return 'all'
}

/**
 * Runs every partition of a produce request; a failed partition reports its error, the others
 * still append. The broker applies acks and the timeout; with acks=0 it answers before the
 * append is done, so the received batches are left to the collector, not recycled.
 */
async function produceAll(context: ServingContext, request: ProduceRequest, principal: string): Promise<ProduceResponse> {
  const stop = context.metrics.produceLatency.startTimer()
  const acks = acksOf(request.acks)
  if (request.partitions.length === 0) {
    stop()
    throw new LignumError('INVALID_ARGUMENT', 'the produce request names no topic-partition; add at least one with records')
  }
  const settled = await Promise.all(request.partitions.map((entry) => producePartition(context, entry, acks, request.timeoutMs, principal)))
  stop()
  const results = settled.flat()
  if (acks !== 0 && results.every((result) => !result.error)) recycleReceivedBatches(request)
  return {requestId: request.requestId, results}
}

/** The answer to a produce request refused as a whole: one result carrying the error. */
function refusedWhole(request: ProduceRequest, failure: LignumError): ProduceResponse {
  const error = wireErrorOf(failure)
  return {requestId: request.requestId, results: [{topic: request.partitions[0]?.topic ?? '', partition: request.partitions[0]?.partition ?? -1, baseOffset: -1n, lastOffset: -1n, error}]}
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

async function producePartition(context: ServingContext, entry: ProducePartition, acks: BrokerAcks, timeoutMs: number, principal: string): Promise<ProducePartitionResult[]> {
  try {
    if (!entry.topic) throw new LignumError('INVALID_ARGUMENT', 'the produce request has no topic; set "topic"')
    requireProduce(context, principal, entry.topic)
    const records: RecordInput[] = entry.records.map((record) => ({
      key: record.key ?? null,
      value: record.value ?? null,
      headers: record.headers.map((header) => ({key: header.key, value: header.value ?? null})),
      timestamp: record.timestamp > 0n ? toSafeNumber(record.timestamp, 'timestamp') : undefined,
    }))
    const results = await context.broker.produce({topic: entry.topic, partition: entry.partition, batches: entry.recordBatch, records, acks, timeoutMs})
    return results.map((result) => resultToWire(context, result, entry.recordBatch.length))
  } catch (error) {
    return [failureToWire(context, entry.topic, entry.partition, error)]
  }
}

function resultToWire(context: ServingContext, result: ProduceResult, bytes: number): ProducePartitionResult {
  if (result.error) return failureToWire(context, result.topic, result.partition, result.error)
  context.metrics.produceRequests.inc({outcome: 'ok'})
  context.metrics.produceRecords.inc({topic: result.topic}, result.lastOffset - result.baseOffset + 1)
  if (bytes > 0) context.metrics.produceBytes.inc({topic: result.topic}, bytes)
  return {topic: result.topic, partition: result.partition, baseOffset: BigInt(result.baseOffset), lastOffset: BigInt(result.lastOffset), error: undefined}
}

function failureToWire(context: ServingContext, topic: string, partition: number, error: unknown): ProducePartitionResult {
  context.metrics.produceRequests.inc({outcome: 'error'})
  const failure = asLignumError(error)
  if (failure.code === 'INTERNAL') context.logger.error('produce failed', {error})
  return {topic, partition, baseOffset: -1n, lastOffset: -1n, error: wireErrorOf(failure)}
}

/**
 * The partition a read names. Only produce lets the broker choose (-1); a read names one, and a
 * negative number is a client's mistake, not a partition that happens to be missing.
 */
function readPartition(partition: number): number {
  if (partition < 0) throw new LignumError('INVALID_ARGUMENT', `partition ${partition} is not a partition number`, {hint: `name one from 0 (see: lignum topics describe)`})
  return partition
}

/** What a read names: Fetch and Subscribe alike. */
interface ReadRequest {
  topic: string
  partition: number
  offset: bigint
  maxBytes: number
  decode: boolean
  replica: ReadReplica
}

async function fetchOnce(context: ServingContext, request: ReadRequest, maxWaitMs: number, signal: AbortSignal): Promise<FetchResponse> {
  const {topic, partition, offset, maxBytes, decode} = request
  readPartition(partition)
  const from = toSafeNumber(offset, 'offset')
  const bytesLimit = Math.min(maxBytes || FETCH_BYTES_DEFAULT, FETCH_BYTES_MAX)
  const replica = request.replica === ReadReplica.READ_REPLICA_IN_SYNC ? inSyncReadAllowed(context, topic, partition) : 'leader'
  const result = await context.broker.fetch(topic, partition, from, {maxBytes: bytesLimit, maxWaitMs, signal, replica})
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

/**
 * KIP-392: a follower serves reads only while the catalog counts it in the ISR (the leader
 * checks nothing: it always may). Checked at every read, so a subscription on a follower that
 * leaves the ISR ends with NOT_LEADER and its client moves to the leader. Standalone there is
 * no catalog: the node leads all it holds.
 */
function inSyncReadAllowed(context: ServingContext, topic: string, partition: number): 'in-sync' {
  const cluster = context.clusterTopics
  if (!cluster) return 'in-sync'
  const roles = cluster.partitionRoles(topic, partition)
  if (roles?.leader === context.nodeId || roles?.isr.includes(context.nodeId)) return 'in-sync'
  throw new LignumError('NOT_LEADER', `this node holds no in-sync replica of ${topic}-${partition}${roles ? ` (ISR: ${roles.isr.join(', ')})` : ''}; read it from its leader or another in-sync replica`)
}

function decodeFrom(batches: Buffer, fromOffset: number): FetchedRecord[] {
  const records: FetchedRecord[] = []
  for (const {position, header} of batchPositions(batches)) {
    // Transaction markers hold offsets but no records; the raw batches still carry them.
    if (header.isControl) continue
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

async function subscribeLoop(context: ServingContext, call: ServerWritableStream<SubscribeRequest, FetchResponse>): Promise<void> {
  const {decode} = call.request
  let offset = call.request.offset
  const abort = abortOnCancel(call, context.shutdownSignal)
  // The next read starts before this response is sent, so the client never waits for the disk
  // after it has taken what was sent. Marked handled at once: the stream may end before it is awaited.
  const readFrom = (from: bigint) => {
    const read = fetchOnce(context, {...call.request, offset: from}, SUBSCRIBE_POLL_MS, abort.signal)
    read.catch(() => {})
    return read
  }
  // A reader that stops reading holds back the log reads, not the node's memory (response-queue.ts).
  const queue = new ResponseQueue(call, abort.signal)
  try {
    let next = readFrom(offset)
    while (!call.cancelled && !abort.signal.aborted) {
      const response = await next
      if (call.cancelled || abort.signal.aborted) break
      if (response.recordBatches.length === 0) {
        next = readFrom(offset)
        continue
      }
      offset = response.nextOffset
      await queue.roomFor(response.recordBatches.length)
      if (call.cancelled || abort.signal.aborted) break
      next = readFrom(offset)
      queue.send(response, response.recordBatches.length, decode ? undefined : recycleOnceWritten(response.recordBatches))
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

/** Aborts when the caller cancels or the node begins to shut down, whichever is first. */
export function abortOnCancel(call: {on(event: 'cancelled', listener: () => void): unknown; removeListener(event: 'cancelled', listener: () => void): unknown}, shutdownSignal: AbortSignal): {signal: AbortSignal; dispose: () => void} {
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
