/**
 * Pipelined produce over one ProduceStream: requests are written in order on a single gRPC
 * stream, so they reach the broker (and its partitions) in the order they were sent, while
 * several are in flight. (Separate unary calls could overtake one another.) Responses are
 * matched by request id. When the stream breaks, every unanswered request is rejected with the
 * stream's error: the node may have died and another taken over its partitions, so the
 * producer refreshes its metadata and routes each batch again (same bytes, same sequences),
 * instead of this channel waiting for the same node to come back. The next request opens a
 * new stream.
 *
 * A node that stops answering without closing the stream (frozen by SIGSTOP, or its host gone
 * so no TCP reset ever comes) is treated as broken once a request has waited its request
 * timeout: the stream is cancelled and its unanswered requests rejected with a retriable
 * TIMEOUT, as Kafka's client closes a connection whose request timed out. The producer then
 * resends them where refreshed metadata says, long before their delivery timeout.
 */
import {status as GrpcStatus, type ClientDuplexStream, type ServiceError} from '@grpc/grpc-js'
import {LignumError} from '../errors.js'
import {Acks, type ProduceRequest, type ProduceResponse} from '../generated/lignum/v1/lignum.js'
import {assert} from '../assert.js'
import type {Connection} from './connection.js'

interface Pending {
  request: ProduceRequest
  firstSentMs: number
  /** When this attempt was written to the stream: its request timeout runs from there. */
  sentMs: number
  resolve: (response: ProduceResponse) => void
  reject: (error: LignumError) => void
}

// How often unanswered requests are checked against their request and delivery deadlines, so a
// node that stops answering without closing the stream cannot hold a producer for ever. A
// request is abandoned at most this long after its timeout.
const DEADLINE_SWEEP_MS = 1000
// A live node answers an acks=all request it could not commit in time with REQUEST_TIMED_OUT
// once the wait it was given ends; the client waits this much longer before calling the node
// silent, so that answer (a round trip and a turn of the node's event loop) wins when it comes.
export const ANSWER_GRACE_MS = 1000

export interface ChannelTimeouts {
  deliveryTimeoutMs: number
  /** An unanswered request older than this (plus ANSWER_GRACE_MS) breaks the stream. */
  requestTimeoutMs: number
}

export class ProduceChannel {
  private stream: ClientDuplexStream<ProduceRequest, ProduceResponse> | undefined
  private readonly pending = new Map<bigint, Pending>()
  private nextRequestId = 1n
  private sweepTimer: NodeJS.Timeout | undefined
  /**
   * Since when the node has not been reachable (the stream keeps breaking), and why. A request
   * sent while that lasts shares its deadline: otherwise every queued batch would wait out a
   * full delivery timeout of its own, one after another.
   */
  private unreachable: {sinceMs: number; error: LignumError} | undefined

  private readonly deliveryTimeoutMs: number
  private readonly requestTimeoutMs: number

  constructor(
    private readonly connection: Connection,
    timeouts: ChannelTimeouts,
  ) {
    assert(timeouts.requestTimeoutMs > 0 && timeouts.deliveryTimeoutMs > 0, `request and delivery timeouts must be positive, not ${timeouts.requestTimeoutMs} and ${timeouts.deliveryTimeoutMs}`)
    this.deliveryTimeoutMs = timeouts.deliveryTimeoutMs
    this.requestTimeoutMs = timeouts.requestTimeoutMs
  }

  /** `firstSentMs`: when the batch was queued (before its first send, on this channel or another): its delivery timeout runs from there. */
  send(request: Omit<ProduceRequest, 'requestId'>, firstSentMs = Date.now()): Promise<ProduceResponse> {
    if (this.connection.closed) return Promise.reject(new LignumError('UNAVAILABLE', 'the client is closed; connect again to produce'))
    const requestId = this.nextRequestId++
    const full = {...request, requestId}
    if (request.acks === Acks.ACKS_NONE) {
      // Nothing will answer: hand it to the stream and report success at once.
      this.openStream().write(full)
      return Promise.resolve({requestId, results: []})
    }
    // An outage older than a delivery timeout is history, not a verdict: the node may be back.
    // This send is a fresh attempt (a new stream, a new connection if need be), and if it
    // breaks too a new outage starts from now, shared by the sends that follow.
    if (this.unreachable && Date.now() - this.unreachable.sinceMs >= this.deliveryTimeoutMs) this.unreachable = undefined
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, {request: full, firstSentMs, sentMs: Date.now(), resolve, reject})
      this.sweepTimer ??= setInterval(() => this.rejectOverdue(), DEADLINE_SWEEP_MS)
      this.openStream().write(full)
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
    stream.on('error', (error: ServiceError) => this.onBroken(stream, this.streamError(error)))
    stream.on('end', () => this.onBroken(stream, new LignumError('UNAVAILABLE', `the node at ${this.connection.address} closed the produce stream`)))
    return stream
  }

  /**
   * This channel never cancels a stream it still uses, so a CANCELLED one was dropped by the
   * node (shutting down, or its process gone): worth a retry elsewhere, not a failure.
   */
  private streamError(error: ServiceError): LignumError {
    if (error.code !== GrpcStatus.CANCELLED) return this.connection.toLignumError(error)
    return new LignumError('UNAVAILABLE', `the node at ${this.connection.address} dropped the produce stream (${error.details}); it may have stopped`, {cause: error})
  }

  private onBroken(stream: ClientDuplexStream<ProduceRequest, ProduceResponse>, error: LignumError): void {
    if (this.stream !== stream) return
    this.stream = undefined
    if (error.retriable) this.unreachable = {sinceMs: this.unreachable?.sinceMs ?? Date.now(), error}
    this.rejectAll(error)
  }

  private rejectOverdue(): void {
    const nowMs = Date.now()
    if (this.abandonSilentStream(nowMs)) return
    for (const [requestId, entry] of this.pending) {
      if (!this.isOverdue(entry, nowMs)) continue
      this.pending.delete(requestId)
      entry.reject(new LignumError('TIMEOUT', `the node at ${this.connection.address} did not acknowledge a batch within ${this.deliveryTimeoutMs} ms; check that it is running`))
    }
    this.stopSweepWhenIdle()
  }

  /**
   * A request unanswered past its request timeout: the node is frozen or gone. Every request on
   * the stream is rejected (they are pipelined behind it, and would wait as long), the stream
   * is cancelled, and the next send opens a new one.
   */
  private abandonSilentStream(nowMs: number): boolean {
    const stream = this.stream
    if (!stream) return false
    let oldestSentMs = Number.POSITIVE_INFINITY
    for (const entry of this.pending.values()) oldestSentMs = Math.min(oldestSentMs, entry.sentMs)
    if (nowMs - oldestSentMs < this.requestTimeoutMs + ANSWER_GRACE_MS) return false
    this.stream = undefined
    stream.cancel()
    const error = new LignumError('TIMEOUT', `the node at ${this.connection.address} did not answer a produce request within ${this.requestTimeoutMs} ms; sending it where the cluster's metadata says now`)
    this.unreachable = {sinceMs: this.unreachable?.sinceMs ?? oldestSentMs, error}
    this.rejectAll(error)
    return true
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

  /**
   * Ends the stream and waits (at most the delivery timeout) for the node to end its side, which
   * it does once it has handled every request written: acks=0 requests have no answer to wait
   * for, and closing the connection at once would drop those still in flight.
   */
  async close(): Promise<void> {
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
