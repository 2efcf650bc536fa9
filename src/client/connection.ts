/**
 * One gRPC channel to one node, with promise-returning calls that turn gRPC failures into
 * LignumErrors naming the node's address and what to check. Retrying belongs to the caller
 * (it reads `retriable`); this layer only makes each call once, with a deadline.
 */
import {credentials, makeGenericClientConstructor, type ChannelCredentials, status as GrpcStatus, type ServiceError, type CallOptions, type ClientUnaryCall, type ClientReadableStream, Metadata} from '@grpc/grpc-js'
import {ERROR_CODE_METADATA_KEY, ERROR_HINT_METADATA_KEY, LignumError, errorCodeOfGrpc} from '../errors.js'
import {LignumClient as GrpcLignumClient, LignumService} from '../generated/lignum/v1/lignum.js'
import {LIBRARY_CONNECT_HINTS, type ConnectHints} from './connect-hints.js'
import {decodeFetchResponse} from './fetch-response-codec.js'
import {encodeProduceRequest} from './produce-request-codec.js'

// Leaves room for the largest batch the server accepts plus request framing.
const GRPC_MESSAGE_BYTES_MAX = 128 * 1024 * 1024
// A unary call that hears nothing for this long is abandoned (long polls add their wait).
export const CALL_DEADLINE_MS = 30_000
// HTTP/2 lets a node send this much before the client acknowledges it. The default (64 KiB)
// makes a multi-MiB fetch response wait for a window update every 64 KiB, i.e. for the
// client's event loop; a window as large as the largest fetch (16 MiB) lets it arrive in one go.
const FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024
// While a call is open, the client pings the node this often and drops the connection when a
// ping goes unanswered for KEEPALIVE_TIMEOUT_MS: a node whose host vanished sends no TCP reset,
// and a frozen process answers no ping, so otherwise its calls would hang until their own
// deadlines. Its calls then fail UNAVAILABLE and are retried elsewhere. A ping is a few bytes,
// so every 10 s costs nothing; 5 s is ample for a live node's answer even on a loaded machine.
const KEEPALIVE_TIME_MS = 10_000
const KEEPALIVE_TIMEOUT_MS = 5_000
// grpc-js waits up to 120 s between reconnection attempts by default, so a node back from a
// long outage went unused for seconds after it listened again. Kafka's clients cap this at
// 1 s (reconnect.backoff.max.ms); the producer's own retry backoff already bounds the load.
const RECONNECT_BACKOFF_MS_INITIAL = 100
const RECONNECT_BACKOFF_MS_MAX = 1_000

export type StreamMethod<Request, Response> = (request: Request, metadata: Metadata, options?: Partial<CallOptions>) => ClientReadableStream<Response>

export type UnaryMethod<Request, Response> = (
  request: Request,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Response) => void,
) => ClientUnaryCall

export function parseBrokers(list: string, hints: ConnectHints = LIBRARY_CONNECT_HINTS): string[] {
  const addresses = list.split(',').map((entry) => entry.trim()).filter(Boolean)
  if (addresses.length === 0) throw new LignumError('INVALID_ARGUMENT', 'no broker address given', {hint: hints.noBrokers})
  for (const address of addresses) {
    const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(address)
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65_535) {
      throw new LignumError('INVALID_ARGUMENT', `"${address}" is not a broker address; use host:port, e.g. localhost:50051`)
    }
  }
  return addresses
}

/**
 * The generated client, with produce requests encoded and fetch responses decoded without
 * copying their record batches.
 */
const LignumGrpcClient = makeGenericClientConstructor(
  {
    ...LignumService,
    produce: {...LignumService.produce, requestSerialize: encodeProduceRequest},
    produceStream: {...LignumService.produceStream, requestSerialize: encodeProduceRequest},
    fetch: {...LignumService.fetch, responseDeserialize: decodeFetchResponse},
    subscribe: {...LignumService.subscribe, responseDeserialize: decodeFetchResponse},
  },
  'lignum.v1.Lignum',
) as unknown as typeof GrpcLignumClient

export class Connection {
  readonly grpc: GrpcLignumClient

  /**
   * `channelCredentials` says plaintext or TLS (tls-credentials.ts); connections to other nodes
   * reuse them, and the caller's `hints` for the errors they end in.
   */
  constructor(
    readonly address: string,
    readonly channelCredentials: ChannelCredentials = credentials.createInsecure(),
    readonly hints: ConnectHints = LIBRARY_CONNECT_HINTS,
  ) {
    this.grpc = new LignumGrpcClient(address, channelCredentials, {
      'grpc.max_receive_message_length': GRPC_MESSAGE_BYTES_MAX,
      'grpc.max_send_message_length': GRPC_MESSAGE_BYTES_MAX,
      'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      'grpc.initial_reconnect_backoff_ms': RECONNECT_BACKOFF_MS_INITIAL,
      'grpc.max_reconnect_backoff_ms': RECONNECT_BACKOFF_MS_MAX,
      'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
    })
  }

