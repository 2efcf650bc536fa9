/**
 * The client in the wire's own terms (generated messages, bigint offsets): the layer beneath
 * the public LignumClient (lignum-client.ts), which the CLI and the nodes use directly. It
 * bootstraps from the first reachable node of `brokers`, then offers topic
 * administration, a batching producer and consumption as an async iterable. Administration and
 * group offsets go to the node it bootstrapped from; each partition's produce, fetch and
 * list-offsets go to its leader (cluster-routes.ts), or with `replica: 'any'` reads to the
 * bootstrap node when it holds an in-sync replica. Standalone nodes lead every partition they
 * hold, so there all traffic stays on the bootstrap connection.
 */
import type {ChannelCredentials} from '@grpc/grpc-js'
import {LignumError} from '../errors.js'
import type {AclRule, ChangeAclResponse, ClusterStatusResponse, ListAclsResponse, TopicConfig, TopicDescription} from '../generated/lignum/v1/lignum.js'
import {ClusterRoutes} from './cluster-routes.js'
import {LIBRARY_CONNECT_HINTS, type ConnectHints} from './connect-hints.js'
import {Connection, parseBrokers} from './connection.js'
import {consumeGroupChunks, type GroupConsumeOptions} from './group-consumer.js'
import {consumeChunks, recordsOfChunks, type ConsumeOptions, type ConsumedRecord, type RecordChunk} from './consumer.js'
import {Producer, type ProducerOptions} from './producer.js'
import {groupDescriptionOf, groupOffsetChangeOf, groupSummaryOf, type GroupDescription, type GroupOffsetChange, type GroupSummary} from './groups.js'
import {retryRouted, withRetry} from './retry.js'
import {channelCredentialsOf, readClientTls, type ClientTlsOptions} from './tls-credentials.js'
import {probeProtocol, isProtocolMismatch} from './protocol-probe.js'
import {diagnoseTls} from './tls-diagnosis.js'
import {installGrpcFraming, type FramingWarnings} from '../wire/grpc-framing.js'

export interface ConnectOptions {
  /** host:port[,host:port], or a list. */
  brokers: string | string[]
  /** How long to keep trying to reach a node before giving up. */
  connectTimeoutMs?: number
  /**
   * Frame requests in place and gather large responses into pooled buffers, sparing a copy of
   * every batch (wire/grpc-framing.ts). It replaces parts of grpc-js for the whole process, so
   * it is asked for, never done on import; where grpc-js's internals are not as expected it
   * does nothing and warns once (through `logger`, else as a process warning).
   */
  zeroCopy?: boolean
  logger?: FramingWarnings
  /** TLS to the nodes (and mutual TLS with a certificate); plaintext when absent. */
  tls?: ClientTlsOptions
  /**
   * Ready-made gRPC credentials instead of `tls`: a node reaching another passes its own,
   * which follow its certificate files as they rotate.
   */
  channelCredentials?: ChannelCredentials
  /** How the errors of reaching a node say to fix them, in the caller's words (the CLI's flags). */
  hints?: ConnectHints
}

// A CLI against a dead address should answer in seconds, not hang.
const CONNECT_TIMEOUT_MS_DEFAULT = 5000
// A partition whose leader moves gets this long to answer where it starts and ends (an election takes a few seconds).
const LIST_OFFSET_RETRY_DEADLINE_MS = 10_000

const processWarnings: FramingWarnings = {
  warn: (message, fields) => process.emitWarning(`${message} (${JSON.stringify(fields)})`, 'LignumWarning'),
}

/**
 * A failure gRPC could only call "Failed to connect" (a refused certificate, plaintext
 * against TLS or the reverse) gets the reason a handshake of the client's own finds.
 */
async function tlsDiagnosisOf(address: string, failure: LignumError, tls: Awaited<ReturnType<typeof readClientTls>>, hints: ConnectHints): Promise<LignumError | undefined> {
  if (failure.code !== 'UNAVAILABLE' || /connection refused|unknown host/.test(failure.message)) return undefined
  return (await diagnoseTls(address, tls, hints)) ?? (isProtocolMismatch(failure.message) ? probeProtocol(address, hints) : undefined)
}

