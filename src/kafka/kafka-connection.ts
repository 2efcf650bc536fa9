/**
 * One client connection of the Kafka listener: cuts the byte stream into size-prefixed
 * requests, runs them, and writes the responses back in the order the requests came, as
 * Kafka's protocol requires (a client matches responses by order as well as correlation id).
 *
 *   Frame: size INT32 (the bytes that follow), then the request header and body
 *
 * Bounds, each checked before memory is spent: a frame's size is checked against
 * requestBytesMax from its 4-byte prefix, before its bytes are gathered; at most
 * inFlightRequestsMax requests run at once (reading pauses until one answers), so a client
 * that pipelines cannot make the node hold more than that many requests.
 *
 * A frame that breaks the grammar, an API or version the listener does not serve, or a
 * handler that fails unexpectedly closes this connection with one log line; the node and the
 * other connections are untouched.
 */
import type {Socket} from 'node:net'
import {assert} from '../assert.js'
import {recycleBuffer} from '../format/headroom.js'
import type {Logger} from '../logger.js'
import {API_VERSIONS_KEY, isApiVersionsBeyondServed, writeApiVersions, type ApiVersionRange} from './apis/api-versions.js'
import {isFlexible, type KafkaApi} from './kafka-api.js'
import {KafkaErrorCode} from './kafka-error-codes.js'
import {KafkaReader} from './protocol/kafka-reader.js'
import {MalformedRequest} from './protocol/malformed-request.js'
import {readRequestHeader, responseWriter, type RequestHeader} from './protocol/request-header.js'

const SIZE_PREFIX_BYTES = 4
// api_key, api_version, correlation_id and client_id's length: no request is shorter.
const REQUEST_HEADER_BYTES_MIN = 10

export interface ConnectionLimits {
  requestBytesMax: number
  inFlightRequestsMax: number
}

interface Response {
  chunks: Buffer[]
  /** Pooled buffers among the chunks, given back once the socket has taken them. */
  recyclable: readonly Buffer[]
}

interface PendingResponse {
  done: boolean
  response: Response | null
}

export class KafkaConnection<Context> {
  private readonly received: Buffer[] = []
  private receivedBytes = 0
  private readonly pending: PendingResponse[] = []
  private inFlight = 0
  private closed = false

  constructor(
    private readonly socket: Socket,
    private readonly apis: ReadonlyMap<number, KafkaApi<Context>>,
    private readonly served: readonly ApiVersionRange[],
    private readonly context: Context,
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
    private readonly principal: string,
  ) {
    socket.on('data', (data) => this.receive(data))
    socket.on('error', (error) => this.logger.debug(`kafka client ${this.peer()}: ${error.message}`))
    socket.on('close', () => {
      this.closed = true
    })
  }

  private receive(data: Buffer): void {
    this.received.push(data)
    this.receivedBytes += data.length
    this.cutFrames()
  }

  private cutFrames(): void {
    while (!this.closed && this.inFlight < this.limits.inFlightRequestsMax && this.receivedBytes >= SIZE_PREFIX_BYTES) {
      const sizeBytes = this.peekSize()
      if (sizeBytes < REQUEST_HEADER_BYTES_MIN || sizeBytes > this.limits.requestBytesMax) {
        this.close(`a request of ${sizeBytes} bytes is outside [${REQUEST_HEADER_BYTES_MIN}, ${this.limits.requestBytesMax}] (kafka.requestBytesMax)`)
        return
      }
      if (this.receivedBytes < SIZE_PREFIX_BYTES + sizeBytes) return
      const frame = this.takeBytes(SIZE_PREFIX_BYTES + sizeBytes).subarray(SIZE_PREFIX_BYTES)
      this.start(frame)
    }
    if (this.inFlight >= this.limits.inFlightRequestsMax) this.socket.pause()
  }

  private peekSize(): number {
    const head = this.received[0]!.length >= SIZE_PREFIX_BYTES ? this.received[0]! : Buffer.concat(this.received)
    return head.readInt32BE(0)
  }

