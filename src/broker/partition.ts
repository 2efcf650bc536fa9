/**
 * One partition as the broker serves it: its log, its high watermark and the fetches waiting
 * for new data. On a standalone node the high watermark is the end of what the log has
 * acknowledged; replication will move it only when the in-sync replicas have the data.
 * Invariant: highWatermark <= log.logEndOffset, and it never moves backwards while open.
 */
import type {AppendInfo, PartitionLog, ReadResult} from '../log/partition-log.js'
import {LignumError} from '../errors.js'

export interface FetchResult extends ReadResult {
  highWatermark: number
  logStartOffset: number
}

export class Partition {
  private highWatermarkOffset: number
  private readonly waiters = new Set<() => void>()

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly log: PartitionLog,
  ) {
    this.highWatermarkOffset = log.logEndOffset
  }

  get highWatermark(): number {
    return this.highWatermarkOffset
  }

  async append(batches: Buffer): Promise<AppendInfo> {
    const info = await this.log.append(batches)
    this.highWatermarkOffset = Math.max(this.highWatermarkOffset, info.lastOffset + 1)
    this.wakeWaiters()
    return info
  }

  /**
   * Whole batches from `offset` below the high watermark. At the high watermark it waits up to
   * `maxWaitMs` for an append (long poll), and answers empty if none comes.
   */
  async fetch(offset: number, maxBytes: number, maxWaitMs: number, signal?: AbortSignal): Promise<FetchResult> {
    this.checkFetchOffset(offset)
    if (offset === this.highWatermarkOffset && maxWaitMs > 0) await this.waitForAppend(maxWaitMs, signal)
    this.checkFetchOffset(offset)
    const result = await this.log.read(offset, {maxBytes, upToOffset: this.highWatermarkOffset})
    return {...result, highWatermark: this.highWatermarkOffset, logStartOffset: this.log.logStartOffset}
  }

  private checkFetchOffset(offset: number): void {
    const start = this.log.logStartOffset
    if (offset < start || offset > this.highWatermarkOffset) {
      throw new LignumError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${offset} is out of range for ${this.topic}-${this.partition}: it holds offsets ${start} to ${this.highWatermarkOffset - 1}; ask for one in that range or from "beginning"/"end"`,
      )
    }
  }

  /** Resolves on the next append, after `maxWaitMs`, or when `signal` aborts, whichever is first. */
  waitForAppend(maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, maxWaitMs)
      this.waiters.add(done)
      signal?.addEventListener('abort', done, {once: true})
    })
  }

  /** Wakes every waiting fetch, e.g. on append or when the partition closes. */
  wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake()
  }

  async close(): Promise<void> {
    this.wakeWaiters()
    await this.log.close()
  }
}
