/**
 * Cluster mode's consumer-group offsets (Kafka's group coordinator): `__consumer_offsets` is a
 * replicated topic of the catalog like any other, created through the controller on first use
 * with GROUP_OFFSETS_PARTITIONS partitions and the cluster's replication defaults. A group's
 * offsets live in partition groupOffsetsPartitionOf(group); the leader of that partition is the
 * group's coordinator: it appends commits with acks=all and answers fetches from its table.
 *
 * Any node takes a request: one that does not coordinate the group forwards it to the node that
 * does, in one hop; a forwarded request that reaches a node which (by now) does not coordinate
 * the group is answered NOT_LEADER (retriable), never forwarded again, so requests cannot
 * circle between nodes whose views of the catalog differ for a moment.
 *
 * The group tooling (broker/group-admin.ts) is routed the same way: describe, seek and delete go
 * to the group's coordinator; a listing asks every coordinator for the partitions it leads
 * (one forwarded request per node), so it covers every partition of the offsets topic or fails.
 * Membership (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) is routed the same way and lives in
 * memory at the coordinator, one GroupMemberships per offsets partition led, opened at that
 * leader epoch: when the leadership ends (or the epoch moves) it is closed, its members are
 * answered NOT_COORDINATOR (retriable), and they rejoin at the new coordinator, which knows
 * none of them (UNKNOWN_MEMBER_ID until they do). A member's commit is checked against that
 * membership before it is stored, so a stale generation is fenced. Whether a negative offset
 * ("no committed offset", a tombstone) is allowed is decided once, at the node the client sent
 * the commit to, by its listener's rule (NegativeOffsets): the coordinator stores what it forwards.
 *
 * Invariants: a table answers only while its partition leads at the leader epoch it was read
 * at (GroupOffsets.current); it is read when the node becomes leader, after the high watermark
 * covers the whole log the new leader holds, so it never misses a commit acknowledged under an
 * earlier leadership and never holds one that is not committed. A follower keeps no table.
 */
import {Metadata, type ChannelCredentials, type ServiceError} from '@grpc/grpc-js'
import type {Broker} from '../broker/broker.js'
import {deleteGroup, describeGroup, listGroups, resetGroupOffsets, type GroupOffsetsTable} from '../broker/group-admin.js'
import type {JoinRequest, JoinResult, MemberIdentity} from '../broker/consumer-group.js'
import {GroupMemberships} from '../broker/group-membership.js'
import type {GroupMembership, GroupMembershipView} from '../broker/group-membership-view.js'
import {GROUP_OFFSETS_TOPIC, GroupOffsets, checkCommittedOffsets, groupOffsetsPartitionOf, validateGroupName, type CommittedOffset, type NegativeOffsets} from '../broker/group-offsets.js'
import type {Partition} from '../broker/partition.js'
import {Connection} from '../client/connection.js'
import {LignumError} from '../errors.js'
import type {DescribeGroupResponse, GroupListing, ResetGroupOffsetsResponse} from '../generated/lignum/v1/lignum.js'
import type {Logger} from '../logger.js'
import {groupDetailsToWire, groupListingToWire, offsetChangesToWire, offsetsToWire} from './group-wire.js'

/**
 * Fixed at creation: a group's partition is its hash modulo this count, so changing it would
 * move every group away from its offsets. 6 divides evenly over 1, 2, 3 and 6 nodes, so the
 * controller's round-robin balances coordinators over small clusters; each partition costs
 * every replica a follower fetch, which is why it is not Kafka's 50.
 */
export const GROUP_OFFSETS_PARTITIONS = 6
/** Kafka's offsets.commit.timeout.ms: how long a commit waits for the in-sync replicas. */
export const OFFSET_COMMIT_TIMEOUT_MS = 5_000
// A new leader reads its table once its whole log is committed: followers fetch within a
// round trip, or leave the ISR within replicaLagMaxMs (10 s by default).
const LOAD_TIMEOUT_MS = 30_000
// The catalog named this node leader of the partition; it applies that within a Consul round trip or two.
const LEADERSHIP_ARRIVAL_MS = 10_000
const LEADERSHIP_POLL_MS = 20
// A forwarded request gets this long at the coordinator (a commit waits for acks=all there).
const FORWARD_DEADLINE_MS = 30_000
/** gRPC metadata a forwarding node sets: the receiver answers itself, never forwards again. */
export const FORWARDED_BY_METADATA_KEY = 'lignum-forwarded-by'
/** gRPC metadata a forwarding node sets on a JoinGroup: the member's own address, for the group tooling. */
export const FORWARDED_FOR_METADATA_KEY = 'lignum-forwarded-for'

