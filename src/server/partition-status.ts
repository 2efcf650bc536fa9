/**
 * The per-partition status `lignum cluster status` shows, as pure functions: what a node
 * knows of the partitions it leads (its high watermark, its followers' log end offsets and
 * when each last caught up), and the merge of the catalog's roles with each leader's report
 * into one status per partition.
 *
 * Who knows what: the catalog (Consul, or a standalone node's own topics) says who leads at
 * which epoch, the replicas and the ISR, and every node reads the same; the high watermark and
 * the followers' progress live only in the leader's memory. So the roles always come from the
 * catalog (every node answers alike) and the offsets from the leader, or are unknown.
 *
 * Invariants: every catalog partition appears exactly once, in catalog order; a partition has
 * offsets only when its leader is live, answered, and leads it at the catalog's epoch or later
 * (state "online"); lag is the leader's log end offset minus the replica's, never negative.
 */
import {assert} from '../assert.js'
import type {Broker} from '../broker/broker.js'
import type {LedPartition, PartitionStatus, ReplicaStatus} from '../generated/lignum/v1/lignum.js'

/** A partition as the catalog holds it: who holds it, not how far they are. */
export interface CatalogPartition {
  topic: string
  partition: number
  /** Null when the partition has no leader. */
  leader: string | null
  leaderEpoch: number
  replicas: string[]
  isr: string[]
  minInsyncReplicas: number
}

/** A node's answer to "which partitions do you lead, and how far are they", or why there is none. */
export type LeaderReport = {answered: true; led: LedPartition[]} | {answered: false; reason: string}

export type LeaderState = 'online' | 'no-leader' | 'leader-down' | 'damaged' | 'not-leading' | 'unknown'

/** The node id a follower's replica id stands for in one partition. */
export type NodeOfReplica = (topic: string, partition: number, replicaId: number) => string | undefined

/**
 * The partitions this node leads, with their followers' progress, and its damaged ones (a
 * damaged copy cannot lead). Internal topics too: in cluster mode the catalog holds the group
 * offsets topic, and a leader that did not report its partitions left them "not leading" for ever.
 */
export function localLedPartitions(broker: Broker, nodeOfReplica: NodeOfReplica, nowMs: number): LedPartition[] {
  const led: LedPartition[] = []
  for (const topic of broker.listTopics(true)) {
    for (const described of topic.partitions) {
      if (described.state === 'damaged') {
        led.push({topic: topic.name, partition: described.partition, leaderEpoch: -1, highWatermark: -1n, logEndOffset: -1n, followers: [], state: 'damaged'})
        continue
      }
      const partition = broker.localPartition(topic.name, described.partition)
      if (!partition || partition.role !== 'leader') continue
      const followers = partition.replicas.flatMap((replicaId) => {
        const follower = partition.followerState(replicaId)
        if (!follower) return []
        const fetched = follower.logEndOffset >= 0
        return [{
          node: nodeOfReplica(topic.name, described.partition, replicaId) ?? String(replicaId),
          logEndOffset: fetched ? BigInt(follower.logEndOffset) : undefined,
          caughtUpAgoMs: fetched && follower.lastCaughtUpTimeMs > 0 ? BigInt(Math.max(0, nowMs - follower.lastCaughtUpTimeMs)) : undefined,
        }]
      })
      led.push({
        topic: topic.name,
        partition: described.partition,
        leaderEpoch: partition.leaderEpoch,
        highWatermark: BigInt(partition.highWatermark),
        logEndOffset: BigInt(partition.logEndOffset),
        followers,
        state: 'leading',
      })
    }
  }
  return led
}

/** A standalone node's partitions as a catalog: it leads each alone, its own replica the ISR. */
export function standaloneCatalog(broker: Broker, nodeId: string): CatalogPartition[] {
  return broker.listTopics().flatMap((topic) =>
    topic.partitions.map((described) => ({
      topic: topic.name,
      partition: described.partition,
      leader: nodeId,
      leaderEpoch: Math.max(0, broker.localPartition(topic.name, described.partition)?.leaderEpoch ?? 0),
      replicas: [nodeId],
      isr: [nodeId],
      minInsyncReplicas: 1,
    })),
  )
}

/** One status per catalog partition: the catalog's roles, the leader's offsets when it answered as leader. */
export function mergePartitionStatus(catalog: readonly CatalogPartition[], reports: ReadonlyMap<string, LeaderReport>, liveNodes: ReadonlySet<string>): PartitionStatus[] {
  const ledBy = new Map<string, Map<string, LedPartition>>()
  for (const [node, report] of reports) {
    if (report.answered) ledBy.set(node, new Map(report.led.map((led) => [partitionKey(led.topic, led.partition), led])))
  }
  return catalog.map((entry) => {
    const {state, reason, led} = judge(entry, reports, ledBy, liveNodes)
    const status: PartitionStatus = {
      topic: entry.topic,
      partition: entry.partition,
      leader: entry.leader ?? '',
      leaderEpoch: entry.leaderEpoch,
      replicas: [...entry.replicas],
      isr: [...entry.isr],
      minInsyncReplicas: entry.minInsyncReplicas,
      leaderState: state,
      reason,
      highWatermark: led?.highWatermark,
      logEndOffset: led?.logEndOffset,
      replicaStatus: entry.replicas.map((node) => replicaStatusOf(node, entry.leader, led)),
    }
    assert(state === 'online' ? status.highWatermark !== undefined : status.highWatermark === undefined, 'a partition has offsets exactly when it is online')
    return status
  })
}

/** Whether the partition's leader serves it, and if not, why; the leader's report of it when it does. */
function judge(entry: CatalogPartition, reports: ReadonlyMap<string, LeaderReport>, ledBy: Map<string, Map<string, LedPartition>>, liveNodes: ReadonlySet<string>): {state: LeaderState; reason: string; led?: LedPartition} {
  const {leader} = entry
  if (leader === null) return {state: 'no-leader', reason: 'it has no leader'}
  if (!liveNodes.has(leader)) return {state: 'leader-down', reason: `its leader ${leader} is not a live member of the cluster`}
  const report = reports.get(leader)
  if (!report || !report.answered) return {state: 'unknown', reason: `its leader ${leader} did not report its offsets${report ? `: ${report.reason}` : ''}`}
  const led = ledBy.get(leader)?.get(partitionKey(entry.topic, entry.partition))
  if (led?.state === 'damaged') return {state: 'damaged', reason: `its leader's copy on ${leader} is damaged; stop ${leader} and run lignum segments repair`}
  if (!led || led.leaderEpoch < entry.leaderEpoch) return {state: 'not-leading', reason: `${leader} does not lead it at leader epoch ${entry.leaderEpoch} yet`}
  return {state: 'online', reason: '', led}
}

function replicaStatusOf(node: string, leader: string | null, led: LedPartition | undefined): ReplicaStatus {
  if (!led) return {node, logEndOffset: undefined, lagRecords: undefined, caughtUpAgoMs: undefined}
  if (node === leader) return {node, logEndOffset: led.logEndOffset, lagRecords: 0n, caughtUpAgoMs: 0n}
  const follower = led.followers.find((candidate) => candidate.node === node)
  const logEndOffset = follower?.logEndOffset
  // A follower's fetch offset can pass the leader's end only across a truncation race: no lag then.
  const lagRecords = logEndOffset === undefined ? undefined : led.logEndOffset > logEndOffset ? led.logEndOffset - logEndOffset : 0n
  return {node, logEndOffset, lagRecords, caughtUpAgoMs: follower?.caughtUpAgoMs}
}

function partitionKey(topic: string, partition: number): string {
  return `${partition}:${topic}`
}
