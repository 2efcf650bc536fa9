/**
 * A bounded queue between producers of items (fetch loops) and one async consumer. `push`
 * resolves once there is room, so a slow reader slows the fetch loops instead of letting
 * memory grow. `fail` and `close` end the iteration after the items already queued.
 */
export class AsyncQueue<T> {
  private readonly items: T[] = []
  private readonly roomWaiters: (() => void)[] = []
  private itemWaiter: (() => void) | undefined
  private closed = false
  private failure: unknown = undefined

  constructor(private readonly capacity: number) {}

  async push(item: T): Promise<void> {
    while (this.items.length >= this.capacity && !this.closed) await new Promise<void>((resolve) => this.roomWaiters.push(resolve))
    if (this.closed) return
    this.items.push(item)
    this.wakeReader()
  }

  fail(error: unknown): void {
    if (this.closed) return
    this.failure = error
    this.close()
  }

  close(): void {
    this.closed = true
    this.wakeReader()
    for (const wake of this.roomWaiters.splice(0)) wake()
  }

  /** Items ready now: 0 means the reader has caught up with what was pushed. */
  get size(): number {
    return this.items.length
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** The next item, or undefined once closed and empty; throws the failure given to fail(). */
  async shift(): Promise<T | undefined> {
    while (this.items.length === 0) {
      if (this.closed) {
        if (this.failure !== undefined) throw this.failure
        return undefined
      }
      await new Promise<void>((resolve) => (this.itemWaiter = resolve))
    }
    const item = this.items.shift() as T
    this.roomWaiters.shift()?.()
    return item
  }

  private wakeReader(): void {
    const wake = this.itemWaiter
    this.itemWaiter = undefined
    wake?.()
  }
}