  call<Request, Response>(method: UnaryMethod<Request, Response>, request: Request, deadlineMs = CALL_DEADLINE_MS): Promise<Response> {
    return new Promise((resolve, reject) => {
      method.call(this.grpc, request, new Metadata(), {deadline: Date.now() + deadlineMs}, (error, response) => {
        if (error) reject(this.toLignumError(error))
        else resolve(response)
      })
    })
  }

  /**
   * A server stream's messages as an async iterable, with gRPC failures as LignumErrors. It ends
   * quietly when `signal` aborts, and ending the iteration cancels the call.
   */
  async *stream<Request, Response>(method: StreamMethod<Request, Response>, request: Request, signal?: AbortSignal): AsyncGenerator<Response> {
    const call = method.call(this.grpc, request, new Metadata(), {})
    const cancel = () => call.cancel()
    signal?.addEventListener('abort', cancel, {once: true})
    try {
      for await (const message of call) yield message as Response
    } catch (error) {
      if (signal?.aborted) return
      throw isServiceError(error) ? this.toLignumError(error) : error
    } finally {
      signal?.removeEventListener('abort', cancel)
      call.cancel()
    }
  }

  toLignumError(error: ServiceError): LignumError {
    // A Lignum node names its code in trailing metadata; without one the status came from the
    // transport (grpc-js on either side), not from a handler.
    const sentCode = sentErrorCode(error)
    if (error.code === GrpcStatus.UNAVAILABLE && sentCode === undefined && UNTRUSTED_SERVER_CERTIFICATE.test(error.details)) {
      return new LignumError('UNAUTHENTICATED', `the certificate of the node at ${this.address} is not trusted (${shortReason(error.details)})`, {cause: error, hint: this.hints.untrustedNode})
    }
    if (error.code === GrpcStatus.UNAVAILABLE && sentCode === undefined) {
      return new LignumError('UNAVAILABLE', `cannot reach a Lignum node at ${this.address} (${shortReason(error.details)})`, {cause: error, hint: this.hints.unreachable})
    }
    // A node's own REQUEST_TIMED_OUT travels with the same status: its code says which it is.
    if (error.code === GrpcStatus.DEADLINE_EXCEEDED && sentCode === undefined) {
      return new LignumError('TIMEOUT', `the node at ${this.address} did not answer in time; check its load and logs`, {cause: error})
    }
    if (error.code === GrpcStatus.RESOURCE_EXHAUSTED && sentCode === undefined) {
      return new LignumError('REQUEST_TOO_LARGE', `the node at ${this.address} refused a message as too large (${error.details}); send smaller batches`, {cause: error})
    }
    return new LignumError(errorCodeOfGrpc(error.code, sentCode), error.details, {cause: error, hint: sentHint(error)})
  }

  private closedByUser = false

  /** True once close() was called: no new call may start on this connection. */
  get closed(): boolean {
    return this.closedByUser
  }

  close(): void {
    this.closedByUser = true
    this.grpc.close()
  }
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === 'number' && typeof (error as Partial<ServiceError>).details === 'string'
}

function sentErrorCode(error: ServiceError): string | undefined {
  const [code] = error.metadata?.get(ERROR_CODE_METADATA_KEY) ?? []
  return typeof code === 'string' ? code : undefined
}

function sentHint(error: ServiceError): string | undefined {
  const [hint] = error.metadata?.get(ERROR_HINT_METADATA_KEY) ?? []
  return Buffer.isBuffer(hint) ? hint.toString('utf8') : undefined
}

// node:tls's words when the node's certificate fails verification, as grpc-js passes them on.
const UNTRUSTED_SERVER_CERTIFICATE = /self[- ]signed certificate|unable to verify the first certificate|unable to get (local )?issuer certificate|certificate has expired|certificate is not yet valid|Hostname\/IP does not match|ERR_TLS_CERT_ALTNAME_INVALID/i

function shortReason(details: string): string {
  const lastError = /Last error: (?:Error: )?(.*?)(?:\. Resolution note:.*)?$/.exec(details.split('\n')[0]!)
  if (lastError && UNTRUSTED_SERVER_CERTIFICATE.test(details)) return lastError[1]!
  if (/ECONNREFUSED/.test(details)) return 'connection refused'
  if (/ENOTFOUND|EAI_AGAIN/.test(details)) return 'unknown host'
  if (/ETIMEDOUT|timed out/i.test(details)) return 'connection timed out'
  return details.split('\n')[0]
}
