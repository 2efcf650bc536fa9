/**
 * Cluster mode's wiring of the control plane to the data plane, for one node: topic creation
 * through the controller, and, for every partition this node holds a replica of, the local
 * partition made and driven by the catalog's state (a PartitionWatch feeding a ReplicaManager).
 *
 * Replica ids: the catalog names replicas by node id (strings); the data plane (fetch
 * requests, the partition's ISR) by number. A node's replica id is a 31-bit FNV-1a hash of its
 * node id (replicaIdOf): stable across restarts and joins with no coordination and nothing more
 * stored in Consul. Two node ids hashing alike would be refused at creation (checked over the
 * live nodes), which for a handful of nodes happens with odds of about n²/2³².
 *
 * Topic creation and deletion: the controller writes the catalog (assignReplicas over the live
 * nodes); any other node forwards the request to the controller's gRPC address (one hop; the
 * controller does not forward again), so a client needs no retry logic for it. A topic a
 * producer names is auto-created the same way, with the cluster's defaults. Topic settings
 * (retention, segments, flush policy) are stored in the topic's catalog record and every node
 * that holds a replica opens it with them. Names starting with "__" are refused, except the
 * offsets topic, which always gets its fixed layout (offsetsTopicCreation).
 *
 * Group offsets: `__consumer_offsets` is a catalog topic like any other, created on first use;
 * GroupCoordinator (group-coordinator.ts) routes each group's requests to its partition's leader.
 *
 * Metadata: topics are listed and described from the catalog, so every node gives the same
 * names, settings, leaders, replicas and ISR, and a node holding no replica of a topic still
 * names it. Offsets and sizes are this node's replica's; a partition it holds no replica of
 * has offsets -1 and size 0 (ask a node that holds it). Metadata reads the catalog too, but
 * while Consul is out of reach it answers from the roles applied here, so clients still connect.
 *
 * Invariants: a partition state is applied only after its local partition exists; a follower's
 * leader link is chosen by the leader's node record in the cluster view; an ISR change reaches
 * the partition only after TopicCatalog.writeIsr accepted it (ReplicaManager's rule).
 */
import type {ChannelCredentials} from '@grpc/grpc-js'
import {systemClock} from '../broker/partition.js'
import {isInternalTopic, type Broker, type TopicDescription as BrokerTopic} from '../broker/broker.js'
import {GROUP_OFFSETS_TOPIC, type CommittedOffset, type NegativeOffsets} from '../broker/group-offsets.js'
import type {JoinRequest, JoinResult, MemberIdentity} from '../broker/consumer-group.js'
import type {TopicSettings} from '../broker/topic-store.js'
import type {StoredPartitionState} from '../cluster/catalog-records.js'
import type {ClusterMember} from '../cluster/cluster-member.js'
import {electPartitionLeadersOfView, UNCLEAN_LEADER_ELECTION_SETTING} from '../cluster/controller-duties.js'
import {leadershipOfThisProcess} from '../cluster/leadership-incarnation.js'
import {PartitionWatch, type CatalogEvent} from '../cluster/partition-watch.js'
import {TopicCatalog, type TopicDescription as CatalogTopic} from '../cluster/topic-catalog.js'
import {LignumError} from '../errors.js'
import {validateTopicName} from '../log/topic-name.js'
import type {TopicConfig, TopicDescription} from '../generated/lignum/v1/lignum.js'
import type {Logger} from '../logger.js'
import {settingsFromWire, settingsToWire, topicToWire, type PartitionRoles} from './convert.js'
import {GROUP_OFFSETS_PARTITIONS, GroupCoordinator} from './group-coordinator.js'
import type {CatalogPartition} from './partition-status.js'
import {GrpcLeaderClients} from '../replication/grpc-leader-client.js'
import {ReplicaManager} from '../replication/replica-manager.js'
import {initialReplicaHealth, ReplicaVerification} from './replica-verification.js'
import {isTopicNumberSetting} from '../wire/topic-config.js'
import type {IsrChangeRequest, LeaderClient, PartitionState} from '../replication/replication-interfaces.js'

// A forwarded CreateTopic gets this long to reach the controller and be written.
const FORWARD_CONNECT_TIMEOUT_MS = 5_000
// An auto-created topic reaches this node through its catalog watch within a Consul round
// trip or two; past this the node is not one of its replicas (or Consul is stuck).
const AUTO_CREATED_ARRIVAL_MS = 10_000
const AUTO_CREATED_POLL_MS = 20
// A controlled shutdown reads the catalog this often while it waits for new leaders: a Consul
// read is cheap, and each poll may end the wait.
const HANDOFF_POLL_MS = 50
const FNV_OFFSET_BASIS = 0x811c9dc5
const FNV_PRIME = 0x01000193
/**
 * The offsets topic keeps every commit (no time or size retention: the newest record of a key is
 * the committed offset, and there is no compaction yet) and fsyncs each one, as standalone does.
 */
