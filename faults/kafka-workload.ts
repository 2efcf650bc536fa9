/**
 * The fault suite's steady load through Kafka's own Java client, for runs on the Kafka path
 * (`runScenario(…, {client: 'kafka'})`): IdempotentProducerLoad.java, a KafkaProducer with
 * enable.idempotence=true and acks=all, run on Kafka's classpath against the nodes' Kafka
 * listeners at the rate of the suite's own load (workload.ts), each value it prints recorded
 * as the checker wants it: when it was handed over, when the callback came, the offset
 * acknowledged or the error.
 *
 * Invariant: a value's answer is only recorded for a value already recorded as sent (the
 * program prints "sent" before send()); an answer for anything else, or a second answer for
 * one value, is the client misbehaving and fails the load loudly rather than being dropped.
 */
import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import {fileURLToPath} from 'node:url'
import type {ProducedRecord} from './checker.js'
import {ANSWERS_WAIT_MS, DELIVERY_TIMEOUT_MS, RECORDS_PER_TICK, SEND_INTERVAL_MS, firstAcknowledgedAfter, longestGapSeconds, type ProducerWorkload} from './workload.js'

const PROGRAM = path.join(path.dirname(fileURLToPath(import.meta.url)), 'IdempotentProducerLoad.java')
// The JVM compiles the single-file program and fetches metadata: seconds, more on a loaded machine.
const READY_TIMEOUT_MS = 60_000
// A request to a node that died without closing its socket is abandoned this soon and retried
// elsewhere; Kafka requires delivery.timeout.ms >= linger.ms + request.timeout.ms.
const REQUEST_TIMEOUT_MS = 10_000
// The last lines of the JVM's stderr kept for a failure message.
const STDERR_LINES_KEPT = 40

export interface KafkaClasspath {
  /** Kafka's lib directory (test/helpers/kafka-tools.ts finds it). */
  libDir: string
}

interface ProducerStats {
  recordRetries: number
  recordErrors: number
}

type ProgramLine =
  | {ready: true}
  | {sent: string; atMs: number}
  | {acked: string; partition: number; offset: number; atMs: number}
  | {failed: string; atMs: number; error: string}
  | {stats: ProducerStats}

export class KafkaProducerLoad implements ProducerWorkload {
  readonly records: ProducedRecord[] = []
  /** Errors the callbacks reported, distinct, for the run's notes. */
  readonly errors = new Set<string>()
  private readonly byValue = new Map<string, ProducedRecord>()
  private readonly stderrTail: string[] = []
  private readonly exited: Promise<number | null>
  private stats: ProducerStats | undefined
  private misbehaviour: string | undefined

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly partition: number,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    readline.createInterface({input: child.stderr}).on('line', (line) => {
      this.stderrTail.push(line)
      if (this.stderrTail.length > STDERR_LINES_KEPT) this.stderrTail.shift()
    })
  }

  /** Starts the program against `bootstrap` (the nodes' Kafka listeners) and resolves once it sends. */
  static async start(kafka: KafkaClasspath, bootstrap: string, topic: string, partition: number, runLabel: string): Promise<KafkaProducerLoad> {
    const args = [bootstrap, topic, partition, runLabel, SEND_INTERVAL_MS, RECORDS_PER_TICK, DELIVERY_TIMEOUT_MS, REQUEST_TIMEOUT_MS].map(String)
    const child = spawn('java', ['-cp', path.join(kafka.libDir, '*'), PROGRAM, ...args], {stdio: ['pipe', 'pipe', 'pipe']})
    const load = new KafkaProducerLoad(child, partition)
    const ready = new Promise<void>((resolve, reject) => {
      readline.createInterface({input: child.stdout}).on('line', (line) => {
        if (load.take(line)) resolve()
      })
      child.once('error', reject)
      void load.exited.then((code) => reject(new Error(`Kafka's producer exited with ${code} before sending: ${load.stderrTail.join('\n')}`)))
    })
    try {
      if ((await within(ready, READY_TIMEOUT_MS)) === TIMED_OUT) throw new Error(`Kafka's producer was not sending within ${READY_TIMEOUT_MS} ms: ${load.stderrTail.join('\n')}`)
    } catch (error) {
      child.kill('SIGKILL')
      throw error
    }
    return load
  }

  /** Records one line of the program's output; true for its "ready" line. */
  private take(text: string): boolean {
    let line: ProgramLine
    try {
      line = JSON.parse(text) as ProgramLine
    } catch {
      this.misbehaved(`a line that is not JSON: ${text}`)
      return false
    }
    if ('ready' in line) return true
    if ('stats' in line) this.stats = line.stats
    else if ('sent' in line) this.sent(line.sent, line.atMs)
    else if ('acked' in line) this.answered(line.acked, line.atMs, {kind: 'acknowledged', offset: line.offset}, line.partition)
    else if ('failed' in line) {
      this.errors.add(line.error)
      this.answered(line.failed, line.atMs, {kind: 'failed'}, this.partition)
    }
    return false
  }

  private sent(value: string, atMs: number): void {
    if (this.byValue.has(value)) return this.misbehaved(`${value} sent twice`)
    const record: ProducedRecord = {value, partition: this.partition, acks: 'all', outcome: {kind: 'failed'}, sentAtMs: atMs, answeredAtMs: 0}
    this.records.push(record)
    this.byValue.set(value, record)
  }

  private answered(value: string, atMs: number, outcome: ProducedRecord['outcome'], partition: number): void {
    const record = this.byValue.get(value)
    if (!record) return this.misbehaved(`an answer for ${value}, which was never sent`)
    if (record.answeredAtMs !== 0) return this.misbehaved(`a second answer for ${value}`)
    if (partition !== this.partition) return this.misbehaved(`${value} acknowledged on partition ${partition}, sent to ${this.partition}`)
    record.outcome = outcome
    record.answeredAtMs = atMs
  }

  private misbehaved(what: string): void {
    this.misbehaviour ??= what
  }

  get unanswered(): ProducedRecord[] {
    return this.records.filter((record) => record.answeredAtMs === 0)
  }

  acknowledgedAfter(fromMs: number): number | undefined {
    return firstAcknowledgedAfter(this.records, fromMs)
  }

  longestUnavailabilitySeconds(fromMs: number, toMs: number): number {
    return longestGapSeconds(this.records, fromMs, toMs)
  }

  retriesNote(): string {
    const errors = this.errors.size === 0 ? '' : `; errors: ${[...this.errors].slice(0, 3).join(' | ')}`
    return `Kafka producer: ${this.stats?.recordRetries ?? '?'} records retried, ${this.stats?.recordErrors ?? '?'} failed (its record-retry-total, record-error-total)${errors}`
  }

  /** Closes its stdin (it flushes and closes the producer), waits up to ANSWERS_WAIT_MS, then kills it. */
  async stop(): Promise<void> {
    this.child.stdin.end()
    const code = await within(this.exited, ANSWERS_WAIT_MS)
    if (code === TIMED_OUT) {
      this.child.kill('SIGKILL')
      await this.exited
    }
    if (this.misbehaviour) throw new Error(`Kafka's producer printed ${this.misbehaviour}`)
    if (code !== 0 && code !== TIMED_OUT) throw new Error(`Kafka's producer exited with ${code}: ${this.stderrTail.join('\n')}`)
  }
}

const TIMED_OUT = Symbol('timed out')

/** `promise`'s value, or TIMED_OUT after `ms`; the timer is cleared either way, so it holds no process open. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)))
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
