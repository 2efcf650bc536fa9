/**
 * Follows one Consul endpoint with blocking queries: ask with the last index, Consul answers
 * when the data changes (or after the wait), repeat. Failures are retried with a capped
 * exponential backoff, forever, until stop(): a watch outlives any Consul outage.
 *
 * Index rules from Consul's documentation: an index that goes backwards (Consul rebuilt or
 * restored with other state, or tombstones reaped) resets the watch to 0, and an index of 0 is
 * never sent as a blocking one. The last index seen outlives a failed fetch, so a Consul that
 * came back rebuilt after an outage is still told from one that merely answered late: the
 * first answer after the index went backwards is handed over as a new history, in which the
 * indexes seen before mean nothing (a ModifyIndex may recur with another value).
 */

// How long Consul holds a blocking query open when nothing changes.
export const BLOCKING_WAIT_MS = 30_000
// Retry delays after a failure: start small so a blip heals fast, cap so an outage costs little.
const RETRY_DELAY_MIN_MS = 100
const RETRY_DELAY_MAX_MS = 2_000

export interface WatchHandlers<T> {
  /** `signal` aborts when the watch stops, so a stop never waits out a blocking query. */
  fetch(index: number, waitMs: number, signal: AbortSignal): Promise<{data: T; index: number}>
  /** `newHistory`: the index went backwards since the previous answer (see above). */
  onData(data: T, index: number, newHistory: boolean): void
  onError(error: unknown): void
}

export class BlockingWatch<T> {
  private running = false
  private wakeUp: (() => void) | undefined
  private loop: Promise<void> | undefined
  private stopped = new AbortController()

  constructor(private readonly handlers: WatchHandlers<T>) {}

  start(): void {
    if (this.running) return
    this.running = true
    this.stopped = new AbortController()
    this.loop = this.run()
  }

  async stop(): Promise<void> {
    this.running = false
    this.stopped.abort()
    this.wakeUp?.()
    await this.loop
  }

  private async run(): Promise<void> {
    let index = 0
    // Kept across failures, unlike `index`: what tells a rebuilt Consul from a slow one.
    let lastSeenIndex = 0
    let retryDelayMs = RETRY_DELAY_MIN_MS
    while (this.running) {
      try {
        const answer = await this.handlers.fetch(index, BLOCKING_WAIT_MS, this.stopped.signal)
        if (!this.running) return
        // An answer without an index (0) says nothing about the history it came from.
        const newHistory = answer.index > 0 && answer.index < lastSeenIndex
        if (answer.index > 0) lastSeenIndex = answer.index
        index = newHistory ? 0 : answer.index
        retryDelayMs = RETRY_DELAY_MIN_MS
        this.handlers.onData(answer.data, answer.index, newHistory)
      } catch (error) {
        if (!this.running) return
        this.handlers.onError(error)
        index = 0
        await this.pause(retryDelayMs)
        retryDelayMs = Math.min(retryDelayMs * 2, RETRY_DELAY_MAX_MS)
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wakeUp = done
    })
  }
}