export class WireClient {
  private readonly partitionCounts = new Map<string, number>()

  private constructor(private readonly routes: ClusterRoutes) {}

  /** The connection to the node the client bootstrapped from. */
  get connection(): Connection {
    return this.routes.bootstrap
  }

  static async connect(options: ConnectOptions): Promise<WireClient> {
    const hints = options.hints ?? LIBRARY_CONNECT_HINTS
    const addresses = Array.isArray(options.brokers) ? options.brokers : parseBrokers(options.brokers, hints)
    const timeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT
    if (options.zeroCopy) installGrpcFraming(options.logger ?? processWarnings)
    const tls = await readClientTls(options.tls)
    const channelCredentials = options.channelCredentials ?? channelCredentialsOf(tls)
    const failures: LignumError[] = []
    for (const address of addresses) {
      const connection = new Connection(address, channelCredentials, hints)
      try {
        const metadata = await withRetry(() => connection.call(connection.grpc.metadata, {topics: [], allowAutoTopicCreation: false}, timeoutMs), {deadlineMs: Math.min(timeoutMs, 1000)})
        return new WireClient(new ClusterRoutes(connection, metadata))
      } catch (error) {
        connection.close()
        const failure = error instanceof LignumError ? error : new LignumError('UNAVAILABLE', String(error))
        failures.push((options.channelCredentials ? undefined : await tlsDiagnosisOf(address, failure, tls, hints)) ?? failure)
      }
    }
    if (failures.length === 1) throw failures[0]
    throw new LignumError('UNAVAILABLE', `cannot reach any Lignum node of ${addresses.join(', ')}: ${failures.map((failure) => failure.message).join('; ')}`, {hint: failures[0]?.hint})
  }

  get address(): string {
    return this.connection.address
  }

  /** `replication` is for cluster mode; omitted, the cluster's defaults apply (standalone ignores it). */
  async createTopic(name: string, partitions: number, config: TopicConfig = {}, replication: {replicationFactor?: number; minInsyncReplicas?: number} = {}): Promise<TopicDescription> {
    return this.connection.call(this.connection.grpc.createTopic, {name, partitions, config, replicationFactor: replication.replicationFactor ?? 0, minInsyncReplicas: replication.minInsyncReplicas ?? 0})
  }

  async deleteTopic(name: string): Promise<void> {
    await this.connection.call(this.connection.grpc.deleteTopic, {name})
    this.partitionCounts.delete(name)
  }

  async listTopics(): Promise<TopicDescription[]> {
    return (await this.connection.call(this.connection.grpc.listTopics, {})).topics
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    return this.connection.call(this.connection.grpc.describeTopic, {name})
  }

  async clusterStatus(): Promise<ClusterStatusResponse> {
    return this.connection.call(this.connection.grpc.clusterStatus, {localOnly: false})
  }

  /** The node's authorization rules (needs describe on the cluster). */
  async listAcls(): Promise<ListAclsResponse> {
    return this.connection.call(this.connection.grpc.listAcls, {})
  }

  /** Adds a rule (needs alter on the cluster); `changed` is false when it was there already. */
  async addAcl(rule: AclRule): Promise<ChangeAclResponse> {
    return this.connection.call(this.connection.grpc.addAcl, {rule})
  }

  /** Removes a rule (needs alter on the cluster); `changed` is false when there was no such rule. */
  async removeAcl(rule: AclRule): Promise<ChangeAclResponse> {
    return this.connection.call(this.connection.grpc.removeAcl, {rule})
  }

  /** The topic's partition count; creates the topic first when the node auto-creates topics. */
  async partitionCount(topic: string, autoCreate = true): Promise<number> {
    const known = this.partitionCounts.get(topic)
    if (known !== undefined) return known
    const response = await this.connection.call(this.connection.grpc.metadata, {topics: [topic], allowAutoTopicCreation: autoCreate})
    this.routes.learn(response)
    const count = response.topics[0]?.partitions.length ?? 0
    if (count === 0) throw new LignumError('UNKNOWN_TOPIC', `topic "${topic}" does not exist`)
    this.partitionCounts.set(topic, count)
    return count
  }

