/**
 * LeaderClient over gRPC: a follower node's link to one leader node's Replication service
 * (server/replication-service.ts), one channel per leader node shared by every partition the
 * follower copies from it (HTTP/2 multiplexes their long polls), until close().
 *
 * Contract (replication-interfaces.ts): what the leader answers comes back in `error`, rebuilt
 * as the same LignumError; a rejected promise means the link failed (unreachable, reset,
 * deadline passed, cancelled) and the fetcher backs off. A fetch's deadline is its long poll
 * plus FETCH_DEADLINE_MARGIN_MS, so a leader that went silent is noticed within one poll.
 *
 * Record batches arrive as a view into the received message (no copy after gRPC gathered it).
 */
import {credentials, makeGenericClientConstructor, type ChannelCredentials, Metadata, status as GrpcStatus, type ServiceError} from '@grpc/grpc-js'
import {ERROR_CODE_METADATA_KEY, errorCodeOfGrpc, isErrorCode, LignumError} from '../errors.js'
import {type Error as WireError, ReplicationClient, type ReplicaFetchResponse, ReplicationService} from '../generated/lignum/v1/lignum.js'
import {decodeReplicaFetchResponse} from '../wire/replica-fetch-response-codec.js'
import type {EpochEndOffsetAnswer, LeaderClient, ReplicaFetchAnswer, ReplicaFetchParams} from './replication-interfaces.js'

// Beyond its long poll, a fetch gets this long for the leader's disk read and the transfer of
// up to 16 MiB before the link counts as broken.
const FETCH_DEADLINE_MARGIN_MS = 10_000
// OffsetsForLeaderEpoch reads an in-memory table on the leader: this long means the link is gone.
const OFFSETS_FOR_EPOCH_DEADLINE_MS = 10_000
// The leader answers at most 16 MiB of batches (server/replication-service.ts) plus a few fields.
const RECEIVE_MESSAGE_BYTES_MAX = 17 * 1024 * 1024
// As the client's connection: a whole fetch answer may arrive without waiting for window updates.
const FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024
// A connection idle between polls (there are none while following) is probed this often.
const KEEPALIVE_MS = 30_000
// grpc-js waits up to 120 s between reconnection attempts by default: a follower would idle
// that long behind a leader back from an outage. The fetcher's own backoff bounds the load.
const RECONNECT_BACKOFF_MS_INITIAL = 100
const RECONNECT_BACKOFF_MS_MAX = 1_000

const ReplicationGrpcClient = makeGenericClientConstructor(
  {...ReplicationService, replicaFetch: {...ReplicationService.replicaFetch, responseDeserialize: decodeReplicaFetchResponse}},
  'lignum.v1.Replication',
) as unknown as typeof ReplicationClient

export class GrpcLeaderClient implements LeaderClient {
  private readonly grpc: ReplicationClient

  /** `channelCredentials`: TLS with the follower node's own certificate when the cluster uses TLS. */
  constructor(
    readonly address: string,
    channelCredentials: ChannelCredentials = credentials.createInsecure(),
  ) {
    this.grpc = new ReplicationGrpcClient(address, channelCredentials, {
      'grpc.max_receive_message_length': RECEIVE_MESSAGE_BYTES_MAX,
      'grpc.keepalive_time_ms': KEEPALIVE_MS,
      'grpc.initial_reconnect_backoff_ms': RECONNECT_BACKOFF_MS_INITIAL,
      'grpc.max_reconnect_backoff_ms': RECONNECT_BACKOFF_MS_MAX,
      'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
    })
  }

  offsetsForLeaderEpoch(topic: string, partition: number, epoch: number, leaderEpoch: number): Promise<EpochEndOffsetAnswer> {
    return new Promise((resolve, reject) => {
      this.grpc.offsetsForLeaderEpoch({topic, partition, epoch, leaderEpoch}, new Metadata(), {deadline: Date.now() + OFFSETS_FOR_EPOCH_DEADLINE_MS}, (error, response) => {
        if (error) reject(this.linkError(error))
        else resolve({epoch: response.epoch, endOffset: Number(response.endOffset), error: errorFromWire(response.error)})
      })
    })
  }