const GROUP_OFFSETS_SETTINGS: TopicSettings = {retentionMs: -1, retentionBytes: -1, flushPolicy: 'always'}

export interface ClusterReplicationOptions {
  member: ClusterMember
  broker: Broker
  nodeId: string
  logger: Logger
  replicaLagMaxMs: number
  /** Partitions of an auto-created topic. */
  defaultPartitions: number
  /** The node's channels to other nodes (replica fetches, forwarded topic and group requests): TLS with its certificate, or plaintext. */
  peerCredentials?: ChannelCredentials
}

export interface TopicCreation {
  name: string
  partitions: number
  replicationFactor?: number
  minInsyncReplicas?: number
  config?: TopicConfig
}

/** A node's numeric replica id: FNV-1a of its id, kept to 31 bits (fits the wire's int32). */
export function replicaIdOf(nodeId: string): number {
  let hash = FNV_OFFSET_BASIS
  for (const byte of Buffer.from(nodeId, 'utf8')) hash = Math.imul(hash ^ byte, FNV_PRIME) >>> 0
  return hash & 0x7fffffff
}

export class ClusterReplication {
  readonly catalog: TopicCatalog
  private readonly watch: PartitionWatch
  private readonly manager: ReplicaManager
  private readonly leaderClients: GrpcLeaderClients
  private readonly minInsync = new Map<string, number>()
  /** The last state applied per partition ("topic-partition"), for truthful metadata. */
  private readonly roles = new Map<string, PartitionRoles>()
  /** Per topic: the chain its events run on, so a partition is made before its state applies. */
  private readonly chains = new Map<string, Promise<void>>()
  readonly groups: GroupCoordinator
  private offsetsPartitions: Promise<number> | undefined
  private stopped = false
  /** Per partition this node leads: the lease generation its leadership was confirmed under. */
  private readonly confirmedUnder = new Map<string, number>()
  private leaseTimer: NodeJS.Timeout | undefined
  private reconfirming: Promise<void> | undefined
  private readonly verification: ReplicaVerification
  private shuttingDown = false
  /** The partitions this node led when its shutdown began: their leadership is handed off before it drains. */
  private ledAtShutdown: string[] = []

  constructor(private readonly options: ClusterReplicationOptions) {
    const {member, logger} = options
    this.leaderClients = new GrpcLeaderClients(options.peerCredentials)
    this.verification = new ReplicaVerification({broker: options.broker, logger, report: (health) => member.reportReplicaHealth(health)}, initialReplicaHealth(options.broker), member.replicaHealth)
    this.catalog = new TopicCatalog(member.consulApi, member.clusterKeys, logger)
    this.manager = new ReplicaManager({
      replicaId: replicaIdOf(options.nodeId),
      incarnation: member.incarnation,
      partitions: (topic, partition) => options.broker.localPartition(topic, partition),
      leaderClient: (leaderId) => this.leaderClientOf(leaderId),
      isrWriter: {writeIsr: (topic, partition, change) => this.writeIsr(topic, partition, change)},
      clock: systemClock,
      logger,
      config: {replicaLagMaxMs: options.replicaLagMaxMs, isrCheckIntervalMs: Math.max(1, Math.floor(options.replicaLagMaxMs / 2))},
    })
    this.groups = new GroupCoordinator(options.broker, {
      nodeId: options.nodeId,
      offsetsPartitionCount: () => this.offsetsPartitionCount(),
      offsetsLeaderOf: (partition) => this.leaderOf(GROUP_OFFSETS_TOPIC, partition),
      addressOf: (nodeId) => member.view().nodes.find((node) => node.id === nodeId)?.address,
      checkTopicPartition: (topic, partition) => this.checkTopicPartition(topic, partition),
      peerCredentials: options.peerCredentials,
    }, logger)
    this.watch = new PartitionWatch({api: member.consulApi, keys: member.clusterKeys, nodeId: options.nodeId, logger, onEvent: (event) => this.onEvent(event)})
  }

  start(): void {
    this.options.broker.autoCreateThrough((name) => this.autoCreateTopic(name))
    // Partitions kept from before a restart opened as followers (partitionsFollowUntilAssigned):
    // they refuse produce until the catalog says their role.
    this.manager.start()
    this.watch.start()
    this.verification.start()
    const {member, logger} = this.options
    member.addDuty((term, view) => electPartitionLeadersOfView(this.catalog, term, view, logger))
    member.on('lease', () => this.onLeaseRenewed())
    member.on('session-lost', () => this.suspendLeadership('the session ended'))
  }