  producer(options: ProducerOptions = {}): Producer {
    return new Producer(this.routes, this, options)
  }

  consume(options: ConsumeOptions | GroupConsumeOptions): AsyncGenerator<ConsumedRecord, void, undefined> {
    // No generator of its own: a yield* layer would cost promise hops on every record.
    return recordsOfChunks(this.consumeChunks(options))
  }

  /** Like consume(), a fetched batch at a time: fewer awaits for high-rate readers. */
  async *consumeChunks(options: ConsumeOptions | GroupConsumeOptions): AsyncGenerator<RecordChunk> {
    const count = await this.partitionCount(options.topic, false)
    // A group with no partitions named is a membership: the group's leader splits the partitions.
    if (options.group !== undefined && options.partitions === undefined) {
      yield* consumeGroupChunks(this.routes, (topic) => this.partitionCount(topic, false), options as GroupConsumeOptions)
      return
    }
    yield* consumeChunks(this.routes, count, options)
  }

  async commitOffsets(group: string, topic: string, offsets: {partition: number; offset: number}[]): Promise<void> {
    await this.connection.call(this.connection.grpc.commitOffsets, {
      group,
      offsets: offsets.map((entry) => ({topic, partition: entry.partition, offset: BigInt(entry.offset), metadata: ''})),
      memberId: '',
      generationId: 0,
    })
  }

  async fetchOffsets(group: string, topic?: string): Promise<{topic: string; partition: number; offset: number}[]> {
    const response = await this.connection.call(this.connection.grpc.fetchOffsets, {group, topic: topic ?? ''})
    return response.offsets.map((entry) => ({topic: entry.topic, partition: entry.partition, offset: Number(entry.offset)}))
  }

  /** Every consumer group of the cluster (describe on each group), with its state. */
  async listGroups(): Promise<GroupSummary[]> {
    return (await this.connection.call(this.connection.grpc.listGroups, {coordinatorPartitions: []})).groups.map(groupSummaryOf)
  }

  /** A group's state, members and committed offsets, from its coordinator; NOT_FOUND for a group with neither. */
  async describeGroup(group: string): Promise<GroupDescription> {
    return groupDescriptionOf(await this.connection.call(this.connection.grpc.describeGroup, {group}))
  }

  /**
   * Moves a group's committed offsets (an administrator's commit); NON_EMPTY_GROUP while it has
   * live members unless `force`. `dryRun` answers the same changes and commits nothing.
   */
  async resetGroupOffsets(group: string, offsets: {topic: string; partition: number; offset: number}[], options: {force?: boolean; dryRun?: boolean} = {}): Promise<GroupOffsetChange[]> {
    const request = {group, offsets: offsets.map((entry) => ({...entry, offset: BigInt(entry.offset), metadata: ''})), force: options.force ?? false, validateOnly: options.dryRun ?? false}
    return (await this.connection.call(this.connection.grpc.resetGroupOffsets, request)).changes.map(groupOffsetChangeOf)
  }

  /** Deletes a group's committed offsets durably; how many. NON_EMPTY_GROUP while it has live members. */
  async deleteGroup(group: string): Promise<number> {
    return (await this.connection.call(this.connection.grpc.deleteGroup, {group})).deletedOffsets
  }

  /** Kafka's ListOffsets, asked of the partition's leader: 'beginning', 'end', or the first offset at or after a time (the end if none). */
  async listOffset(topic: string, partition: number, at: 'beginning' | 'end' | {timestampMs: number}): Promise<number> {
    await this.partitionCount(topic, false)
    const timestamp = at === 'end' ? -1 : at === 'beginning' ? -2 : at.timestampMs
    const ask = async () => {
      const connection = this.routes.leaderConnection(topic, partition)
      return Number((await connection.call(connection.grpc.listOffsets, {topic, partition, timestamp: BigInt(timestamp)})).offset)
    }
    return withRetry(ask, {deadlineMs: LIST_OFFSET_RETRY_DEADLINE_MS, shouldRetry: (error) => retryRouted(error, this.routes, topic, 'any-retriable')})
  }

  /** Closes the connection to every node. */
  close(): void {
    this.routes.close()
  }
}
