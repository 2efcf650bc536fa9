/**
 * Pipelined produce over one ProduceStream: requests are written in order on a single gRPC
 * stream, so they reach the broker (and its partitions) in the order they were sent, while
 * several are in flight. (Separate unary calls could overtake one another.) Responses are
 * matched by request id. When the stream breaks with a retriable error, the unanswered
 * requests are written again, in their original order, on a new stream after a backoff,
 * until each one's delivery deadline.
 */
import type {ClientDuplexStream, ServiceError} from '@grpc/grpc-js'
import {LignumError} from '../errors.js'
import {Acks, type ProduceRequest, type ProduceResponse} from '../generated/lignum/v1/lignum.js'
import type {Connection} from './connection.js'

interface Pending {
  request: ProduceRequest
  firstSentMs: number
  resolve: (response: ProduceResponse) => void
  reject: (error: LignumError) => void
}

// Kafka's retry.backoff.ms.
const RECONNECT_BACKOFF_MS = 100
// How often unanswered requests are checked against their delivery deadline, so a node that
// stops answering without closing the stream cannot hold a producer for ever.
const DEADLINE_SWEEP_MS = 1000

export class ProduceChannel {
  private stream: ClientDuplexStream<ProduceRequest, ProduceResponse> | undefined
  private readonly pending = new Map<bigint, Pending>()
  private nextRequestId = 1n
  private reconnectTimer: NodeJS.Timeout | undefined
  private sweepTimer: NodeJS.Timeout | undefined
  /**
   * Since when the node has not been reachable (the stream keeps breaking), and why. A request
   * sent while that lasts shares its deadline: otherwise every queued batch would wait out a
   * full delivery timeout of its own, one after another.
   */
  private unreachable: {sinceMs: number; error: LignumError} | undefined

  constructor(
    private readonly connection: Connection,
    private readonly deliveryTimeoutMs: number,
  ) {}

  send(request: Omit<ProduceRequest, 'requestId'>): Promise<ProduceResponse> {
    if (this.connection.closed) return Promise.reject(new LignumError('UNAVAILABLE', 'the client is closed; connect again to produce'))
    const requestId = this.nextRequestId++
    const full = {...request, requestId}
    if (request.acks === Acks.ACKS_NONE) {
      // Nothing will answer: hand it to the stream and report success at once.
      this.openStream().write(full)
      return Promise.resolve({requestId, results: []})
    }
    if (this.unreachable && Date.now() - this.unreachable.sinceMs >= this.deliveryTimeoutMs) return Promise.reject(this.unreachable.error)
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, {request: full, firstSentMs: Date.now(), resolve, reject})
      this.sweepTimer ??= setInterval(() => this.rejectOverdue(), DEADLINE_SWEEP_MS)
      if (!this.reconnectTimer) this.openStream().write(full)
    })
  }

  private openStream(): ClientDuplexStream<ProduceRequest, ProduceResponse> {
    if (this.stream) return this.stream
    const stream = this.connection.grpc.produceStream()
    this.stream = stream
    stream.on('data', (response: ProduceResponse) => {
      const entry = this.pending.get(response.requestId)
      if (!entry) return
      this.pending.delete(response.requestId)
      this.unreachable = undefined
      entry.resolve(response)
      this.stopSweepWhenIdle()
    })
    stream.on('error', (error: ServiceError) => this.onBroken(stream, this.connection.toLignumError(error)))
    stream.on('end', () => this.onBroken(stream, new LignumError('UNAVAILABLE', `the node at ${this.connection.address} closed the produce stream`)))
    return stream
  }

  private onBroken(stream: ClientDuplexStream<ProduceRequest, ProduceResponse>, error: LignumError): void {
    if (this.stream !== stream) return
    this.stream = undefined
    const nowMs = Date.now()
    if (error.retriable) this.unreachable = {sinceMs: this.unreachable?.sinceMs ?? nowMs, error}
    for (const [requestId, entry] of this.pending) {
      if (!error.retriable || this.isOverdue(entry, nowMs)) {
        this.pending.delete(requestId)
        entry.reject(error)
      }
    }
    if (this.pending.size > 0) this.scheduleResend()
    else this.stopSweepWhenIdle()
  }

  private rejectOverdue(): void {
    const nowMs = Date.now()
    for (const [requestId, entry] of this.pending) {
      if (!this.isOverdue(entry, nowMs)) continue
      this.pending.delete(requestId)
      entry.reject(new LignumError('TIMEOUT', `the node at ${this.connection.address} did not acknowledge a batch within ${this.deliveryTimeoutMs} ms; check that it is running`))
    }
    this.stopSweepWhenIdle()
  }

  private isOverdue(entry: Pending, nowMs: number): boolean {
    const startMs = Math.min(entry.firstSentMs, this.unreachable?.sinceMs ?? Number.POSITIVE_INFINITY)
    return nowMs - startMs >= this.deliveryTimeoutMs
  }

  private stopSweepWhenIdle(): void {
    if (this.pending.size > 0 || !this.sweepTimer) return
    clearInterval(this.sweepTimer)
    this.sweepTimer = undefined
  }

  private rejectAll(error: LignumError): void {
    for (const entry of this.pending.values()) entry.reject(error)
    this.pending.clear()
    this.stopSweepWhenIdle()
  }

  private scheduleResend(): void {
    if (this.reconnectTimer) return
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      if (this.connection.closed) return this.rejectAll(new LignumError('UNAVAILABLE', 'the client was closed before the node answered'))
      const stream = this.openStream()
      const unanswered = [...this.pending].sort(([a], [b]) => (a < b ? -1 : 1))
      for (const [, entry] of unanswered) stream.write(entry.request)
    }, RECONNECT_BACKOFF_MS)
  }

  /**
   * Ends the stream and waits (at most the delivery timeout) for the node to end its side, which
   * it does once it has handled every request written: acks=0 requests have no answer to wait
   * for, and closing the connection at once would drop those still in flight.
   */
  async close(): Promise<void> {
    clearTimeout(this.reconnectTimer)
    clearInterval(this.sweepTimer)
    const stream = this.stream
    this.stream = undefined
    this.rejectAll(new LignumError('UNAVAILABLE', 'the producer closed before an answer came'))
    if (!stream) return
    let timer: NodeJS.Timeout | undefined
    const ended = new Promise<void>((resolve) => {
      for (const event of ['end', 'error', 'close']) stream.once(event, () => resolve())
      timer = setTimeout(resolve, this.deliveryTimeoutMs)
    })
    stream.end()
    await ended
    clearTimeout(timer)
  }
}
