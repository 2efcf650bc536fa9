/**
 * Whether a cluster is healthy, from its status document, as `rpk cluster health` decides:
 * every partition has a live leader serving it (none offline, none unknown) and every ISR
 * holds all the partition's replicas (none under-replicated); beyond rpk, no replica is
 * reported damaged (it needs `lignum segments repair`, and is never elected until then). A pure function of the document,
 * so the exit code of `lignum cluster status` follows from what it printed.
 *
 * Invariants: healthy exactly when there is a controller, the partitions could be listed, and
 * the offline, unknown, under-replicated and damaged lists are empty; each list names a partition once.
 */
import {LignumError, type ErrorCode} from '../errors.js'

/** The part of a partition's status the health needs. */
export interface PartitionHealthInput {
  topic: string
  partition: number
  replicas: string[]
  isr: string[]
  minInsyncReplicas: number
  leaderState: string
  reason: string | null
  /** What each replica's node reports of its stored batches; absent: nothing known. */
  replicaStatus?: readonly {node: string; storage: string}[]
}

export interface ClusterHealth {
  healthy: boolean
  partitionCount: number
  /** "topic-partition" names: the ISR is smaller than the replica set. */
  underReplicated: string[]
  /** Fewer in-sync replicas than the topic's minimum: acks=all writes are refused. */
  belowMinIsr: string[]
  /** No live leader serves it: no leader, a leader that is not a live member, a damaged copy, a leader not in its role yet. */
  offline: string[]
  /** Its leader is a live member but did not report: offline or only slow, this view cannot tell. */
  unknown: string[]
  /** "topic-partition on node": replicas their node reports damaged, which need repair. */
  damagedReplicas: string[]
  /** One line on what is wrong; null when healthy. */
  reason: string | null
}

export interface HealthInput {
  cluster: string
  controller: string | null
  partitionsError: string | null
  partitions: PartitionHealthInput[]
}

const NAMES_LISTED_MAX = 10

export function healthOf(status: HealthInput): ClusterHealth {
  const name = (entry: PartitionHealthInput) => `${entry.topic}-${entry.partition}`
  const online = status.partitions.filter((entry) => entry.leaderState === 'online')
  const health: ClusterHealth = {
    healthy: false,
    partitionCount: status.partitions.length,
    underReplicated: status.partitions.filter((entry) => entry.isr.length < entry.replicas.length).map(name),
    belowMinIsr: status.partitions.filter((entry) => entry.isr.length < entry.minInsyncReplicas).map(name),
    offline: status.partitions.filter((entry) => entry.leaderState !== 'online' && entry.leaderState !== 'unknown').map(name),
    unknown: status.partitions.filter((entry) => entry.leaderState === 'unknown').map(name),
    damagedReplicas: status.partitions.flatMap((entry) => (entry.replicaStatus ?? []).filter((replica) => replica.storage === 'damaged').map((replica) => `${name(entry)} on ${replica.node}`)),
    reason: null,
  }
  health.reason = unhealthyReason(status, health, status.partitions.filter((entry) => !online.includes(entry)))
  health.healthy = health.reason === null
  return health
}

function unhealthyReason(status: HealthInput, health: ClusterHealth, notOnline: PartitionHealthInput[]): string | null {
  if (status.controller === null) return `cluster ${status.cluster} has no controller`
  if (status.partitionsError !== null) return status.partitionsError
  const parts: string[] = []
  if (health.offline.length > 0) parts.push(`${health.offline.length} offline (${listed(notOnline.filter((entry) => entry.leaderState !== 'unknown').map((entry) => `${entry.topic}-${entry.partition}: ${entry.reason}`), '; ')})`)
  if (health.unknown.length > 0) parts.push(`${health.unknown.length} unknown (${listed(notOnline.filter((entry) => entry.leaderState === 'unknown').map((entry) => `${entry.topic}-${entry.partition}: ${entry.reason}`), '; ')})`)
  if (health.underReplicated.length > 0) parts.push(`${health.underReplicated.length} under-replicated (${listed(health.underReplicated)})`)
  if (health.damagedReplicas.length > 0) parts.push(`${health.damagedReplicas.length} damaged replica${health.damagedReplicas.length === 1 ? '' : 's'} to repair with lignum segments repair (${listed(health.damagedReplicas)})`)
  return parts.length === 0 ? null : `${parts.join(', ')} of ${partitionsCounted(health.partitionCount)}`
}

export function partitionsCounted(count: number): string {
  return count === 1 ? '1 partition' : `${count} partitions`
}

/** A bounded list: a cluster with thousands of bad partitions still gets one readable line. */
function listed(names: string[], separator = ', '): string {
  const shown = names.slice(0, NAMES_LISTED_MAX).join(separator)
  return names.length > NAMES_LISTED_MAX ? `${shown}${separator}and ${names.length - NAMES_LISTED_MAX} more` : shown
}

/**
 * The error an unhealthy cluster ends the command with; its code gives the exit code (errors.ts):
 * no controller, then offline or unknown partitions, then under-replicated ones or damaged replicas.
 */
export function unhealthyError(health: ClusterHealth, status: HealthInput, prefix = ''): LignumError | null {
  if (health.healthy || health.reason === null) return null
  const code: ErrorCode = status.controller === null ? 'UNAVAILABLE' : status.partitionsError !== null || health.offline.length > 0 || health.unknown.length > 0 ? 'PARTITIONS_OFFLINE' : 'UNDER_REPLICATED'
  return new LignumError(code, `${prefix}${health.reason}`)
}
