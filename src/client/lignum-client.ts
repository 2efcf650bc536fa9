/**
 * The Lignum client as a Node program imports it (`import {LignumClient} from 'lignum'`):
 * topics, a batching producer and consumption as `for await`, in plain numbers, strings,
 * Buffers and objects. Invariants: nothing the gRPC layer defines (generated messages, bigint
 * offsets, channels) appears in its types, and the connection beneath (wire-client.ts, which
 * the CLI and the nodes use) is held in an ES private field, out of reach of callers.
 */
import {WireClient} from './wire-client.js'
import type {ConsumeOptions, ConsumedRecord} from './consumer.js'
import type {Producer as WireProducer, ProducerOptions} from './producer.js'
import type {ClientTlsOptions} from './tls-credentials.js'
import {topicConfigOf, topicInfoOf, type TopicInfo, type TopicReplication, type TopicSettings} from './topic-info.js'

export interface LignumClientOptions {
  /** host:port[,host:port] of Lignum nodes, or a list; the client bootstraps from the first it reaches. */
  brokers: string | string[]
  /** How long to keep trying to reach a node before giving up (default 5000). */
  connectTimeoutMs?: number
  /** TLS to the nodes (and mutual TLS with a certificate); plaintext when absent. */
  tls?: ClientTlsOptions
  /**
   * Spares a copy of every batch by replacing parts of grpc-js for the whole process
   * (wire/grpc-framing.ts): asked for, never done on import. Warns once, as a process warning,
   * where grpc-js's internals are not as expected, and then does nothing.
   */
  zeroCopy?: boolean
}

/**
 * The producer as the public client hands it out: sending, flow control and flushing. A type of
 * its own, not the class, so that its constructor (which takes the client's routes) is no part
 * of the public types.
 */
export type Producer = Pick<WireProducer, 'send' | 'prepare' | 'write' | 'needsDrain' | 'drain' | 'flush' | 'close' | 'stats'>

export interface GroupOffset {
  topic: string
  partition: number
  /** The next offset the group reads. */
  offset: number
}

export class LignumClient {
  readonly #wire: WireClient

  private constructor(wire: WireClient) {
    this.#wire = wire
  }

  static async connect(options: LignumClientOptions): Promise<LignumClient> {
    const {brokers, connectTimeoutMs, tls, zeroCopy} = options
    return new LignumClient(await WireClient.connect({brokers, connectTimeoutMs, tls, zeroCopy}))
  }

  /** The node the client bootstrapped from (host:port). */
  get address(): string {
    return this.#wire.address
  }

  /** Creates a topic; `replication` is for cluster mode (omitted, the cluster's defaults apply). */
  async createTopic(name: string, partitions: number, settings: TopicSettings = {}, replication: TopicReplication = {}): Promise<TopicInfo> {
    return topicInfoOf(await this.#wire.createTopic(name, partitions, topicConfigOf(settings), replication))
  }

  async deleteTopic(name: string): Promise<void> {
    await this.#wire.deleteTopic(name)
  }

  async listTopics(): Promise<TopicInfo[]> {
    return (await this.#wire.listTopics()).map(topicInfoOf)
  }

  async describeTopic(name: string): Promise<TopicInfo> {
    return topicInfoOf(await this.#wire.describeTopic(name))
  }

  /** A batching producer: `send()` resolves once the record is acknowledged; `close()` flushes. */
  producer(options: ProducerOptions = {}): Producer {
    return this.#wire.producer(options)
  }

  /**
   * The topic's records, for `for await`. The fetch runs at most a few responses ahead of the
   * loop (consumer.ts), so a slow loop slows the node's sending. Leaving the loop (`break`,
   * `return`, a throw, `signal`) ends the subscription and, with a `group`, commits the offset
   * after the last record the loop was given.
   */
  consume(options: ConsumeOptions): AsyncGenerator<ConsumedRecord, void, undefined> {
    return this.#wire.consume(options)
  }

  async commitOffsets(group: string, topic: string, offsets: {partition: number; offset: number}[]): Promise<void> {
    await this.#wire.commitOffsets(group, topic, offsets)
  }

  async fetchOffsets(group: string, topic?: string): Promise<GroupOffset[]> {
    return this.#wire.fetchOffsets(group, topic)
  }

  /** Closes the connection to every node. */
  close(): void {
    this.#wire.close()
  }
}
