/**
 * The Replication gRPC service (node to node): a thin adapter from a follower's requests onto
 * this node's partitions (Broker.localPartition → Partition.fetchForReplica and
 * leaderEndOffsetForEpoch). What the partition answers (fenced, not leader, unknown epoch, out
 * of range, no such partition here) goes in the response's `error`, as the LeaderClient
 * contract says (replication/replication-interfaces.ts): the follower's fetcher decides on it,
 * and a gRPC status other than OK is left to mean the link or the request itself failed.
 *
 * ReplicaFetch is a unary long poll rather than a stream (Kafka's choice too): a follower has
 * one fetch in flight per partition. Behind the leader, it sends the next one (from the end of
 * the answer it got) while it appends that answer; the request then says what it has appended
 * (replica_log_end_offset), which is what the leader counts for the high watermark and the
 * ISR. Unary calls give each poll its own deadline, cancellation and answer, and HTTP/2
 * multiplexes the polls of all partitions a follower copies from one leader over one
 * connection (grpc-leader-client.ts).
 *
 * Both calls are node to node: with authorization on they need admin on the cluster (Kafka's
 * ClusterAction), which nodes have by being super users; a refusal is a gRPC status, not an
 * answer, as the request itself was refused.
 *
 * Batches go out as the log read them: the response is framed in the read's headroom
 * (replica-fetch-response-codec.ts), no copy.
 */
import type {sendUnaryData, ServerUnaryCall} from '@grpc/grpc-js'
import type {Partition} from '../broker/partition.js'
import {LignumError} from '../errors.js'
import {
  type OffsetsForLeaderEpochRequest,
  type OffsetsForLeaderEpochResponse,
  type ReplicaFetchRequest,
  type ReplicaFetchResponse,
  type ReplicationServer,
  ReplicationService,
} from '../generated/lignum/v1/lignum.js'
import {toSafeNumber} from './convert.js'
import {abortOnCancel} from './grpc-service.js'
import {asLignumError, toServiceError, wireErrorOf} from './grpc-errors.js'
import {callPrincipal, requireAllowed} from './authorization.js'
import {clusterResource} from '../acl/acl-rule.js'
import {encodeReplicaFetchResponse} from '../wire/replica-fetch-response-codec.js'
import type {ServingContext} from './serving-context.js'

// A follower's fetch answers with at most this much: Kafka's replica.fetch.response.max.bytes
// is 10 MiB; this is the client Fetch's cap, so one buffer pool serves both (format/headroom.ts).
const REPLICA_FETCH_BYTES_MAX = 16 * 1024 * 1024
// Asked for 0 bytes, a follower gets Kafka's replica.fetch.max.bytes.
const REPLICA_FETCH_BYTES_DEFAULT = 1024 * 1024
// Long polls are capped so a confused follower cannot pin a handler for ever (as client Fetch).
const REPLICA_FETCH_WAIT_MS_MAX = 30_000

export const replicationServiceDefinition = {
  ...ReplicationService,
  replicaFetch: {...ReplicationService.replicaFetch, responseSerialize: encodeReplicaFetchResponse},
}

export function createReplicationService(context: ServingContext): ReplicationServer {
  return {
    replicaFetch(call: ServerUnaryCall<ReplicaFetchRequest, ReplicaFetchResponse>, callback: sendUnaryData<ReplicaFetchResponse>) {
      try {
        requireAllowed(context.access, callPrincipal(call, context.principalMapping), 'admin', clusterResource())
      } catch (error) {
        callback(toServiceError(error, context.logger), null)
        return
      }
      const abort = abortOnCancel(call, context.shutdownSignal)
      replicaFetch(context, call.request, abort.signal)
        .then((response) => callback(null, response), (error) => callback(toServiceError(error, context.logger), null))
        .finally(() => abort.dispose())
    },

    offsetsForLeaderEpoch(call: ServerUnaryCall<OffsetsForLeaderEpochRequest, OffsetsForLeaderEpochResponse>, callback: sendUnaryData<OffsetsForLeaderEpochResponse>) {
      try {
        requireAllowed(context.access, callPrincipal(call, context.principalMapping), 'admin', clusterResource())
        callback(null, offsetsForLeaderEpoch(context, call.request))
      } catch (error) {
        callback(toServiceError(error, context.logger), null)
      }
    },
  }
}

async function replicaFetch(context: ServingContext, request: ReplicaFetchRequest, signal: AbortSignal): Promise<ReplicaFetchResponse> {
  let partition: Partition | undefined
  try {
    partition = partitionHere(context, request.topic, request.partition)
    const result = await partition.fetchForReplica(
      {
        replicaId: request.replicaId,
        fetchOffset: toSafeNumber(request.fetchOffset, 'fetch_offset'),
        leaderEpoch: request.leaderEpoch,
        maxBytes: Math.min(request.maxBytes || REPLICA_FETCH_BYTES_DEFAULT, REPLICA_FETCH_BYTES_MAX),
        maxWaitMs: Math.min(request.maxWaitMs, REPLICA_FETCH_WAIT_MS_MAX),
        replicaLogEndOffset: request.replicaLogEndOffset === undefined ? undefined : toSafeNumber(request.replicaLogEndOffset, 'replica_log_end_offset'),
        replicaIncarnation: request.replicaIncarnation || undefined,
      },
      signal,
    )
    return {recordBatches: result.batches, highWatermark: BigInt(result.highWatermark), logStartOffset: BigInt(result.logStartOffset), logEndOffset: BigInt(result.logEndOffset), error: undefined}
  } catch (error) {
    // The log start comes with every answer: a follower below it starts over there.
    const logStartOffset = partition ? BigInt(partition.logStartOffset) : -1n
    return {recordBatches: Buffer.alloc(0), highWatermark: -1n, logStartOffset, logEndOffset: -1n, error: errorToWire(context, error)}
  }
}

function offsetsForLeaderEpoch(context: ServingContext, request: OffsetsForLeaderEpochRequest): OffsetsForLeaderEpochResponse {
  try {
    const answer = partitionHere(context, request.topic, request.partition).leaderEndOffsetForEpoch(request.epoch, request.leaderEpoch)
    return {epoch: answer.epoch, endOffset: BigInt(answer.endOffset), error: undefined}
  } catch (error) {
    return {epoch: -1, endOffset: -1n, error: errorToWire(context, error)}
  }
}

/**
 * The partition as this node holds it. Missing is an answer, not a failed link: the topic may
 * not be created here yet, or the partition is damaged (offline until repaired); the follower
 * backs off and asks again.
 */
function partitionHere(context: ServingContext, topic: string, index: number): Partition {
  const partition = context.broker.localPartition(topic, index)
  if (!partition) throw new LignumError('NOT_FOUND', `node ${context.nodeId} holds no online partition ${topic}-${index} (not created here, or damaged); the follower retries`, {hint: 'see lignum cluster status'})
  return partition
}

function errorToWire(context: ServingContext, error: unknown): ReturnType<typeof wireErrorOf> {
  const failure = asLignumError(error)
  if (failure.code === 'INTERNAL') context.logger.error('replication request failed', {error})
  return wireErrorOf(failure)
}