/** What the coordinator needs from the cluster wiring (server/cluster-replication.ts). */
export interface CoordinatorCluster {
  nodeId: string
  /** Partitions of the offsets topic; creates it in the catalog (through the controller) if absent. */
  offsetsPartitionCount(): Promise<number>
  /** The node id the catalog names leader of a partition of the offsets topic, if any. */
  offsetsLeaderOf(partition: number): Promise<string | undefined>
  /** The gRPC address of a registered node. */
  addressOf(nodeId: string): string | undefined
  /** Refuses a commit for a topic-partition the catalog does not have. */
  checkTopicPartition(topic: string, partition: number): Promise<void>
  /** How this node's channels to other nodes are secured (TLS with its certificate); plaintext when undefined. */
  peerCredentials?: ChannelCredentials
}

export class GroupCoordinator implements GroupMembershipView {
  /** Per offsets partition this node leads: its table, being read or read. */
  private readonly tables = new Map<number, Promise<GroupOffsets>>()
  /** Per offsets partition this node leads: its groups' live membership, valid at that leader epoch. */
  private readonly memberships = new Map<number, {leaderEpoch: number; groups: GroupMemberships}>()
  private readonly connections = new Map<string, Connection>()
  private closed = false

  constructor(
    private readonly broker: Broker,
    private readonly cluster: CoordinatorCluster,
    private readonly logger: Logger,
  ) {}

  /**
   * `member`: a group member's commit, fenced at the coordinator unless it is of the current generation.
   * `negative`: the rule of the entry point that took the commit (Broker.commitOffsets); a forwarded
   * commit was checked against it at that node, so its negative offsets forget (NegativeOffsets).
   */
  async commitOffsets(group: string, offsets: CommittedOffset[], forwardedBy?: string, member?: MemberIdentity, negative: NegativeOffsets = 'refuse'): Promise<void> {
    validateGroupName(group)
    checkCommittedOffsets(offsets, forwardedBy === undefined ? negative : 'forget')
    const route = await this.routeOf(group, forwardedBy)
    if (route.kind === 'forward') {
      const request = {group, offsets: offsets.map((entry) => ({...entry, offset: BigInt(entry.offset)})), memberId: member?.memberId ?? '', generationId: member?.generationId ?? 0}
      await this.forward(route.address, (connection) => connection.grpc.commitOffsets, request)
      return
    }
    ;(await this.membershipsOf(route.partition)).checkCommit(group, member)
    const named = new Map(offsets.map((entry) => [`${entry.topic}\u0000${entry.partition}`, entry]))
    await Promise.all([...named.values()].map((entry) => this.cluster.checkTopicPartition(entry.topic, entry.partition)))
    await (await this.tableOf(route.partition)).commit(group, offsets)
  }

  async joinGroup(group: string, request: JoinRequest, forwardedBy?: string): Promise<JoinResult> {
    validateGroupName(group)
    const route = await this.routeOf(group, forwardedBy)
    if (route.kind === 'forward') {
      const metadata = {[FORWARDED_FOR_METADATA_KEY]: request.host}
      const {host: _host, ...wire} = request
      return this.forward(route.address, (connection) => connection.grpc.joinGroup, {group, ...wire}, request.rebalanceTimeoutMs, metadata)
    }
    return (await this.membershipsOf(route.partition)).join(group, request)
  }

  async syncGroup(group: string, identity: MemberIdentity, assignments: Map<string, Buffer>, waitMs: number, forwardedBy?: string): Promise<Buffer> {
    validateGroupName(group)
    const route = await this.routeOf(group, forwardedBy)
    if (route.kind === 'forward') {
      const request = {group, ...identity, assignments: [...assignments].map(([memberId, assignment]) => ({memberId, assignment}))}
      return (await this.forward(route.address, (connection) => connection.grpc.syncGroup, request, waitMs)).assignment
    }
    return (await this.membershipsOf(route.partition)).sync(group, identity, assignments)
  }