  /**
   * Lease self-fencing for the partitions this node leads: leading needs the lease valid and
   * the leadership confirmed (by the catalog) under the current lease. Checked synchronously on
   * every append and high watermark move, so a node thawed after a freeze acts on nothing
   * before its timers run; the timer only fails acks=all waiters early.
   */
  private leadershipHolds(id: string): boolean {
    const {member} = this.options
    return !this.shuttingDown && member.leaseValid() && this.confirmedUnder.get(id) === member.leaseGeneration
  }

  private onLeaseRenewed(): void {
    if (this.stopped) return
    clearTimeout(this.leaseTimer)
    const remainingMs = Math.max(0, this.options.member.leaseDeadlineMs() - performance.now())
    this.leaseTimer = setTimeout(() => {
      if (!this.options.member.leaseValid()) this.suspendLeadership('the lease renewal is overdue')
    }, remainingMs)
    this.leaseTimer.unref()
    if (this.ledPartitionIds().some((id) => this.confirmedUnder.get(id) !== this.options.member.leaseGeneration)) {
      this.reconfirming ??= this.reconfirmLeadership().finally(() => {
        this.reconfirming = undefined
      })
    }
  }

  private suspendLeadership(reason: string): void {
    const led = this.ledPartitionIds()
    if (reason === 'the session ended') this.confirmedUnder.clear()
    if (led.length === 0) return
    this.options.logger.warn('not acting as leader until the lease is valid and the catalog confirms the leadership', {reason, partitions: led})
    for (const id of led) this.localPartitionOf(id)?.leadershipSuspended()
  }

  /** After a lapse: a leadership the catalog, read now, still gives this node at its epoch holds again; any other state is applied. */
  private async reconfirmLeadership(): Promise<void> {
    const {member, nodeId} = this.options
    for (const id of this.ledPartitionIds()) {
      const generation = member.leaseGeneration
      if (this.confirmedUnder.get(id) === generation) continue
      const [topic, partition] = splitPartitionId(id)
      const stored = await this.catalog.readPartitionState(topic, partition).catch(() => undefined)
      const local = this.localPartitionOf(id)
      if (!stored || !local || this.stopped) continue
      if (stored.state.leader === nodeId && stored.state.leaderEpoch === local.leaderEpoch && this.leadershipOfThisProcess(stored) && member.leaseValid() && member.leaseGeneration === generation) {
        this.confirmedUnder.set(id, generation)
        local.leadershipResumed()
        this.options.logger.info('leadership confirmed after the lease lapsed', {topic, partition, leaderEpoch: local.leaderEpoch})
      } else {
        this.onEvent({kind: 'partition-changed', stored})
      }
    }
  }

  /**
   * Whether a leadership the catalog gives this node was given to this process: one given to
   * the process before a restart ended with it (the controller re-elects, at a new epoch), and
   * acting on it could write new records at offsets the followers hold with other contents.
   * A state with no incarnation recorded (written before they were) is taken as this process's.
   */
  private leadershipOfThisProcess(stored: StoredPartitionState): boolean {
    if (leadershipOfThisProcess(stored.state, this.options.nodeId, this.options.member.incarnation)) return true
    this.options.logger.info('not acting on a leadership given before this node restarted; the controller elects anew', {topic: stored.topic, partition: stored.partition, leaderEpoch: stored.state.leaderEpoch})
    return false
  }

  private ledPartitionIds(): string[] {
    return [...this.roles].filter(([, roles]) => roles.leader === this.options.nodeId).map(([id]) => id)
  }

  private localPartitionOf(id: string) {
    const [topic, partition] = splitPartitionId(id)
    return this.options.broker.localPartition(topic, partition)
  }

  /**
   * The node begins to shut down (Kafka's controlled shutdown): its ISRs stay as they are, for
   * the controller to elect from, and it stops acting as leader at once: no acknowledgement and
   * no high watermark move at its epoch from here on, so whatever it acknowledged is already
   * on the in-sync replicas the controller elects from.
   */
  beginShutdown(): void {
    this.manager.stopIsrChanges()
    if (this.shuttingDown) return
    this.shuttingDown = true
    this.ledAtShutdown = this.ledPartitionIds()
    this.suspendLeadership('the node is shutting down')
  }

