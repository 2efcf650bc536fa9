/**
 * A cluster's partitions in one line, for the terminal view of `lignum cluster status`: how many
 * in how many topics, how many online, and how many in each kind of trouble. The full tables
 * grow with the partitions and would push the cluster line and the node table off the screen;
 * `--partitions` draws them instead.
 *
 * Invariant: a count is shown only when it is not zero, except the total and the online count.
 */
import type {ClusterStatus} from './cluster-status-table.js'
import {partitionsCounted} from './cluster-health.js'

export function partitionSummaryLine(status: ClusterStatus): string {
  if (status.partitionsError !== null) return `partitions: not listed (${status.partitionsError})`
  const {partitions, health} = status
  const local = status.damagedPartitions.length > 0 ? `; ${status.damagedPartitions.length} held offline on ${status.node} as damaged` : ''
  if (partitions.length === 0) return `partitions: none${local}`
  const topics = new Set(partitions.map((entry) => entry.topic)).size
  const online = partitions.filter((entry) => entry.leaderState === 'online').length
  const counts = [
    `${online} online`,
    ...counted(health.offline.length, 'offline'),
    ...counted(health.unknown.length, 'unknown'),
    ...counted(health.underReplicated.length, 'under-replicated'),
    ...counted(health.belowMinIsr.length, 'below min ISR'),
    ...counted(health.damagedReplicas.length, health.damagedReplicas.length === 1 ? 'damaged replica' : 'damaged replicas'),
  ]
  return `partitions: ${partitionsCounted(partitions.length)} in ${topics === 1 ? '1 topic' : `${topics} topics`}: ${counts.join(', ')}${local}`
}

function counted(count: number, what: string): string[] {
  return count === 0 ? [] : [`${count} ${what}`]
}
