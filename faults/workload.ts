/**
 * The steady load of a fault run: one acks=all producer (the client library, every node in its
 * broker list) sending numbered unique values at a fixed rate, recording for each when it was
 * handed over, when the answer came and the offset acknowledged (or that it failed); and one
 * consumer reading the partition from the beginning, recording every (offset, value) it saw.
 * A consumer whose stream fails (its leader gone past the client's retry deadline) resumes
 * after the last offset it saw, so a restart never rewinds it by itself.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {LignumClient} from '../src/client/index.js'
import type {ObservedRecord, ProducedRecord} from './checker.js'

// 200 records/s: enough that a gap in acknowledgements shows to a tenth of a second, little
// enough that two cores also run three nodes and Consul.
export const SEND_INTERVAL_MS = 25
export const RECORDS_PER_TICK = 5
// Beyond it the producer is not keeping up (a partition without a leader): stop handing more.
const OUTSTANDING_MAX = 2_000
// A write held this long is reported failed: longer than a node restart, shorter than a run.
export const DELIVERY_TIMEOUT_MS = 20_000
// Every send must be answered within its delivery timeout; waiting twice that for the last
// answers tells a client that lost a send from one that is slow, and keeps a run bounded.
export const ANSWERS_WAIT_MS = 2 * DELIVERY_TIMEOUT_MS
const CONSUMER_RETRY_PAUSE_MS = 500

/** What a run needs of its producer load, whichever client drives it (this file's, or Kafka's Java client: kafka-workload.ts). */
export interface ProducerWorkload {
  /** Every value handed to the client, with what it was told (answeredAtMs 0 while unanswered). */
  readonly records: ProducedRecord[]
  /** Sends the client never answered (neither acknowledged nor failed) by the time the load stopped. */
  readonly unanswered: ProducedRecord[]
  /** When the first acknowledgement of a record sent after `fromMs` came, if one has. */
  acknowledgedAfter(fromMs: number): number | undefined
  /** The longest stretch without an acknowledgement between `fromMs` and `toMs`, in seconds. */
  longestUnavailabilitySeconds(fromMs: number, toMs: number): number
  /** For the run's notes: how much of the load was acknowledged only after a retry. */
  retriesNote(): string
  /** Stops sending and waits for every answer, bounded. */
  stop(): Promise<void>
}

export class ProducerLoad implements ProducerWorkload {
  readonly records: ProducedRecord[] = []
  private outstanding = new Set<Promise<void>>()
  private running = true
  private loop: Promise<void> | undefined
  private producerStats: {batchesSent: number; batchesAcknowledgedAfterRetry: number} | undefined

  private constructor(
    private readonly client: LignumClient,
    private readonly topic: string,
    private readonly partition: number,
    private readonly runLabel: string,
  ) {}

  static async start(brokers: string, topic: string, partition: number, runLabel: string): Promise<ProducerLoad> {
    const client = await LignumClient.connect({brokers})
    const load = new ProducerLoad(client, topic, partition, runLabel)
    load.loop = load.drive()
    return load
  }

  private async drive(): Promise<void> {
    const producer = this.client.producer({acks: 'all', deliveryTimeoutMs: DELIVERY_TIMEOUT_MS})
    this.producerStats = producer.stats
    let sequence = 0
    while (this.running) {
      for (let index = 0; index < RECORDS_PER_TICK && this.outstanding.size < OUTSTANDING_MAX; index++) {
        const value = `${this.runLabel}-${sequence++}`
        const record: ProducedRecord = {value, partition: this.partition, acks: 'all', outcome: {kind: 'failed'}, sentAtMs: Date.now(), answeredAtMs: 0}
        this.records.push(record)
        const answered = producer.send(this.topic, {value, partition: this.partition}).then(
          (metadata) => {
            record.outcome = {kind: 'acknowledged', offset: metadata.offset}
          },
          () => {
            record.outcome = {kind: 'failed'}
          },
        ).finally(() => {
          record.answeredAtMs = Date.now()
          this.outstanding.delete(answered)
        })
        this.outstanding.add(answered)
      }
      await sleep(SEND_INTERVAL_MS)
    }
    await Promise.race([Promise.all(this.outstanding), sleep(ANSWERS_WAIT_MS)])
    await Promise.race([producer.close().catch(() => undefined), sleep(ANSWERS_WAIT_MS)])
  }