  /**
   * After the node left the cluster: resolves once the catalog names another leader (or none)
   * for every partition this node led when its shutdown began, or no other in-sync replica of
   * it is up to take it over (the whole cluster stopping at once: nothing to hand off to, and
   * no controller left to write it), or after `boundMs`; true when none is left waiting.
   * Polls, so the wait ends within HANDOFF_POLL_MS of the last partition settling.
   */
  async leadershipHandedOff(boundMs: number): Promise<boolean> {
    const giveUpAtMs = performance.now() + boundMs
    const movedTo: {topic: string; partition: number; leader: string | null; leaderEpoch: number}[] = []
    const noSuccessor: string[] = []
    let remaining = [...this.ledAtShutdown]
    while (remaining.length > 0) {
      const read = await Promise.all(remaining.map((id) => this.readPartitionOf(id)))
      const othersUp = this.otherNodesUp()
      const waiting: string[] = []
      remaining.forEach((id, index) => {
        const stored = read[index]
        // Unreadable: asked again on the next poll, until the bound.
        if (stored === undefined) waiting.push(id)
        else if (stored.state.leader !== this.options.nodeId) movedTo.push({topic: stored.topic, partition: stored.partition, leader: stored.state.leader, leaderEpoch: stored.state.leaderEpoch})
        else if (othersUp && !stored.state.isr.some((replica) => othersUp.has(replica))) noSuccessor.push(id)
        else waiting.push(id)
      })
      remaining = waiting
      if (remaining.length === 0) break
      if (performance.now() >= giveUpAtMs) {
        this.options.logger.warn('the controller has not moved the leadership of these partitions yet; shutting down anyway, they fail over when it does', {partitions: remaining, waitedMs: boundMs})
        return false
      }
      await new Promise((resolve) => setTimeout(resolve, HANDOFF_POLL_MS))
    }
    if (movedTo.length > 0) this.options.logger.info('leadership handed off', {partitions: movedTo})
    if (noSuccessor.length > 0) this.options.logger.info('no other live in-sync replica to hand these partitions to; not waiting for them', {partitions: noSuccessor})
    return true
  }

  /**
   * The other nodes Consul has up, or undefined when this node cannot tell (Consul unreachable:
   * its view is stale, so the shutdown waits as if a successor may exist).
   */
  private otherNodesUp(): Set<string> | undefined {
    const view = this.options.member.view()
    if (!view.consulReachable) return undefined
    return new Set(view.nodes.filter((node) => node.status === 'up' && node.id !== this.options.nodeId).map((node) => node.id))
  }

