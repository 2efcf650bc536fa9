/**
 * The cluster status a node answers with, as `lignum cluster status` shows it: the document
 * printed by --json (nodes, this node's topics, every partition of the cluster with its
 * replicas' progress, the health summary), and its plain-text rendering for pipes.
 * Unknown offsets are null in the document and "-" in text, never a made-up number.
 */
import type {ClusterStatusResponse, PartitionStatus} from '../generated/lignum/v1/lignum.js'
import {eligibilityOf} from '../cluster/replica-health.js'
import {healthOf, partitionsCounted, type ClusterHealth} from './cluster-health.js'
import {renderDamagedPartitions, renderPartitionTable, renderTable, summarizeDamage, summarizeTopic, type DamageSummary, type TopicSummary} from './topic-table.js'

export interface ClusterStatusNode {
  id: string
  address: string
  /** "up" and answering; "unreachable": up in Consul but it did not answer (stopped, frozen, cut off); "down". */
  status: 'up' | 'down' | 'unreachable'
  version: string
  /** "topic-partition" ids whose replica on this node it reports damaged ("*": all of them). */
  damagedReplicas: string[]
  /** Those it has not verified since it started. */
  unverifiedReplicas: string[]
}

export interface ClusterStatus {
  cluster: string
  /** The controller's node id, or null when the cluster has none. */
  controller: string | null
  controllerEpoch: number
  /** The node that answered. */
  node: string
  mode: 'standalone' | 'cluster'
  consulReachable: boolean
  nodes: ClusterStatusNode[]
  /** Why each unreachable node is: what asking it answered. */
  unreachable: {node: string; reason: string}[]
  /** The topics the answering node holds, with each partition's leader and offsets. */
  topics: TopicSummary[]
  /** The answering node's partitions held offline because their files are damaged (internal topics too). */
  damagedPartitions: {topic: string; partition: number; damage: DamageSummary}[]
  /** Every partition of the cluster: roles from the catalog, offsets from its leader. */
  partitions: ClusterStatusPartition[]
  /** Why the partitions could not be listed; null when they were. */
  partitionsError: string | null
  health: ClusterHealth
}

export interface ClusterStatusReplica {
  node: string
  inSync: boolean
  /** Null when unknown (the leader did not report, or the replica has not fetched yet). */
  logEndOffset: number | null
  /** The leader's log end offset minus this replica's, in records. */
  lagRecords: number | null
  /** How long ago, by the leader's clock, it last caught up to the leader's log end. */
  caughtUpAgoMs: number | null
  /**
   * What its node reports of its stored batches: "damaged" (a batch failing its CRC, or held
   * offline at open: never elected until repaired), "unverified" (not re-read since the node
   * started), "verified", or "unknown" (its node is down).
   */
  storage: ReplicaStorage
}

export type ReplicaStorage = 'verified' | 'unverified' | 'damaged' | 'unknown'

export interface ClusterStatusPartition {
  topic: string
  partition: number
  leader: string | null
  leaderEpoch: number
  replicas: string[]
  isr: string[]
  minInsyncReplicas: number
  /** "online"; offline: "no-leader", "leader-down", "damaged", "not-leading"; or "unknown" (the leader did not report). */
  leaderState: string
  reason: string | null
  highWatermark: number | null
  logEndOffset: number | null
  replicaStatus: ClusterStatusReplica[]
}

export function clusterStatusOf(response: ClusterStatusResponse): ClusterStatus {
  const status: Omit<ClusterStatus, 'partitions' | 'partitionsError' | 'health'> = {
    cluster: response.cluster,
    controller: response.controller === '' ? null : response.controller,
    controllerEpoch: Number(response.controllerEpoch),
    node: response.node,
    mode: response.mode === 'standalone' ? 'standalone' : 'cluster',
    consulReachable: response.consulReachable,
    nodes: response.nodes.map((node) => ({
      id: node.id,
      address: node.address,
      status: nodeStatusOf(node.status, node.id in response.unreachableNodes),
      version: node.version,
      damagedReplicas: node.damagedReplicas,
      unverifiedReplicas: node.unverifiedReplicas,
    })),
    unreachable: Object.entries(response.unreachableNodes).map(([node, reason]) => ({node, reason})),
    topics: response.topics.map((topic) => summarizeTopic(topic)),
    damagedPartitions: response.damagedPartitions.flatMap((entry) => (entry.damage ? [{topic: entry.topic, partition: entry.partition, damage: summarizeDamage(entry.damage)}] : [])),
  }
  const partitions = response.partitions.map((entry) => partitionOf(entry, status.nodes))
  const partitionsError = response.partitionsError === '' ? null : response.partitionsError
  return {...status, partitions, partitionsError, health: healthOf({cluster: status.cluster, controller: status.controller, partitionsError, partitions})}
}

function nodeStatusOf(status: string, unreachable: boolean): ClusterStatusNode['status'] {
  if (status !== 'up') return 'down'
  return unreachable ? 'unreachable' : 'up'
}

