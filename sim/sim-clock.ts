/**
 * Simulated time: one queue of events ordered by (time, source, per-source sequence). The
 * order never depends on the order real file I/O completes in: each source (a node's timers,
 * a link, the control plane) numbers its own events, and the sources are compared by name.
 * A node's clock tags its timers with the node's process life, so a crashed node's timers
 * never fire in its next life.
 *
 * Invariant: time only moves forward; an event runs at most once.
 */
import type {PartitionClock} from '../src/broker/partition.js'

export interface SimEvent {
  atMs: number
  source: string
  sequence: number
  what: string
  run: () => void
  cancelled: boolean
}

export class SimClock {
  private nowValue: number
  private readonly queue: SimEvent[] = []
  private readonly sequences = new Map<string, number>()

  constructor(startMs: number) {
    this.nowValue = startMs
  }

  nowMs(): number {
    return this.nowValue
  }

  get pending(): number {
    return this.queue.length
  }

  /** Queues `run` at now + delayMs under `source`; returns the event (cancel by setting `cancelled`). */
  at(delayMs: number, source: string, what: string, run: () => void): SimEvent {
    if (!(delayMs >= 0)) throw new Error(`negative delay ${delayMs} for ${what}`)
    const sequence = (this.sequences.get(source) ?? 0) + 1
    this.sequences.set(source, sequence)
    const event: SimEvent = {atMs: this.nowValue + delayMs, source, sequence, what, run, cancelled: false}
    this.insert(event)
    return event
  }

  /** The next live event, with time moved to it; null when none is queued. */
  takeNext(): SimEvent | null {
    while (this.queue.length > 0) {
      const event = this.queue.shift() as SimEvent
      if (event.cancelled) continue
      if (event.atMs < this.nowValue) throw new Error(`event ${event.what} at ${event.atMs} is before now ${this.nowValue}`)
      this.nowValue = event.atMs
      return event
    }
    return null
  }

  /** The time of the next live event, or null. */
  peekMs(): number | null {
    const next = this.queue.find((event) => !event.cancelled)
    return next ? next.atMs : null
  }

  private insert(event: SimEvent): void {
    let low = 0
    let high = this.queue.length
    while (low < high) {
      const middle = (low + high) >> 1
      if (compare(this.queue[middle], event) <= 0) low = middle + 1
      else high = middle
    }
    this.queue.splice(low, 0, event)
  }

  /** The clock a node's Partition and ReplicaManager see; its timers die with `alive()`. */
  nodeClock(source: string, alive: () => boolean): PartitionClock {
    return {
      nowMs: () => this.nowValue,
      schedule: (delayMs, task) => {
        // Whole milliseconds, as Node's timers fire (a paced wait may ask for a fraction).
        const event = this.at(Math.ceil(delayMs), source, 'timer', () => {
          if (alive()) task()
        })
        return () => {
          event.cancelled = true
        }
      },
    }
  }
}

function compare(a: SimEvent, b: SimEvent): number {
  if (a.atMs !== b.atMs) return a.atMs - b.atMs
  if (a.source !== b.source) return a.source < b.source ? -1 : 1
  return a.sequence - b.sequence
}

/**
 * Waits until every promise chain and every file operation started so far has finished: the
 * simulator runs one event to quiescence before the next, so I/O takes no simulated time.
 * The replicas' files are in memory (memory-file-system.ts), so an event's work is promise
 * chains only, all run by the time one immediate fires (the microtask queue drains first);
 * a turn that still finds real file I/O in flight (FSReq, or a FileHandle closing on the
 * thread pool) waits another.
 */
export async function quiescent(): Promise<void> {
  for (;;) {
    await new Promise((resolve) => setImmediate(resolve))
    if (!process.getActiveResourcesInfo().some((resource) => resource.startsWith('FSReq') || resource.endsWith('CloseReq'))) return
  }
}