  private readPartitionOf(id: string): Promise<StoredPartitionState | undefined> {
    const [topic, partition] = splitPartitionId(id)
    return this.catalog.readPartitionState(topic, partition).catch(() => undefined)
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.leaseTimer)
    await this.verification.stop()
    await this.watch.stop()
    await Promise.all(this.chains.values())
    await this.manager.close()
    this.leaderClients.closeAll()
    this.groups.close()
  }

  /** Arrow: handed to the transports. Commits through the group's coordinator (this node or another). */
  readonly commitOffsets = (group: string, offsets: CommittedOffset[], forwardedBy?: string, member?: MemberIdentity, negative?: NegativeOffsets): Promise<void> => this.groups.commitOffsets(group, offsets, forwardedBy, member, negative)

  readonly joinGroup = (group: string, request: JoinRequest, forwardedBy?: string): Promise<JoinResult> => this.groups.joinGroup(group, request, forwardedBy)

  readonly syncGroup = (group: string, identity: MemberIdentity, assignments: Map<string, Buffer>, waitMs: number, forwardedBy?: string): Promise<Buffer> => this.groups.syncGroup(group, identity, assignments, waitMs, forwardedBy)

  readonly heartbeat = (group: string, identity: MemberIdentity, forwardedBy?: string): Promise<void> => this.groups.heartbeat(group, identity, forwardedBy)

  readonly leaveGroup = (group: string, memberId: string, forwardedBy?: string): Promise<void> => this.groups.leaveGroup(group, memberId, forwardedBy)

  readonly fetchOffsets = (group: string, topic: string | undefined, forwardedBy?: string): Promise<CommittedOffset[]> => this.groups.fetchOffsets(group, topic, forwardedBy)

  /** Creates a topic in the catalog: here if this node is the controller, else on the controller. */
  async createTopic(asked: TopicCreation): Promise<TopicDescription> {
    const {member} = this.options
    const request = asked.name === GROUP_OFFSETS_TOPIC ? offsetsTopicCreation() : asked
    if (isInternalTopic(request.name) && request.name !== GROUP_OFFSETS_TOPIC) {
      throw new LignumError('INVALID_TOPIC', `topic names starting with "__" are reserved for Lignum's internal topics; choose another name than "${request.name}"`)
    }
    // Checked before the catalog is written: a replica must be able to open what is stored.
    const settings = settingsFromWire(request.config)
    const term = member.controllerTerm()
    if (term) {
      const upNodes = member.view().nodes.filter((node) => node.status === 'up')
      const live = upNodes.map((node) => node.id)
      refuseReplicaIdClash(live)
      const incarnations = new Map(upNodes.flatMap((node) => (node.incarnation ? [[node.id, node.incarnation] as [string, string]] : [])))
      const created = await this.catalog.createTopic(term, {
        name: request.name,
        partitions: request.partitions,
        replicationFactor: request.replicationFactor,
        minInsyncReplicas: request.minInsyncReplicas,
        settings: {...settingsToCatalog(settings), ...(request.config?.uncleanLeaderElection ? {[UNCLEAN_LEADER_ELECTION_SETTING]: 'true'} : {})},
      }, live, undefined, incarnations)
      return this.catalogTopicToWire(created)
    }
    const client = await this.controllerClient()
    try {
      return await client.createTopic(request.name, request.partitions, request.config ?? {}, {
        replicationFactor: request.replicationFactor,
        minInsyncReplicas: request.minInsyncReplicas,
      })
    } finally {
      client.close()
    }
  }

  /** A topic a producer named: created with the cluster's defaults, resolved once this node holds it. */
  private async autoCreateTopic(name: string): Promise<void> {
    await this.createTopic({name, partitions: this.options.defaultPartitions}).catch((error: LignumError) => {
      if (error.code !== 'ALREADY_EXISTS') throw error
    })
    const giveUpAtMs = Date.now() + AUTO_CREATED_ARRIVAL_MS
    while (!this.holdsWithRoles(name)) {
      if (Date.now() > giveUpAtMs || this.stopped) {
        throw new LignumError('UNAVAILABLE', `topic ${name} was created in the cluster but this node holds none of its replicas (or has not heard of it yet); send to a node that holds it`)
      }
      await new Promise((resolve) => setTimeout(resolve, AUTO_CREATED_POLL_MS))
    }
  }

  /** Every partition of the topic is here and has taken the role the catalog gave it. */
  private holdsWithRoles(topic: string): boolean {
    const local = this.options.broker.listTopics().find((described) => described.name === topic)
    return local !== undefined && local.partitions.every((partition) => this.roles.has(`${topic}-${partition.partition}`))
  }

  /** Arrow: handed to the transports as a plain function. */
  readonly partitionRoles = (topic: string, partition: number): PartitionRoles | undefined => this.roles.get(`${topic}-${partition}`)

  /** Every partition of the catalog as Consul holds it now, with its topic's min ISR. */
  async catalogPartitions(): Promise<CatalogPartition[]> {
    const topics = await this.catalog.describeAllTopics()
    return topics.flatMap(({topic, partitions}) =>
      partitions.map(({partition, state}) => ({topic: topic.name, partition, leader: state.leader, leaderEpoch: state.leaderEpoch, replicas: [...state.replicas], isr: [...state.isr], minInsyncReplicas: topic.minInsyncReplicas})),
    )
  }

  /** Arrow, as partitionRoles: the node among the partition's replicas whose replica id this is. */
  readonly nodeOfReplica = (topic: string, partition: number, replicaId: number): string | undefined =>
    this.roles.get(`${topic}-${partition}`)?.replicas.find((node) => replicaIdOf(node) === replicaId)

  /** Deletes a topic from the catalog, on the controller as createTopic does; each replica then drops its copy. */
  async deleteTopic(name: string): Promise<void> {
    if (isInternalTopic(name)) {
      throw new LignumError('PERMISSION_DENIED', `cannot delete "${name}": topics starting with "__" belong to the cluster (consumer group offsets live in ${GROUP_OFFSETS_TOPIC})`)
    }
    const term = this.options.member.controllerTerm()
    if (term) {
      await this.catalog.deleteTopic(term, name)
      return
    }
    const client = await this.controllerClient()
    try {
      await client.deleteTopic(name)
    } finally {
      client.close()
    }
  }

  /** Every topic the catalog holds (internal ones aside), as every node describes it. */
  async listTopics(): Promise<TopicDescription[]> {
    const described = await this.catalog.describeTopics()
    const local = this.localTopics()
    return described.filter(({topic}) => !isInternalTopic(topic.name)).map((topic) => this.catalogTopicToWire(topic, local))
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    const described = await this.catalog.describeTopic(name)
    if (!described) throw new LignumError('UNKNOWN_TOPIC', `topic "${name}" does not exist`, {hint: `list topics with: lignum topics list`})
    return this.catalogTopicToWire(described, this.localTopics())
  }

  /**
   * Metadata's topics, from the catalog as list and describe: a node that holds no replica of a
   * topic still names its leaders, so a client can start from any node. A missing topic is
   * auto-created in the catalog when allowed (it reaches its replicas through their watches).
   */
  async metadataTopics(names: string[], allowAutoTopicCreation: boolean): Promise<TopicDescription[]> {
    try {
      return await this.catalogMetadataTopics(names, allowAutoTopicCreation)
    } catch (error) {
      // Consul is out of reach: clients still connect (a Metadata call is their first) and route
      // by what this node last applied, as it does for the partitions it holds. Creating a
      // topic needs the catalog, so auto-creation gets the error.
      if (!(error instanceof LignumError) || error.code !== 'UNAVAILABLE' || allowAutoTopicCreation) throw error
      const {broker, nodeId} = this.options
      const topics = names.length > 0 ? names.map((name) => broker.describeTopic(name)) : broker.listTopics()
      return topics.map((topic) => topicToWire(topic, nodeId, this.partitionRoles))
    }
  }

  private async catalogMetadataTopics(names: string[], allowAutoTopicCreation: boolean): Promise<TopicDescription[]> {
    if (names.length === 0) return this.listTopics()
    const local = this.localTopics()
    return Promise.all(names.map(async (name) => {
      validateTopicName(name)
      const found = await this.catalog.describeTopic(name)
      if (found) return this.catalogTopicToWire(found, local)
      if (!allowAutoTopicCreation || !this.options.broker.config.autoCreateTopics || isInternalTopic(name)) {
        throw new LignumError('UNKNOWN_TOPIC', `topic "${name}" does not exist`, {hint: `create it with: lignum topics create ${name}`})
      }
      await this.createTopic({name, partitions: this.options.defaultPartitions}).catch((error: LignumError) => {
        if (error.code !== 'ALREADY_EXISTS') throw error
      })
      return this.describeTopic(name)
    }))
  }

  private localTopics(): Map<string, BrokerTopic> {
    return new Map(this.options.broker.listTopics(true).map((topic) => [topic.name, topic]))
  }

  /** The catalog's record and states, with this node's replica's offsets where it holds one. */
  private catalogTopicToWire({topic, partitions}: CatalogTopic, local: Map<string, BrokerTopic> = this.localTopics()): TopicDescription {
    const held = local.get(topic.name)?.partitions
    return {
      name: topic.name,
      internal: isInternalTopic(topic.name),
      config: settingsToWire(this.readableSettings(topic.name, topic.settings)),
      partitions: partitions.map(({partition, state}) => {
        const replica = held?.find((candidate) => candidate.partition === partition)
        return {
          partition,
          leader: state.leader ?? '',
          leaderEpoch: state.leaderEpoch,
          replicas: [...state.replicas],
          isr: [...state.isr],
          logStartOffset: BigInt(replica?.logStartOffset ?? -1),
          logEndOffset: BigInt(replica?.logEndOffset ?? -1),
          highWatermark: BigInt(replica?.highWatermark ?? -1),
          segmentCount: replica?.segmentCount ?? 0,
          sizeBytes: BigInt(replica?.sizeBytes ?? 0),
          state: replica?.state ?? 'online',
          damage: replica?.damage === undefined ? undefined : {...replica.damage, position: BigInt(replica.damage.position), offset: BigInt(replica.damage.offset)},
        }
      }),
    }
  }

  /** A description never fails for a setting this node cannot read: it is named in the log and left out. */
  private readableSettings(topic: string, stored: Record<string, string>): TopicSettings {
    try {
      return settingsFromCatalog(stored)
    } catch (error) {
      this.options.logger.warn('ignoring unreadable topic settings in the catalog', {topic, settings: stored, error: (error as Error).message})
      return {}
    }
  }

  /** The partition count of the offsets topic, which is created in the catalog on first use. */
  private offsetsPartitionCount(): Promise<number> {
    const known = (this.offsetsPartitions ??= this.readOrCreateOffsetsTopic())
    known.catch(() => {
      if (this.offsetsPartitions === known) this.offsetsPartitions = undefined
    })
    return known
  }

  private async readOrCreateOffsetsTopic(): Promise<number> {
    const existing = await this.catalog.readTopic(GROUP_OFFSETS_TOPIC)
    if (existing) return existing.partitions
    await this.createTopic(offsetsTopicCreation()).catch((error: LignumError) => {
      if (error.code !== 'ALREADY_EXISTS') throw error
    })
    const created = await this.catalog.readTopic(GROUP_OFFSETS_TOPIC)
    if (!created) throw new LignumError('UNAVAILABLE', `${GROUP_OFFSETS_TOPIC} was created but cannot be read back from Consul yet; retry`)
    return created.partitions
  }

  /** The node the catalog names leader of a partition: as last applied here if this node holds it, else as Consul says now. */
  private async leaderOf(topic: string, partition: number): Promise<string | undefined> {
    const applied = this.roles.get(`${topic}-${partition}`)
    if (applied) return applied.leader || undefined
    return (await this.catalog.readPartitionState(topic, partition))?.state.leader ?? undefined
  }

  /** A commit names a topic-partition the catalog has (this node need not hold it). */
  private async checkTopicPartition(topic: string, partition: number): Promise<void> {
    if (this.options.broker.localPartition(topic, partition)) return
    const record = await this.catalog.readTopic(topic)
    if (!record) throw new LignumError('UNKNOWN_TOPIC', `topic "${topic}" does not exist`, {hint: `list topics with: lignum topics list`})
    if (!Number.isInteger(partition) || partition < 0 || partition >= record.partitions) {
      throw new LignumError('NOT_FOUND', `topic "${topic}" has partitions 0 to ${record.partitions - 1}; there is no partition ${partition}`)
    }
  }

  private async controllerClient() {
    const view = this.options.member.view()
    const controller = view.nodes.find((node) => node.id === view.controller)
    if (!controller) throw new LignumError('NOT_CONTROLLER', `no controller is elected in cluster ${view.cluster} yet; retry in a few seconds`)
    const {WireClient} = await import('../client/wire-client.js')
    return WireClient.connect({brokers: controller.address, connectTimeoutMs: FORWARD_CONNECT_TIMEOUT_MS, channelCredentials: this.options.peerCredentials})
  }

  private onEvent(event: CatalogEvent): void {
    const topic = event.kind === 'partition-changed' ? event.stored.topic : event.topic
    const previous = this.chains.get(topic) ?? Promise.resolve()
    const next = previous.then(() => this.handle(event)).catch((error: Error) => {
      this.options.logger.warn('could not apply a catalog change', {topic, kind: event.kind, error: error.message})
    })
    this.chains.set(topic, next)
    void next.then(() => {
      if (this.chains.get(topic) === next) this.chains.delete(topic)
    })
  }

  private async handle(event: CatalogEvent): Promise<void> {
    if (this.stopped) return
    if (event.kind === 'topic-created') return
    if (event.kind === 'topic-deleted') {
      await this.dropLocalTopic(event.topic)
      return
    }
    const {stored} = event
    const minInsyncReplicas = await this.ensureLocalTopic(stored.topic)
    if (minInsyncReplicas === undefined) return
    const outcome = await this.manager.applyPartitionState(toDataPlaneState(stored, minInsyncReplicas))
    const {state} = stored
    const id = `${stored.topic}-${stored.partition}`
    const ours = this.leadershipOfThisProcess(stored)
    if (outcome === 'leading' && ours && this.options.member.leaseValid()) this.confirmedUnder.set(id, this.options.member.leaseGeneration)
    else this.confirmedUnder.delete(id)
    if (outcome === 'leading' && ours) this.options.broker.localPartition(stored.topic, stored.partition)?.leadershipResumed()
    this.roles.set(id, {leader: state.leader ?? '', leaderEpoch: state.leaderEpoch, replicas: [...state.replicas], isr: [...state.isr]})
    if (stored.topic === GROUP_OFFSETS_TOPIC && outcome !== 'ignored') this.groups.partitionStateApplied(stored.partition, outcome === 'leading')
    this.options.logger.info('partition state applied', {topic: stored.topic, partition: stored.partition, leader: stored.state.leader, leaderEpoch: stored.state.leaderEpoch, isr: stored.state.isr, outcome})
  }

  /** Makes the topic's partitions on this node (as many as the catalog says); its min ISR, or undefined when the topic is gone. */
  private async ensureLocalTopic(topic: string): Promise<number | undefined> {
    const known = this.minInsync.get(topic)
    if (known !== undefined) return known
    const described = await this.catalog.describeTopic(topic)
    if (!described) return undefined
    const {broker} = this.options
    if (!broker.localPartition(topic, 0)) {
      const settings = settingsFromCatalog(described.topic.settings)
      await broker.createTopic(topic, {partitions: described.topic.partitions, settings, internal: isInternalTopic(topic)}).catch((error: LignumError) => {
        if (error.code !== 'ALREADY_EXISTS') throw error
      })
    }
    const localCount = broker.listTopics(true).find((local) => local.name === topic)?.partitions.length
    if (localCount !== undefined && localCount !== described.topic.partitions) {
      // E.g. a data directory from before the topic was replicated (a node-local __consumer_offsets of one partition).
      this.options.logger.error('this node holds a different topic under the catalog\'s name: the missing partitions are not served here', {
        topic,
        localPartitions: localCount,
        catalogPartitions: described.topic.partitions,
        fix: `stop the node, remove the directories ${topic}-<n> from its data directory (and the topic from topics.json), start it: it fetches its replicas from their leaders`,
      })
    }
    // A partition opens as a standalone leader; here it waits for the catalog to say its role
    // (else the leader's first state would be taken for the same leadership, without replicas).
    for (let index = 0; index < described.topic.partitions; index++) {
      const partition = broker.localPartition(topic, index)
      partition?.becomeFollower(partition.leaderEpoch)
      const id = `${topic}-${index}`
      partition?.setLeadershipGuard(() => this.leadershipHolds(id))
    }
    this.minInsync.set(topic, described.topic.minInsyncReplicas)
    return described.topic.minInsyncReplicas
  }

  /** Stops replicating the topic's partitions (no fetcher may write into deleted files), then deletes them. */
  private async dropLocalTopic(topic: string): Promise<void> {
    this.minInsync.delete(topic)
    this.groups.forgetTopic(topic)
    for (const key of [...this.roles.keys()]) if (key.startsWith(`${topic}-`) && /^\d+$/.test(key.slice(topic.length + 1))) this.roles.delete(key)
    const {broker} = this.options
    for (let index = 0; ; index++) {
      const partition = broker.localPartition(topic, index)
      if (!partition) break
      await this.manager.applyPartitionState({topic, partition: index, replicas: [], leader: -1, leaderEpoch: partition.leaderEpoch, isr: [], minInsyncReplicas: 1})
    }
    if (broker.listTopics().some((described) => described.name === topic)) await broker.deleteTopic(topic)
  }

  private leaderClientOf(leaderId: number): LeaderClient {
    const leader = this.options.member.view().nodes.find((node) => replicaIdOf(node.id) === leaderId)
    if (!leader) throw new LignumError('UNAVAILABLE', `no node record for replica ${leaderId}: the leader has not registered`)
    return this.leaderClients.clientFor(leader.address)
  }

  /** The leader's ISR change, by replica id, as the catalog's change by node id. */
  private async writeIsr(topic: string, partition: number, change: IsrChangeRequest): Promise<boolean> {
    const current = await this.catalog.readPartitionState(topic, partition)
    if (!current) return false
    const byReplicaId = new Map(current.state.replicas.map((node) => [replicaIdOf(node), node]))
    const isr = change.isr.map((id) => byReplicaId.get(id))
    if (isr.some((node) => node === undefined)) return false
    const addedIncarnations: Record<string, string> = {}
    for (const [id, incarnation] of Object.entries(change.addedIncarnations ?? {})) {
      const node = byReplicaId.get(Number(id))
      if (node !== undefined) addedIncarnations[node] = incarnation
    }
    const result = await this.catalog.writeIsr(topic, partition, {isr: isr as string[], leaderEpoch: change.leaderEpoch, expectedPartitionEpoch: current.state.partitionEpoch, addedIncarnations})
    return result.ok
  }
}