function partitionOf(entry: PartitionStatus, nodes: readonly ClusterStatusNode[]): ClusterStatusPartition {
  const known = (value: bigint | undefined) => (value === undefined ? null : Number(value))
  const up = new Set(nodes.filter((node) => node.status === 'up').map((node) => node.id))
  const eligibility = eligibilityOf(nodes, entry.topic, entry.partition)
  const storageOf = (node: string): ReplicaStorage => {
    if (!up.has(node)) return 'unknown'
    if (eligibility.damaged.has(node)) return 'damaged'
    return eligibility.unverified.has(node) ? 'unverified' : 'verified'
  }
  return {
    topic: entry.topic,
    partition: entry.partition,
    leader: entry.leader === '' ? null : entry.leader,
    leaderEpoch: entry.leaderEpoch,
    replicas: entry.replicas,
    isr: entry.isr,
    minInsyncReplicas: entry.minInsyncReplicas,
    leaderState: entry.leaderState,
    reason: entry.reason === '' ? null : entry.reason,
    highWatermark: known(entry.highWatermark),
    logEndOffset: known(entry.logEndOffset),
    replicaStatus: entry.replicaStatus.map((replica) => ({
      node: replica.node,
      inSync: entry.isr.includes(replica.node),
      logEndOffset: known(replica.logEndOffset),
      lagRecords: known(replica.lagRecords),
      caughtUpAgoMs: known(replica.caughtUpAgoMs),
      storage: storageOf(replica.node),
    })),
  }
}

/** One line about the cluster as a whole, then a row per node; the controller is marked. */
export function renderClusterStatusText(status: ClusterStatus): string {
  const rows = status.nodes.map((node) => [node.id, node.address, node.status, node.version, node.id === status.controller ? 'controller' : ''])
  return [
    clusterHeadline(status),
    ...(status.mode === 'cluster' && !status.consulReachable ? [`warning: node ${status.node} cannot reach Consul; this view may be stale`] : []),
    renderTable(NODE_HEADER, rows),
    ...unreachableLines(status),
    ...(status.topics.length > 0 ? ['', renderPartitionTable(...status.topics)] : []),
    ...(status.damagedPartitions.length > 0 ? ['', renderDamagedPartitions(status.damagedPartitions)] : []),
    ...(status.partitions.length > 0 ? ['', renderClusterPartitions(status.partitions), '', renderReplicaProgress(status.partitions)] : []),
    '',
    healthLine(status.health),
  ].join('\n')
}

export const NODE_HEADER = ['NODE', 'ADDRESS', 'STATUS', 'VERSION', 'ROLE']

/** A line per unreachable node: what asking it answered. */
export function unreachableLines(status: ClusterStatus): string[] {
  return status.unreachable.map((entry) => `node ${entry.node} is unreachable: ${entry.reason}`)
}

const CLUSTER_PARTITION_HEADER = ['TOPIC', 'PARTITION', 'LEADER', 'EPOCH', 'REPLICAS', 'ISR', 'MIN-ISR', 'HIGH-WATERMARK', 'STATE']
const REPLICA_HEADER = ['TOPIC', 'PARTITION', 'REPLICA', 'ROLE', 'LOG-END', 'LAG', 'CAUGHT-UP', 'STORAGE']

/** A row per partition of the cluster: who leads it at which epoch, replicas, ISR, high watermark. */
export function renderClusterPartitions(partitions: ClusterStatusPartition[]): string {
  return renderTable(
    CLUSTER_PARTITION_HEADER,
    partitions.map((entry) => [entry.topic, entry.partition, entry.leader ?? '-', entry.leaderEpoch, entry.replicas.join(','), entry.isr.join(','), entry.minInsyncReplicas, unknownAsDash(entry.highWatermark), entry.leaderState]),
  )
}

/** A row per replica: its log end offset and lag behind the leader, and how long since it caught up. */
export function renderReplicaProgress(partitions: ClusterStatusPartition[]): string {
  return renderTable(
    REPLICA_HEADER,
    partitions.flatMap((entry) =>
      entry.replicaStatus.map((replica) => [
        entry.topic,
        entry.partition,
        replica.node,
        replicaRole(entry, replica),
        unknownAsDash(replica.logEndOffset),
        unknownAsDash(replica.lagRecords),
        replica.caughtUpAgoMs === null ? '-' : `${replica.caughtUpAgoMs}ms ago`,
        replica.storage,
      ]),
    ),
  )
}

export function replicaRole(entry: ClusterStatusPartition, replica: ClusterStatusReplica): string {
  if (replica.node === entry.leader) return 'leader'
  return replica.inSync ? 'in-sync' : 'out-of-sync'
}

/** "healthy: …" or "unhealthy: …": the line a script greps and a person reads first. */
export function healthLine(health: ClusterHealth): string {
  if (health.healthy) return `healthy: ${partitionsCounted(health.partitionCount)}, none offline or under-replicated`
  const belowMin = health.belowMinIsr.length > 0 ? ` (${health.belowMinIsr.length} below min ISR: acks=all refused)` : ''
  return `unhealthy: ${health.reason}${belowMin}`
}

function unknownAsDash(value: number | null): string | number {
  return value === null ? '-' : value
}

export function clusterHeadline(status: ClusterStatus): string {
  const controller = status.controller === null ? 'no controller' : `controller ${status.controller} (epoch ${status.controllerEpoch})`
  const up = status.nodes.filter((node) => node.status === 'up').length
  return `cluster ${status.cluster} (${status.mode}): ${controller}, ${up}/${status.nodes.length} nodes up, answered by ${status.node}`
}