  /** Sends the client never answered (neither acknowledged nor failed) by the time the load stopped. */
  get unanswered(): ProducedRecord[] {
    return this.records.filter((record) => record.answeredAtMs === 0)
  }

  /** Batches acknowledged, and of those the ones acknowledged only after a retry (the same producer id and sequence resent). */
  get batches(): {acknowledged: number; afterRetry: number} {
    return {acknowledged: this.producerStats?.batchesSent ?? 0, afterRetry: this.producerStats?.batchesAcknowledgedAfterRetry ?? 0}
  }

  /** Stops sending and waits for every answer (each bounded by the delivery timeout, the wait by ANSWERS_WAIT_MS). */
  async stop(): Promise<void> {
    this.running = false
    await this.loop
    this.client.close()
  }

  acknowledgedAfter(fromMs: number): number | undefined {
    return firstAcknowledgedAfter(this.records, fromMs)
  }

  longestUnavailabilitySeconds(fromMs: number, toMs: number): number {
    return longestGapSeconds(this.records, fromMs, toMs)
  }

  retriesNote(): string {
    return `producer: ${this.batches.acknowledged} batches acknowledged, ${this.batches.afterRetry} of them after a retry`
  }
}

/**
 * When the first acknowledgement of a record sent after `fromMs` came, if one has: only a
 * node that took the writes over after a fault at `fromMs` can have answered it (an answer
 * to an earlier send may have been on its way from the failed node).
 */
export function firstAcknowledgedAfter(records: ProducedRecord[], fromMs: number): number | undefined {
  let first: number | undefined
  for (const record of records) {
    if (record.outcome.kind !== 'acknowledged' || record.sentAtMs < fromMs || record.answeredAtMs === 0) continue
    if (first === undefined || record.answeredAtMs < first) first = record.answeredAtMs
  }
  return first
}

/** The longest stretch without an acknowledgement between `fromMs` and `toMs`, in seconds. */
export function longestGapSeconds(records: ProducedRecord[], fromMs: number, toMs: number): number {
  const acks = records.filter((record) => record.outcome.kind === 'acknowledged').map((record) => record.answeredAtMs).filter((at) => at >= fromMs && at <= toMs).sort((a, b) => a - b)
  let longest = 0
  let previous = fromMs
  for (const at of [...acks, toMs]) {
    longest = Math.max(longest, at - previous)
    previous = at
  }
  return longest / 1000
}

export class ConsumerLoad {
  readonly records: ObservedRecord[] = []
  private readonly abort = new AbortController()
  private loop: Promise<void> | undefined

  private constructor(
    private readonly brokers: string,
    private readonly topic: string,
    private readonly partition: number,
  ) {}

  static start(brokers: string, topic: string, partition: number): ConsumerLoad {
    const load = new ConsumerLoad(brokers, topic, partition)
    load.loop = load.drive()
    return load
  }

  /** The next offset it would read. */
  get position(): number {
    return (this.records.at(-1)?.offset ?? -1) + 1
  }

  private async drive(): Promise<void> {
    while (!this.abort.signal.aborted) {
      let client: LignumClient | undefined
      try {
        client = await LignumClient.connect({brokers: this.brokers})
        for await (const record of client.consume({topic: this.topic, partitions: [this.partition], from: this.position, signal: this.abort.signal})) {
          this.records.push({partition: record.partition, offset: record.offset, value: record.value?.toString('utf8') ?? ''})
        }
      } catch {
        // The stream failed (no leader for a while): resume from where it was.
      } finally {
        client?.close()
      }
      if (!this.abort.signal.aborted) await sleep(CONSUMER_RETRY_PAUSE_MS)
    }
  }

  /** Waits (up to `timeoutMs`) until it has read up to `offset`, then stops. */
  async stopAt(offset: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.position < offset && Date.now() < deadline) await sleep(100)
    this.abort.abort()
    await this.loop
  }
}
