/** A clock tests move by hand: scheduled tasks run when `advance` passes their time, in time order. */
import type {PartitionClock} from '../../src/broker/partition.js'
import type {Logger, LogFields} from '../../src/logger.js'

export class ManualClock implements PartitionClock {
  private tasks: {atMs: number; task: () => void}[] = []

  constructor(private now = 1_700_000_000_000) {}

  nowMs(): number {
    return this.now
  }

  schedule(delayMs: number, task: () => void): () => void {
    const entry = {atMs: this.now + delayMs, task}
    this.tasks.push(entry)
    return () => {
      this.tasks = this.tasks.filter((candidate) => candidate !== entry)
    }
  }

  get pendingTasks(): number {
    return this.tasks.length
  }

  advance(ms: number): void {
    this.now += ms
    const due = this.tasks.filter((entry) => entry.atMs <= this.now).sort((a, b) => a.atMs - b.atMs)
    this.tasks = this.tasks.filter((entry) => entry.atMs > this.now)
    for (const entry of due) entry.task()
  }
}

/** A logger that keeps what it was told, so tests can assert on warnings. */
export function recordingLogger(): Logger & {lines: {level: string; message: string; fields?: LogFields}[]} {
  const lines: {level: string; message: string; fields?: LogFields}[] = []
  const logger = {
    lines,
    debug: (message: string, fields?: LogFields) => void lines.push({level: 'debug', message, fields}),
    info: (message: string, fields?: LogFields) => void lines.push({level: 'info', message, fields}),
    warn: (message: string, fields?: LogFields) => void lines.push({level: 'warn', message, fields}),
    error: (message: string, fields?: LogFields) => void lines.push({level: 'error', message, fields}),
    child: () => logger,
  }
  return logger
}

/** Lets pending promise callbacks run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