  fetch(params: ReplicaFetchParams, signal?: AbortSignal): Promise<ReplicaFetchAnswer> {
    if (signal?.aborted) return Promise.reject(new LignumError('UNAVAILABLE', `the fetch from ${this.address} was cancelled before it started`))
    return new Promise((resolve, reject) => {
      const request = {
        topic: params.topic,
        partition: params.partition,
        fetchOffset: BigInt(params.fetchOffset),
        leaderEpoch: params.leaderEpoch,
        replicaId: params.replicaId,
        maxBytes: params.maxBytes,
        maxWaitMs: params.maxWaitMs,
        replicaLogEndOffset: params.logEndOffset === undefined ? undefined : BigInt(params.logEndOffset),
        replicaIncarnation: params.incarnation,
      }
      const call = this.grpc.replicaFetch(request, new Metadata(), {deadline: Date.now() + params.maxWaitMs + FETCH_DEADLINE_MARGIN_MS}, (error, response) => {
        signal?.removeEventListener('abort', cancel)
        if (error) reject(this.linkError(error))
        else resolve(answerOf(response))
      })
      const cancel = () => call.cancel()
      signal?.addEventListener('abort', cancel, {once: true})
    })
  }

  close(): void {
    this.grpc.close()
  }

  /** A failed call as a LignumError for the fetcher's log: the link, not the leader, answered it. */
  private linkError(error: ServiceError): LignumError {
    const [sent] = error.metadata?.get(ERROR_CODE_METADATA_KEY) ?? []
    if (error.code === GrpcStatus.DEADLINE_EXCEEDED) return new LignumError('TIMEOUT', `the leader at ${this.address} did not answer a replication request in time; check its load and logs`, {cause: error})
    if (error.code === GrpcStatus.CANCELLED) return new LignumError('UNAVAILABLE', `the replication request to ${this.address} was cancelled`, {cause: error})
    if (error.code === GrpcStatus.UNAVAILABLE && sent === undefined) return new LignumError('UNAVAILABLE', `cannot reach the leader at ${this.address} (${error.details}); check that its node runs`, {cause: error})
    return new LignumError(errorCodeOfGrpc(error.code, typeof sent === 'string' ? sent : undefined), `the leader at ${this.address} refused a replication request: ${error.details}`, {cause: error})
  }
}

/** One GrpcLeaderClient per leader address, made on first use and kept until closeAll(). */
export class GrpcLeaderClients {
  private readonly clients = new Map<string, GrpcLeaderClient>()

  constructor(private readonly channelCredentials?: ChannelCredentials) {}

  clientFor(address: string): GrpcLeaderClient {
    let client = this.clients.get(address)
    if (!client) this.clients.set(address, (client = new GrpcLeaderClient(address, this.channelCredentials)))
    return client
  }

  /** Closes the channel to a leader no partition follows any more. */
  close(address: string): void {
    this.clients.get(address)?.close()
    this.clients.delete(address)
  }

  closeAll(): void {
    for (const client of this.clients.values()) client.close()
    this.clients.clear()
  }
}

function answerOf(response: ReplicaFetchResponse): ReplicaFetchAnswer {
  const error = errorFromWire(response.error)
  // A leader that does not send its log end (an older build) answers 0: unknown, so never "behind".
  const logEndOffset = error || response.logEndOffset === 0n ? -1 : Number(response.logEndOffset)
  return {batches: response.recordBatches, highWatermark: Number(response.highWatermark), logStartOffset: Number(response.logStartOffset), logEndOffset, error}
}

/** The leader's answer as the LignumError it was; a code this build does not know is kept in the message. */
function errorFromWire(error: WireError | undefined): LignumError | undefined {
  if (!error || !error.code) return undefined
  if (isErrorCode(error.code)) return new LignumError(error.code, error.message)
  return new LignumError(error.retriable ? 'UNAVAILABLE' : 'INTERNAL', `the leader answered ${error.code}: ${error.message}`)
}