  async heartbeat(group: string, identity: MemberIdentity, forwardedBy?: string): Promise<void> {
    validateGroupName(group)
    const route = await this.routeOf(group, forwardedBy)
    if (route.kind === 'forward') {
      await this.forward(route.address, (connection) => connection.grpc.heartbeat, {group, ...identity})
      return
    }
    ;(await this.membershipsOf(route.partition)).heartbeat(group, identity)
  }

  async leaveGroup(group: string, memberId: string, forwardedBy?: string): Promise<void> {
    validateGroupName(group)
    const route = await this.routeOf(group, forwardedBy)
    if (route.kind === 'forward') {
      await this.forward(route.address, (connection) => connection.grpc.leaveGroup, {group, memberId})
      return
    }
    ;(await this.membershipsOf(route.partition)).leave(group, memberId)
  }

  /** The membership of a group this node coordinates now; Empty when it coordinates none of it. */
  membershipOf(group: string): GroupMembership {
    for (const {groups} of this.memberships.values()) {
      if (groups.groupsWithMembers().includes(group)) return groups.membershipOf(group)
    }
    return {state: 'Empty', generationId: 0, protocol: '', members: []}
  }

  groupsWithMembers(): string[] {
    return [...this.memberships.values()].flatMap(({groups}) => groups.groupsWithMembers()).sort()
  }

  async fetchOffsets(group: string, topic: string | undefined, forwardedBy?: string): Promise<CommittedOffset[]> {
    validateGroupName(group)
    const route = await this.routeOf(group, forwardedBy)
    if (route.kind === 'forward') {
      const response = await this.forward(route.address, (connection) => connection.grpc.fetchOffsets, {group, topic: topic ?? ''})
      return response.offsets.map((entry) => ({...entry, offset: Number(entry.offset)}))
    }
    return (await this.tableOf(route.partition)).fetch(group, topic)
  }

