/**
 * What a node tells the controller about the health of its replicas, carried in the metadata
 * of its Consul service registration (so it is read in the same snapshot as its liveness, and
 * a restart, which registers afresh, starts from what the new process knows): the partitions
 * whose replica here is damaged (a batch failing its CRC, a partition held offline at open),
 * and those whose stored batches the node has not finished verifying since it started. The
 * controller's leader election (leader-election.ts) never elects a damaged replica and prefers
 * verified ones.
 *
 * Invariants: a list is encoded as partition ids ("<topic>-<partition>") joined by commas; one
 * that does not fit a Consul metadata value is sent as "*", every partition of the node, which
 * errs on the side of not electing it.
 */
import type {ReplicaEligibility} from './leader-election.js'

export const DAMAGED_REPLICAS_META = 'damagedReplicas'
export const UNVERIFIED_REPLICAS_META = 'unverifiedReplicas'
/** A random id per process of a node: the controller tells a restart from a node that stayed up by it. */
export const INCARNATION_META = 'incarnation'
// Consul refuses a service metadata value longer than this.
const META_VALUE_CHARS_MAX = 512
const EVERY_PARTITION = '*'

export interface ReplicaHealth {
  /** Partition ids ("topic-partition") whose replica on this node is damaged. */
  damaged: string[]
  /** Partition ids whose stored batches are not verified yet since the node started. */
  unverified: string[]
}

export const HEALTHY_REPLICAS: ReplicaHealth = {damaged: [], unverified: []}

export function partitionId(topic: string, partition: number): string {
  return `${topic}-${partition}`
}

/** The registration metadata for it; empty lists are left out. */
export function replicaHealthMeta(health: ReplicaHealth): Record<string, string> {
  const meta: Record<string, string> = {}
  if (health.damaged.length > 0) meta[DAMAGED_REPLICAS_META] = encodeList(health.damaged)
  if (health.unverified.length > 0) meta[UNVERIFIED_REPLICAS_META] = encodeList(health.unverified)
  return meta
}

function encodeList(ids: string[]): string {
  const joined = [...new Set(ids)].sort().join(',')
  return joined.length <= META_VALUE_CHARS_MAX ? joined : EVERY_PARTITION
}

export interface NodeReplicaHealth {
  id: string
  /** The process its node registered from (INCARNATION_META); a restart registers a new one. */
  incarnation?: string
  damagedReplicas?: string[]
  unverifiedReplicas?: string[]
}

/** A node's lists, as its registration metadata carries them. */
export function replicaHealthFromMeta(meta: Record<string, string>): {damagedReplicas: string[]; unverifiedReplicas: string[]} {
  const decode = (value: string | undefined) => (value ? value.split(',').filter((id) => id.length > 0) : [])
  return {damagedReplicas: decode(meta[DAMAGED_REPLICAS_META]), unverifiedReplicas: decode(meta[UNVERIFIED_REPLICAS_META])}
}

/** Which nodes' replicas of the partition are reported damaged or unverified. */
export function eligibilityOf(nodes: readonly NodeReplicaHealth[], topic: string, partition: number): ReplicaEligibility {
  const id = partitionId(topic, partition)
  const named = (list: string[] | undefined) => list !== undefined && (list.includes(id) || list.includes(EVERY_PARTITION))
  return {
    damaged: new Set(nodes.filter((node) => named(node.damagedReplicas)).map((node) => node.id)),
    unverified: new Set(nodes.filter((node) => named(node.unverifiedReplicas)).map((node) => node.id)),
  }
}