function splitPartitionId(id: string): [string, number] {
  const separator = id.lastIndexOf('-')
  return [id.slice(0, separator), Number(id.slice(separator + 1))]
}

function toDataPlaneState(stored: StoredPartitionState, minInsyncReplicas: number): PartitionState {
  const {state} = stored
  return {
    topic: stored.topic,
    partition: stored.partition,
    replicas: state.replicas.map(replicaIdOf),
    leader: state.leader === null ? -1 : replicaIdOf(state.leader),
    leaderEpoch: state.leaderEpoch,
    isr: state.isr.map(replicaIdOf),
    ...(state.isrIncarnations ? {isrIncarnations: Object.fromEntries(Object.entries(state.isrIncarnations).map(([node, incarnation]) => [replicaIdOf(node), incarnation]))} : {}),
    minInsyncReplicas,
  }
}

function refuseReplicaIdClash(nodeIds: string[]): void {
  const seen = new Map<number, string>()
  for (const id of nodeIds) {
    const other = seen.get(replicaIdOf(id))
    if (other !== undefined) throw new LignumError('CONFIG', `node ids ${other} and ${id} map to the same replica id`, {hint: 'rename one of them (--node-id)'})
    seen.set(replicaIdOf(id), id)
  }
}

/** The offsets topic's fixed layout, whoever asks for it and with whatever they asked. */
function offsetsTopicCreation(): TopicCreation {
  return {name: GROUP_OFFSETS_TOPIC, partitions: GROUP_OFFSETS_PARTITIONS, config: settingsToWire(GROUP_OFFSETS_SETTINGS)}
}

