/**
 * Where each partition's traffic goes: the client's picture of the cluster, learned from
 * Metadata answers (the nodes and their addresses, each partition's leader, replicas and ISR),
 * and one connection per node, opened on first use and closed with the client.
 *
 * The node the client bootstrapped from names itself in the answer (MetadataResponse.node), so
 * its traffic keeps using the bootstrap connection, under the address the user gave (which may
 * differ from the one the node advertises: a proxy, a name instead of an IP). Standalone, that
 * node leads every partition, so everything goes over the bootstrap connection as before.
 *
 * A refresh asks the bootstrap node, and the other known nodes in turn when it cannot be
 * reached: the bootstrap node may be the leader that died.
 *
 * Invariants: at most one connection per node id; a refresh runs at most once at a time (callers
 * that fail together share it); nothing here retries: callers read `retriable` and ask for a
 * refresh before trying again.
 */
import {LignumError} from '../errors.js'
import type {MetadataResponse, TopicDescription} from '../generated/lignum/v1/lignum.js'
import {Connection} from './connection.js'

// A refresh is asked while requests wait to be retried: a bootstrap node that does not answer
// (frozen, overloaded) must not hold them for a whole call deadline. Past it they retry with
// what the client already knows.
const REFRESH_DEADLINE_MS = 5_000
// A node answering with these could not be asked at all: another node may answer instead.
const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['UNAVAILABLE', 'TIMEOUT'])

/** KIP-392: 'leader' reads from the leader only; 'any' from the bootstrap node when it holds an in-sync replica. */
export type ReplicaChoice = 'leader' | 'any'

interface PartitionRoute {
  leader: string
  isr: string[]
}

export class ClusterRoutes {
  private readonly connections = new Map<string, Connection>()
  private readonly addresses = new Map<string, string>()
  private readonly topics = new Map<string, PartitionRoute[]>()
  private readonly refreshing = new Map<string, Promise<void>>()
  /** The id of the node the bootstrap connection reaches ('' from a node too old to say). */
  readonly bootstrapNodeId: string
  /**
   * The smallest batch limit (batchBytesMax) any node answering metadata stated: batches go to
   * leaders on any node, so the strictest one bounds them all. Undefined until a node states one.
   */
  batchBytesMax: number | undefined

  constructor(
    readonly bootstrap: Connection,
    metadata: MetadataResponse,
  ) {
    this.bootstrapNodeId = metadata.node
    this.learn(metadata)
  }

  /** Takes in what a Metadata answer says: node addresses and the routes of the topics it describes. */
  learn(metadata: MetadataResponse): void {
    for (const node of metadata.nodes) if (node.address) this.addresses.set(node.id, node.address)
    for (const topic of metadata.topics) this.learnTopic(topic)
    if (metadata.batchBytesMax > 0) this.batchBytesMax = Math.min(this.batchBytesMax ?? metadata.batchBytesMax, metadata.batchBytesMax)
  }

  private learnTopic(topic: TopicDescription): void {
    const routes: PartitionRoute[] = []
    for (const described of topic.partitions) routes[described.partition] = {leader: described.leader, isr: described.isr}
    this.topics.set(topic.name, routes)
  }

  knowsTopic(topic: string): boolean {
    return this.topics.has(topic)
  }

  /** The connection to the partition's leader. UNAVAILABLE (retriable) while it has none known. */
  leaderConnection(topic: string, partition: number): Connection {
    const route = this.topics.get(topic)?.[partition]
    // Unknown to the metadata seen so far: the bootstrap node is as good a guess as any, and
    // answers NOT_LEADER if it is wrong.
    if (!route) return this.bootstrap
    if (!route.leader) throw new LignumError('UNAVAILABLE', `partition ${partition} of topic "${topic}" has no leader right now; retrying once the cluster elects one`)
    return this.connectionTo(route.leader)
  }

  /** Where a consumer reads the partition: with 'any', the bootstrap node if it is in the ISR, else the leader. */
  readConnection(topic: string, partition: number, replica: ReplicaChoice): Connection {
    if (replica === 'any' && this.topics.get(topic)?.[partition]?.isr.includes(this.bootstrapNodeId)) return this.bootstrap
    return this.leaderConnection(topic, partition)
  }

  private connectionTo(nodeId: string): Connection {
    if (nodeId === this.bootstrapNodeId) return this.bootstrap
    let connection = this.connections.get(nodeId)
    if (connection && !connection.closed) return connection
    const address = this.addresses.get(nodeId)
    if (!address) throw new LignumError('UNAVAILABLE', `node ${nodeId} leads a partition but has no address in the cluster's metadata yet; retrying`)
    connection = new Connection(address, this.bootstrap.channelCredentials, this.bootstrap.hints)
    this.connections.set(nodeId, connection)
    return connection
  }

  /**
   * Asks the bootstrap node again about `topic` (one request at a time per topic). A topic the
   * node no longer knows is forgotten, so callers stop retrying for it.
   */
  refresh(topic: string): Promise<void> {
    let pending = this.refreshing.get(topic)
    if (!pending) {
      pending = this.fetchMetadata(topic).finally(() => this.refreshing.delete(topic))
      this.refreshing.set(topic, pending)
    }
    return pending
  }

  private async fetchMetadata(topic: string): Promise<void> {
    try {
      this.learn(await this.askAnyNode(topic))
    } catch (error) {
      if (error instanceof LignumError && error.code === 'UNKNOWN_TOPIC') this.topics.delete(topic)
      else throw error
    }
  }

  /**
   * The bootstrap node first; when it cannot be reached (it may be the leader that just died),
   * each other node the metadata named, so the client learns who took over.
   */
  private async askAnyNode(topic: string): Promise<MetadataResponse> {
    const request = {topics: [topic], allowAutoTopicCreation: false}
    let firstError: unknown
    for (const connection of this.metadataCandidates()) {
      try {
        return await connection.call(connection.grpc.metadata, request, REFRESH_DEADLINE_MS)
      } catch (error) {
        if (!(error instanceof LignumError) || !UNREACHABLE_CODES.has(error.code)) throw error
        firstError ??= error
      }
    }
    throw firstError
  }

  private *metadataCandidates(): Generator<Connection> {
    yield this.bootstrap
    for (const nodeId of [...this.addresses.keys()]) {
      if (nodeId === this.bootstrapNodeId || this.bootstrap.closed) continue
      yield this.connectionTo(nodeId)
    }
  }

  /** True once the client closed: nothing is worth retrying. */
  get closed(): boolean {
    return this.bootstrap.closed
  }

  close(): void {
    for (const connection of this.connections.values()) connection.close()
    this.connections.clear()
    this.bootstrap.close()
  }
}
