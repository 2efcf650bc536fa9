/**
 * What a server stream (Subscribe) has written but HTTP/2 has not yet taken, bounded in bytes.
 *
 * grpc-js's stream buffers up to 16 messages before write() says to wait; at the clients' 2 MiB
 * per response that let each slow reader (`consume | sleep`) pin 32 MiB of log reads in the
 * node. Here a response counts as queued from write() until grpc-js calls its write back (HTTP/2
 * took its bytes, or the stream failed), and the stream reads no more from the log while the
 * queue is full. So a reader that stops costs the node at most QUEUED_BYTES_MAX plus the one
 * read waiting behind it; a reader that keeps up never waits (the next read runs while the
 * previous response is being sent).
 */
import type {ServerWritableStream} from '@grpc/grpc-js'

/**
 * Two of the clients' 2 MiB responses: one being sent while the next is ready behind it. A
 * single response larger than this (a client may ask for up to 16 MiB) is still sent, alone.
 */
export const QUEUED_BYTES_MAX = 4 * 1024 * 1024

export class ResponseQueue<Response> {
  private queuedBytes = 0
  private wake: (() => void) | undefined

  constructor(
    private readonly call: ServerWritableStream<unknown, Response>,
    private readonly signal: AbortSignal,
  ) {
    signal.addEventListener('abort', () => this.wakeWaiter(), {once: true})
  }

  /** Resolves once `bytes` more fit (or nothing is queued), or the stream is cancelled or stopping. */
  async roomFor(bytes: number): Promise<void> {
    while (this.queuedBytes > 0 && this.queuedBytes + bytes > QUEUED_BYTES_MAX && !this.signal.aborted && !this.call.cancelled) {
      await new Promise<void>((resolve) => (this.wake = resolve))
    }
  }

  /** Writes `response` of `bytes`; `written` hears when HTTP/2 has taken it (no error) or the stream failed. */
  send(response: Response, bytes: number, written?: (error?: Error | null) => void): void {
    this.queuedBytes += bytes
    this.call.write(response, (error?: Error | null) => {
      this.queuedBytes -= bytes
      written?.(error)
      this.wakeWaiter()
    })
  }

  private wakeWaiter(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }
}
