/**
 * What the transports need from the node they serve: the broker, metrics, logging, and how
 * the node sees its cluster (itself alone when standalone). Declared here so the servers
 * depend on an interface, not on how the node is wired.
 */
import type {ChannelCredentials} from '@grpc/grpc-js'
import type {AccessControl} from '../acl/access-control.js'
import type {Broker} from '../broker/broker.js'
import type {CommittedOffset, NegativeOffsets} from '../broker/group-offsets.js'
import type {JoinRequest, JoinResult, MemberIdentity} from '../broker/consumer-group.js'
import type {GroupMembershipView} from '../broker/group-membership-view.js'
import type {DescribeGroupResponse, GroupListing, ResetGroupOffsetsResponse, TopicConfig, TopicDescription} from '../generated/lignum/v1/lignum.js'
import type {Logger} from '../logger.js'
import type {PrincipalMapping} from '../tls/principal-mapping.js'
import type {PartitionRoles} from './convert.js'
import type {Metrics} from './metrics.js'
import type {CatalogPartition} from './partition-status.js'

export interface ClusterNodeStatus {
  id: string
  address: string
  status: 'up' | 'down'
  version: string
  /** host:port of its Kafka listener, when it has one. */
  kafkaAddress?: string
  /** Partition ids whose replica there its node reports damaged (replica-health.ts); up nodes only. */
  damagedReplicas?: string[]
  /** Partition ids whose replica there is not verified since its node started. */
  unverifiedReplicas?: string[]
}

export interface ClusterStatusView {
  mode: 'standalone' | 'cluster'
  cluster: string
  controller: string | null
  controllerEpoch: number
  nodes: ClusterNodeStatus[]
  consulReachable: boolean
}

export interface ServingContext {
  broker: Broker
  metrics: Metrics
  logger: Logger
  nodeId: string
  /** host:port clients reach this node's gRPC at. */
  advertisedAddress: string
  version: string
  requestBytesMax: number
  /** The node's channels to other nodes (cluster status): TLS with its own certificate, or plaintext when undefined. */
  peerCredentials?: ChannelCredentials
  /** How a client certificate names its principal (tls.principalMappingRules); the CN when undefined. */
  principalMapping?: PrincipalMapping
  /** Authorization (acl.enabled): undefined when off, and then every request is allowed. */
  access?: AccessControl
  /** Aborted when the node begins to stop: long polls and subscriptions end early. */
  shutdownSignal: AbortSignal
  clusterView(): ClusterStatusView
  /** Cluster mode: topics are created in the cluster's catalog, through the controller. */
  clusterTopics?: {
    createTopic(request: {name: string; partitions: number; replicationFactor?: number; minInsyncReplicas?: number; config?: TopicConfig}): Promise<TopicDescription>
    deleteTopic(name: string): Promise<void>
    /** The catalog's roles of a partition this node holds; undefined before the catalog told. */
    partitionRoles(topic: string, partition: number): PartitionRoles | undefined
    /** Every partition of the catalog, read from Consul now (cluster status). */
    catalogPartitions(): Promise<CatalogPartition[]>
    /** The node id of a replica id of a partition this node holds. */
    nodeOfReplica(topic: string, partition: number, replicaId: number): string | undefined
    /** Every topic of the catalog (internal ones aside), the same from every node. */
    listTopics(): Promise<TopicDescription[]>
    describeTopic(name: string): Promise<TopicDescription>
    /** Metadata's topics from the catalog (all of them when `names` is empty), auto-created there when allowed. */
    metadataTopics(names: string[], allowAutoTopicCreation: boolean): Promise<TopicDescription[]>
  }
  /** Cluster mode: group offsets live with the group's coordinator; `forwardedBy` is set on a request another node passed on. */
  clusterOffsets?: {
    commitOffsets(group: string, offsets: CommittedOffset[], forwardedBy?: string, member?: MemberIdentity, negative?: NegativeOffsets): Promise<void>
    fetchOffsets(group: string, topic: string | undefined, forwardedBy?: string): Promise<CommittedOffset[]>
    joinGroup(group: string, request: JoinRequest, forwardedBy?: string): Promise<JoinResult>
    syncGroup(group: string, identity: MemberIdentity, assignments: Map<string, Buffer>, waitMs: number, forwardedBy?: string): Promise<Buffer>
    heartbeat(group: string, identity: MemberIdentity, forwardedBy?: string): Promise<void>
    leaveGroup(group: string, memberId: string, forwardedBy?: string): Promise<void>
  }
  /**
   * The live membership of the groups this node coordinates, as the group tooling reads it
   * (ListGroups, DescribeGroup, ResetGroupOffsets, DeleteGroup run where the group is coordinated):
   * the broker's standalone, the group coordinator's in cluster mode (set when the node joins).
   */
  groupMembership: GroupMembershipView
  /** Cluster mode: the group tooling, routed to each group's coordinator (group-coordinator.ts). */
  clusterGroups?: {
    listGroups(membership: GroupMembershipView, forwardedBy?: string, partitions?: number[]): Promise<GroupListing[]>
    describeGroup(group: string, membership: GroupMembershipView, forwardedBy?: string): Promise<DescribeGroupResponse>
    resetGroupOffsets(group: string, offsets: CommittedOffset[], options: {force: boolean; validateOnly: boolean}, membership: GroupMembershipView, forwardedBy?: string): Promise<ResetGroupOffsetsResponse>
    deleteGroup(group: string, membership: GroupMembershipView, forwardedBy?: string): Promise<number>
  }
  /** Cluster mode: producer ids from blocks reserved in Consul (cluster/producer-id-blocks.ts). */
  producerIds?: {nextId(): Promise<number>}
  /** False while the node cannot serve (starting, stopping, or its cluster unreachable). */
  ready(): boolean
}
