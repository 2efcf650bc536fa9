/**
 * Where a cluster keeps its state in Consul, and the names it registers under. Everything of
 * one cluster lives under `lignum/<cluster>/`, so many clusters can share one Consul:
 *
 *   lignum/<cluster>/controller                     lock held by the controller's session;
 *                                                   value {nodeId, address, epoch}
 *   lignum/<cluster>/controller-epoch               the last controller epoch, a decimal
 *                                                   counter bumped with check-and-set
 *   lignum/<cluster>/nodes/<id>                     every node the controller has seen:
 *                                                   {id, address, version, epoch}
 *   lignum/<cluster>/topics/<t>/partitions/<p>      a partition's assignment:
 *                                                   {replicas, leader, leaderEpoch, isr, epoch}
 *
 * Values are JSON (the epoch counter is a bare number). Every value a controller writes
 * carries the epoch it was written under.
 */
import {LignumError} from '../errors.js'

const ROOT = 'lignum'

// Cluster names and node ids become KV path segments and service ids: keep them to a safe set.
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

export function assertClusterName(cluster: string): void {
  if (!NAME_PATTERN.test(cluster)) {
    throw new LignumError('CONFIG', `invalid cluster name "${cluster}": use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`)
  }
}

export function assertNodeId(nodeId: string): void {
  if (!NAME_PATTERN.test(nodeId)) {
    throw new LignumError('CONFIG', `invalid node id "${nodeId}": use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`)
  }
}

export class ClusterKeys {
  constructor(readonly cluster: string) {
    assertClusterName(cluster)
  }

  /** The prefix of everything this cluster stores, ending with a slash. */
  get prefix(): string {
    return `${ROOT}/${this.cluster}/`
  }

  get controller(): string {
    return `${this.prefix}controller`
  }

  get controllerEpoch(): string {
    return `${this.prefix}controller-epoch`
  }

  get nodesPrefix(): string {
    return `${this.prefix}nodes/`
  }

  node(nodeId: string): string {
    return `${this.nodesPrefix}${nodeId}`
  }

  partition(topic: string, partition: number): string {
    return `${this.prefix}topics/${encodeURIComponent(topic)}/partitions/${partition}`
  }

  /** The Consul service every node of this cluster registers as. */
  get serviceName(): string {
    return `lignum-${this.cluster}`
  }

  serviceId(nodeId: string): string {
    return `lignum-${this.cluster}-${nodeId}`
  }

  /** The TTL check the node renews; its session is tied to it. */
  checkId(nodeId: string): string {
    return `lignum-${this.cluster}-${nodeId}-ttl`
  }

  nodeIdOfKey(key: string): string | undefined {
    return key.startsWith(this.nodesPrefix) ? key.slice(this.nodesPrefix.length) : undefined
  }
}