  /** Every group of every coordinator; `partitions` is set on a request another node gathers, naming those this node leads. */
  async listGroups(membership: GroupMembershipView, forwardedBy?: string, partitions: number[] = []): Promise<GroupListing[]> {
    const count = await this.cluster.offsetsPartitionCount()
    if (forwardedBy !== undefined) return this.listLedPartitions(partitions, count, membership, forwardedBy)
    const byLeader = new Map<string, number[]>()
    for (let partition = 0; partition < count; partition++) {
      const leader = await this.cluster.offsetsLeaderOf(partition)
      if (leader === undefined) throw new LignumError('UNAVAILABLE', `partition ${partition} of ${GROUP_OFFSETS_TOPIC} has no leader yet, so its groups cannot be listed; retry in a few seconds`)
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition])
    }
    const answers = await Promise.all(
      [...byLeader].map(([leader, led]) => (leader === this.cluster.nodeId ? this.listLedPartitions(led, count, membership) : this.forwardListing(leader, led))),
    )
    return answers.flat().sort((a, b) => a.group.localeCompare(b.group))
  }

  async describeGroup(group: string, membership: GroupMembershipView, forwardedBy?: string): Promise<DescribeGroupResponse> {
    validateGroupName(group)
    const route = await this.routeOf(group, forwardedBy)
    if (route.kind === 'forward') return this.forward(route.address, (connection) => connection.grpc.describeGroup, {group})
    return groupDetailsToWire(describeGroup(group, await this.adminTableOf(route.partition), membership), this.cluster.nodeId)
  }

  async resetGroupOffsets(group: string, offsets: CommittedOffset[], options: {force: boolean; validateOnly: boolean}, membership: GroupMembershipView, forwardedBy?: string): Promise<ResetGroupOffsetsResponse> {
    validateGroupName(group)
    const route = await this.routeOf(group, forwardedBy)
    if (route.kind === 'forward') return this.forward(route.address, (connection) => connection.grpc.resetGroupOffsets, {group, offsets: offsetsToWire(offsets), ...options})
    return offsetChangesToWire(await resetGroupOffsets(group, offsets, options, await this.adminTableOf(route.partition), membership))
  }

  async deleteGroup(group: string, membership: GroupMembershipView, forwardedBy?: string): Promise<number> {
    validateGroupName(group)
    const route = await this.routeOf(group, forwardedBy)
    if (route.kind === 'forward') return (await this.forward(route.address, (connection) => connection.grpc.deleteGroup, {group})).deletedOffsets
    return deleteGroup(group, await this.adminTableOf(route.partition), membership)
  }

  /**
   * The catalog's word on a partition of the offsets topic this node holds: leading starts
   * reading its table (Kafka loads a group partition when elected), anything else drops it.
   */
  partitionStateApplied(partition: number, leading: boolean): void {
    if (!leading) {
      this.tables.delete(partition)
      this.dropMemberships(partition)
      return
    }
    this.tableOf(partition).catch((error: LignumError) => this.logger.warn('could not read committed offsets yet; the next request tries again', {partition, error: error.message}))
  }

  /** Forgets a deleted topic's offsets in the tables held here (the log keeps them, as standalone). */
  forgetTopic(topic: string): void {
    for (const table of this.tables.values()) void table.then((offsets) => offsets.forgetTopic(topic), () => {})
  }

  close(): void {
    this.closed = true
    for (const partition of [...this.memberships.keys()]) this.dropMemberships(partition)
    for (const connection of this.connections.values()) connection.close()
    this.connections.clear()
    this.tables.clear()
  }

  private async routeOf(group: string, forwardedBy: string | undefined): Promise<{kind: 'local'; partition: number} | {kind: 'forward'; address: string}> {
    const partition = groupOffsetsPartitionOf(group, await this.cluster.offsetsPartitionCount())
    const leader = await this.cluster.offsetsLeaderOf(partition)
    if (leader === undefined) throw new LignumError('UNAVAILABLE', `partition ${partition} of ${GROUP_OFFSETS_TOPIC} (group ${group}) has no leader yet; retry in a few seconds`)
    if (leader === this.cluster.nodeId) return {kind: 'local', partition}
    if (forwardedBy !== undefined) {
      throw new LignumError('NOT_LEADER', `node ${forwardedBy} sent group ${group}'s request here, but node ${leader} coordinates it (leads partition ${partition} of ${GROUP_OFFSETS_TOPIC}); retry`)
    }
    const address = this.cluster.addressOf(leader)
    if (address === undefined) throw new LignumError('UNAVAILABLE', `node ${leader} coordinates group ${group} but has not registered an address; retry in a few seconds`)
    return {kind: 'forward', address}
  }

  /** The groups of partitions this node leads; a forwarded request naming one it does not lead is refused, not passed on. */
  private async listLedPartitions(partitions: number[], count: number, membership: GroupMembershipView, forwardedBy?: string): Promise<GroupListing[]> {
    const listings: GroupListing[] = []
    for (const partition of partitions) {
      const leader = forwardedBy === undefined ? this.cluster.nodeId : await this.cluster.offsetsLeaderOf(partition)
      if (leader !== this.cluster.nodeId) {
        throw new LignumError('NOT_LEADER', `node ${forwardedBy} asked this node for the groups of partition ${partition} of ${GROUP_OFFSETS_TOPIC}, but ${leader ?? 'no node'} leads it now; retry`)
      }
      const coordinatedHere = (group: string) => groupOffsetsPartitionOf(group, count) === partition
      const table = await this.tableOf(partition)
      listings.push(...listGroups(table, membership, coordinatedHere).map((listing) => groupListingToWire(listing, this.cluster.nodeId)))
    }
    return listings
  }

  private async forwardListing(leader: string, partitions: number[]): Promise<GroupListing[]> {
    const address = this.cluster.addressOf(leader)
    if (address === undefined) throw new LignumError('UNAVAILABLE', `node ${leader} coordinates groups but has not registered an address; retry in a few seconds`)
    return (await this.forward(address, (connection) => connection.grpc.listGroups, {coordinatorPartitions: partitions})).groups
  }

  /** A led partition's table as the group tooling uses it: a seek commits only to topic-partitions of the catalog. */
  private async adminTableOf(partition: number): Promise<GroupOffsetsTable> {
    const table = await this.tableOf(partition)
    return {
      groups: () => table.groups(),
      fetch: (group, topic) => table.fetch(group, topic),
      commit: async (group, offsets) => {
        await Promise.all(offsets.map((entry) => this.cluster.checkTopicPartition(entry.topic, entry.partition)))
        await table.commit(group, offsets)
      },
      deleteGroup: (group) => table.deleteGroup(group),
    }
  }

  /** The membership of a partition this node leads, at its current leader epoch (a new epoch starts afresh). */
  private async membershipsOf(index: number): Promise<GroupMemberships> {
    const partition = await this.leadingPartition(index)
    const known = this.memberships.get(index)
    if (known?.leaderEpoch === partition.leaderEpoch) return known.groups
    this.dropMemberships(index)
    const groups = new GroupMemberships(this.logger)
    this.memberships.set(index, {leaderEpoch: partition.leaderEpoch, groups})
    return groups
  }

  private dropMemberships(index: number): void {
    this.memberships.get(index)?.groups.close()
    this.memberships.delete(index)
  }

  /** The table of a partition this node leads, read at its current leader epoch. */
  private async tableOf(index: number): Promise<GroupOffsets> {
    const partition = await this.leadingPartition(index)
    const known = this.tables.get(index)
    if (known) {
      const table = await known.catch(() => undefined)
      if (table?.current && table.leaderEpoch === partition.leaderEpoch) return table
      if (this.tables.get(index) === known) this.tables.delete(index)
    }
    const pending = this.tables.get(index)
    if (pending) return pending
    const reading = this.readTable(partition)
    this.tables.set(index, reading)
    reading.catch(() => {
      if (this.tables.get(index) === reading) this.tables.delete(index)
    })
    return reading
  }

  private async readTable(partition: Partition): Promise<GroupOffsets> {
    const leaderEpoch = partition.leaderEpoch
    const logEnd = partition.logEndOffset
    if (logEnd > 0) await partition.waitForHighWatermark(logEnd - 1, LOAD_TIMEOUT_MS)
    if (partition.role !== 'leader' || partition.leaderEpoch !== leaderEpoch) throw notLeading(partition)
    const table = await GroupOffsets.open(partition, this.logger, {replicatedCommitTimeoutMs: OFFSET_COMMIT_TIMEOUT_MS})
    this.logger.info('committed offsets read', {topic: GROUP_OFFSETS_TOPIC, partition: partition.partition, leaderEpoch, highWatermark: partition.highWatermark})
    return table
  }

  /** The local partition once it leads, as the catalog said it does (bounded wait for the state to apply). */
  private async leadingPartition(index: number): Promise<Partition> {
    const giveUpAtMs = Date.now() + LEADERSHIP_ARRIVAL_MS
    for (;;) {
      const partition = this.broker.localPartition(GROUP_OFFSETS_TOPIC, index)
      if (partition?.role === 'leader') return partition
      if (Date.now() > giveUpAtMs || this.closed) {
        throw new LignumError('NOT_LEADER', `the catalog names this node leader of partition ${index} of ${GROUP_OFFSETS_TOPIC}, but it does not lead it (yet); retry`)
      }
      await new Promise((resolve) => setTimeout(resolve, LEADERSHIP_POLL_MS))
    }
  }

  /** `waitMs`: how long the coordinator may hold the request beyond a round trip (a join waits for the round). */
  private forward<Request, Response>(address: string, method: (connection: Connection) => ForwardedMethod<Request, Response>, request: Request, waitMs = 0, extra: Record<string, string> = {}): Promise<Response> {
    if (this.closed) return Promise.reject(new LignumError('UNAVAILABLE', 'the node is stopping; retry on another node'))
    let connection = this.connections.get(address)
    if (!connection) this.connections.set(address, (connection = new Connection(address, this.cluster.peerCredentials)))
    const metadata = new Metadata()
    metadata.set(FORWARDED_BY_METADATA_KEY, this.cluster.nodeId)
    for (const [key, value] of Object.entries(extra)) metadata.set(key, value)
    const target = connection
    return new Promise((resolve, reject) => {
      method(target).call(target.grpc, request, metadata, {deadline: Date.now() + waitMs + FORWARD_DEADLINE_MS}, (error, response) => {
        if (error) reject(target.toLignumError(error))
        else resolve(response)
      })
    })
  }
}

type ForwardedMethod<Request, Response> = (
  request: Request,
  metadata: Metadata,
  options: {deadline: number},
  callback: (error: ServiceError | null, response: Response) => void,
) => unknown

function notLeading(partition: Partition): LignumError {
  return new LignumError('NOT_LEADER', `${partition.name} changed leadership while its committed offsets were being read; retry`)
}
