/**
 * Produce requests sent to one node only, bypassing the client's routing and retries: the
 * zombie-leader scenario asks the frozen leader itself, so that whatever answers comes from it
 * and from nothing else. The connection is opened (and a metadata call answered) before the
 * node freezes, so requests sent while it is frozen wait in its socket and are the first thing
 * it reads when thawed, before its timers or Consul's answers can tell it it was deposed.
 * Each probe is one record of a unique value with acks=1 (acks=all cannot be answered by a
 * deposed leader whatever its fencing, since its followers have left; acks=1 can), carrying a
 * leader epoch the node believes in (its own, or -1 for "unknown"), so only the lease fencing
 * can refuse it.
 */
import {Connection} from '../src/client/connection.js'
import {Acks} from '../src/generated/lignum/v1/lignum.js'
import type {ProducedRecord} from './checker.js'

// Longer than a freeze (2 × TTL + lock-delay and a margin) and the thawed node's first answers.
const PROBE_DEADLINE_MS = 60_000

export interface ProbeAnswer {
  record: ProducedRecord
  /** The error the node answered with, or undefined when it acknowledged the record. */
  error: string | undefined
}

export class DirectProducer {
  private constructor(private readonly connection: Connection) {}

  /** Connects to `address` and waits for one answer, so later requests need no handshake. */
  static async open(address: string): Promise<DirectProducer> {
    const connection = new Connection(address)
    await connection.call(connection.grpc.metadata, {topics: [], allowAutoTopicCreation: false})
    return new DirectProducer(connection)
  }

  /** Sends one acks=1 record of `value`; resolves with the node's answer (never rejects). */
  async send(topic: string, partition: number, value: string, leaderEpoch: number): Promise<ProbeAnswer> {
    const record: ProducedRecord = {value, partition, acks: 1, outcome: {kind: 'failed'}, sentAtMs: Date.now(), answeredAtMs: 0}
    let error: string | undefined
    try {
      const response = await this.connection.call(this.connection.grpc.produce, {
        partitions: [{topic, partition, records: [{value: Buffer.from(value), headers: [], timestamp: 0n}], recordBatch: Buffer.alloc(0), leaderEpoch}],
        acks: Acks.ACKS_LEADER, timeoutMs: 0, requestId: 0n,
      }, PROBE_DEADLINE_MS)
      const result = response.results[0]
      if (!result) error = 'an answer without a result'
      else if (result.error) error = `${result.error.code}: ${result.error.message}`
      else record.outcome = {kind: 'acknowledged', offset: Number(result.baseOffset)}
    } catch (failure) {
      error = failure instanceof Error ? failure.message : String(failure)
    }
    record.answeredAtMs = Date.now()
    return {record, error}
  }

  close(): void {
    this.connection.close()
  }
}