  private takeBytes(length: number): Buffer {
    const whole = this.received.length === 1 ? this.received[0]! : Buffer.concat(this.received)
    this.received.length = 0
    const rest = whole.subarray(length)
    if (rest.length > 0) this.received.push(rest)
    this.receivedBytes = rest.length
    return whole.subarray(0, length)
  }

  private start(frame: Buffer): void {
    const slot: PendingResponse = {done: false, response: null}
    this.pending.push(slot)
    this.inFlight++
    this.run(frame).then(
      (response) => this.finish(slot, response),
      (error: unknown) => this.close(describeFailure(error)),
    )
  }

  private async run(frame: Buffer): Promise<Response | null> {
    const body = new KafkaReader(frame)
    const header = readRequestHeader(body)
    if (isApiVersionsBeyondServed(header.apiKey, header.apiVersion)) return this.unsupportedApiVersions(header)
    const api = this.apis.get(header.apiKey)
    if (api === undefined) throw new MalformedRequest(`API key ${header.apiKey} is not served by this listener (it was not offered in ApiVersions)`)
    if (header.apiVersion < api.minVersion || header.apiVersion > api.maxVersion) {
      throw new MalformedRequest(`${api.name} v${header.apiVersion} is not served; this listener serves v${api.minVersion}-v${api.maxVersion}`)
    }
    const flexible = isFlexible(api, header.apiVersion)
    if (flexible) body.skipTaggedFields()
    // ApiVersions answers with header v0 whatever its version, so old and new clients can read it.
    const response = responseWriter(header.correlationId, flexible && header.apiKey !== API_VERSIONS_KEY)
    const answered = await api.handle({header, flexible, body, context: this.context, principal: this.principal, clientHost: `/${this.socket.remoteAddress ?? 'unknown'}`}, response)
    return answered ? {chunks: response.chunks(), recyclable: response.recyclable()} : null
  }

  private unsupportedApiVersions(header: RequestHeader): Response {
    const response = responseWriter(header.correlationId, false)
    writeApiVersions(response, 0, KafkaErrorCode.UNSUPPORTED_VERSION, this.served)
    return {chunks: response.chunks(), recyclable: []}
  }

  private finish(slot: PendingResponse, response: Response | null): void {
    slot.done = true
    slot.response = response
    while (this.pending.length > 0 && this.pending[0]!.done) {
      const next = this.pending.shift()!
      this.inFlight--
      if (next.response !== null) this.write(next.response)
    }
    assert(this.inFlight >= 0, 'in-flight requests never go below zero')
    if (this.socket.isPaused() && this.inFlight < this.limits.inFlightRequestsMax) this.socket.resume()
    this.cutFrames()
  }

  private write({chunks, recyclable}: Response): void {
    if (this.closed) return
    const sizeBytes = chunks.reduce((total, chunk) => total + chunk.length, 0)
    const prefix = Buffer.allocUnsafe(SIZE_PREFIX_BYTES)
    prefix.writeInt32BE(sizeBytes, 0)
    this.socket.cork()
    this.socket.write(prefix)
    const last = chunks.length - 1
    // The last chunk's callback runs once the socket has taken all of them; after an error
    // the write may have stopped midway, so the buffers are left to the collector.
    chunks.forEach((chunk, index) => this.socket.write(chunk, index === last && recyclable.length > 0 ? (error) => recycleAll(error, recyclable) : undefined))
    this.socket.uncork()
  }

  private close(reason: string): void {
    if (this.closed) return
    this.closed = true
    this.logger.warn(`kafka client ${this.peer()}: closing the connection: ${reason}`)
    this.socket.destroy()
  }

  private peer(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`
  }
}

function recycleAll(error: Error | null | undefined, buffers: readonly Buffer[]): void {
  if (!error) for (const buffer of buffers) recycleBuffer(buffer)
}

function describeFailure(error: unknown): string {
  if (error instanceof MalformedRequest) return `malformed request: ${error.message}`
  return `a request failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`
}
