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
 *   lignum/<cluster>/topics/<t>                     a topic: {version, name, partitions,
 *                                                   replicationFactor, minInsyncReplicas,
 *                                                   settings, createdAtMs, epoch}
 *   lignum/<cluster>/partitions/<t>/<p>             a partition's state: {version, replicas,
 *                                                   leader, leaderEpoch, isr, epoch,
 *                                                   partitionEpoch}
 *   lignum/<cluster>/acl-rules                      the authorization rules (acl.store consul):
 *                                                   a JSON array, written with check-and-set
 *
 * Values are JSON (the epoch counter is a bare number). Every value a controller writes
 * carries the epoch it was written under. Topics and partitions live under separate prefixes
 * so a node can list topic names without their partitions, and watch one topic's partitions
 * without the others'. Topic names are URI-encoded, so a name never adds a path segment.
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

  /**
   * The prefix shared by the controller lock and the epoch counter (and nothing else): one
   * watch follows both without the rest of the tree.
   */
  get controllerKeysPrefix(): string {
    return this.controller
  }

  get controllerEpoch(): string {
    return `${this.prefix}controller-epoch`
  }

  /** The authorization rules every node enforces when acl.store is consul. */
  get aclRules(): string {
    return `${this.prefix}acl-rules`
  }

  get nodesPrefix(): string {
    return `${this.prefix}nodes/`
  }

  node(nodeId: string): string {
    return `${this.nodesPrefix}${nodeId}`
  }

  get topicsPrefix(): string {
    return `${this.prefix}topics/`
  }

  topic(topic: string): string {
    return `${this.topicsPrefix}${encodeURIComponent(topic)}`
  }

  /** The topic a key under topicsPrefix names, or undefined for any other key. */
  topicOfKey(key: string): string | undefined {
    if (!key.startsWith(this.topicsPrefix)) return undefined
    const encoded = key.slice(this.topicsPrefix.length)
    if (encoded === '' || encoded.includes('/')) return undefined
    try {
      return decodeURIComponent(encoded)
    } catch {
      return undefined
    }
  }

  /** The prefix of every topic's partition states. */
  get partitionsRootPrefix(): string {
    return `${this.prefix}partitions/`
  }

  /** The prefix of one topic's partition states, ending with a slash. */
  partitionsPrefix(topic: string): string {
    return `${this.partitionsRootPrefix}${encodeURIComponent(topic)}/`
  }

  partition(topic: string, partition: number): string {
    return `${this.partitionsPrefix(topic)}${partition}`
  }

  /** The partition number of a key under partitionsPrefix(topic), or undefined. */
  partitionOfKey(topic: string, key: string): number | undefined {
    const prefix = this.partitionsPrefix(topic)
    if (!key.startsWith(prefix)) return undefined
    const text = key.slice(prefix.length)
    if (!/^(0|[1-9][0-9]{0,8})$/.test(text)) return undefined
    return Number(text)
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