/** Topic settings as the catalog record stores them: the wire's TopicConfig fields, as text. */
export function settingsToCatalog(settings: TopicSettings): Record<string, string> {
  const stored: Record<string, string> = {}
  for (const [key, value] of Object.entries(settingsToWire(settings))) if (value !== undefined) stored[key] = String(value)
  return stored
}

/** The catalog's settings back, checked as a CreateTopic request's are; an unknown key is refused. */
export function settingsFromCatalog(stored: Record<string, string>): TopicSettings {
  const config: TopicConfig = {}
  for (const [key, text] of Object.entries(stored)) {
    // The controller's setting, not the replica's.
    if (key === UNCLEAN_LEADER_ELECTION_SETTING) continue
    if (key === 'flushPolicy') config.flushPolicy = text
    else if (isTopicNumberSetting(key)) config[key] = wholeNumberOf(key, text)
    else throw new LignumError('CONFIG', `the catalog's topic setting "${key}" is unknown to this node; upgrade it to the version that wrote the topic`)
  }
  return settingsFromWire(config)
}

function wholeNumberOf(key: string, text: string): bigint {
  if (!/^-?[0-9]{1,19}$/.test(text)) throw new LignumError('CONFIG', `the catalog's topic setting ${key}="${text}" is not a whole number`)
  return BigInt(text)
}
