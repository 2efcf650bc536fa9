/**
 * Where a new topic's replicas go: Kafka's rack-unaware assignment, pure and deterministic
 * given the nodes and the start (the random part is injected, so tests and the simulator
 * can fix it).
 *
 * Nodes are sorted by id. Partition p's first replica (its preferred leader) is node
 * (start + p) mod n, so leaders go round-robin and differ by at most one per node. Follower
 * j of p sits at a shift of 1 + (shift + j) mod (n - 1) from the leader: never the leader,
 * never twice the same node (R - 1 <= n - 1 distinct shifts), and the shift grows by one
 * after every n partitions, so the followers of one node's leaders spread over the others
 * instead of always landing on its neighbour.
 */
import {LignumError} from '../errors.js'

// Defaults for topics created without explicit settings (auto-created ones): three copies
// survive the loss of one node while a second is down, as Kafka's usual production setting.
export const DEFAULT_REPLICATION_FACTOR_MAX = 3
export const DEFAULT_MIN_INSYNC_REPLICAS_MAX = 2
// A partition count beyond this is a typo, not a plan (and would not fit Consul's KV sensibly).
export const PARTITIONS_MAX = 100_000

/** Where the round-robin starts; random in production (randomStart), fixed in tests. */
export interface AssignmentStart {
  nodeIndex: number
  shift: number
}

export interface AssignmentRequest {
  partitions: number
  replicationFactor: number
  /** Ids of the live registered nodes, in any order. */
  nodes: readonly string[]
  start: AssignmentStart
}

/** Replica lists, one per partition, the first replica being the preferred leader. */
export function assignReplicas(request: AssignmentRequest): string[][] {
  const nodes = [...new Set(request.nodes)].sort()
  validateAssignment(request.partitions, request.replicationFactor, nodes.length)
  const count = nodes.length
  const startIndex = modulo(request.start.nodeIndex, count)
  let shift = modulo(request.start.shift, count)
  const assignment: string[][] = []
  for (let partition = 0; partition < request.partitions; partition += 1) {
    if (partition > 0 && partition % count === 0) shift += 1
    const first = (partition + startIndex) % count
    const replicas = [nodes[first]!]
    for (let follower = 0; follower < request.replicationFactor - 1; follower += 1) {
      replicas.push(nodes[followerIndex(first, shift, follower, count)]!)
    }
    assignment.push(replicas)
  }
  return assignment
}

/** A random start, as Kafka picks one: so that topics created in turn do not all lead on one node. */
export function randomStart(nodeCount: number, random: () => number = Math.random): AssignmentStart {
  const pick = () => Math.floor(random() * Math.max(nodeCount, 1))
  return {nodeIndex: pick(), shift: pick()}
}

/** Replication settings of a topic created without them: min(3, live nodes), min ISR min(2, RF). */
export function defaultReplication(liveNodeCount: number): {replicationFactor: number; minInsyncReplicas: number} {
  const replicationFactor = Math.max(1, Math.min(DEFAULT_REPLICATION_FACTOR_MAX, liveNodeCount))
  return {replicationFactor, minInsyncReplicas: Math.min(DEFAULT_MIN_INSYNC_REPLICAS_MAX, replicationFactor)}
}

/** Refuses replication settings that cannot be met, with what to change. */
export function validateReplication(settings: {partitions: number; replicationFactor: number; minInsyncReplicas: number}, liveNodeCount: number): void {
  validateAssignment(settings.partitions, settings.replicationFactor, liveNodeCount)
  const {minInsyncReplicas, replicationFactor} = settings
  if (!Number.isSafeInteger(minInsyncReplicas) || minInsyncReplicas < 1 || minInsyncReplicas > replicationFactor) {
    throw new LignumError(
      'INVALID_ARGUMENT',
      `min in-sync replicas ${minInsyncReplicas} must be between 1 and the replication factor ${replicationFactor}`,
      {hint: `change --min-insync-replicas`},
    )
  }
}

function validateAssignment(partitions: number, replicationFactor: number, nodeCount: number): void {
  if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > PARTITIONS_MAX) {
    throw new LignumError('INVALID_ARGUMENT', `partition count ${partitions} must be between 1 and ${PARTITIONS_MAX}`, {hint: `change --partitions`})
  }
  if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1) {
    throw new LignumError('INVALID_ARGUMENT', `replication factor ${replicationFactor} must be at least 1`, {hint: `change --replication-factor`})
  }
  if (replicationFactor > nodeCount) {
    throw new LignumError(
      'INVALID_ARGUMENT',
      `replication factor ${replicationFactor} needs ${replicationFactor} live nodes, ${nodeCount} ${nodeCount === 1 ? 'is' : 'are'} registered`,
      {hint: `start more nodes or lower --replication-factor`},
    )
  }
}

function followerIndex(first: number, shift: number, follower: number, count: number): number {
  const offset = 1 + ((shift + follower) % (count - 1))
  return (first + offset) % count
}

function modulo(value: number, divisor: number): number {
  const integer = Number.isSafeInteger(value) ? value : 0
  return ((integer % divisor) + divisor) % divisor
}
