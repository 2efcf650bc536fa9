/**
 * The ClusterStatus RPC: the cluster view (controller, nodes), this node's topics, and every
 * partition of the cluster with its leader's offsets, from whichever node is asked.
 *
 * A full answer reads the catalog (Consul; a standalone node's own topics) and asks every other
 * live node for its local view (`local_only`), in parallel, at most LEADER_REPORT_CONCURRENCY
 * at a time and each within LEADER_REPORT_TIMEOUT_MS, so one frozen node costs the answer that
 * long, not the caller's deadline. A node that does not answer is named unreachable (Consul
 * still says up until its session expires) and leaves the partitions it leads "unknown"; this
 * node's own report is read locally.
 * A `local_only` answer asks nobody: it is what the fan-out gathers.
 */
import type {ChannelCredentials} from '@grpc/grpc-js'
import type {ClusterStatusResponse, LedPartition} from '../generated/lignum/v1/lignum.js'
import {damagedPartitionToWire, nodeToWire, topicToWire} from './convert.js'
import {localLedPartitions, mergePartitionStatus, standaloneCatalog, type CatalogPartition, type LeaderReport, type NodeOfReplica} from './partition-status.js'
import type {ServingContext} from './serving-context.js'

// A live node answers its local view in milliseconds; past this it is frozen, overloaded or
// cut off, and its partitions are reported unknown rather than holding up the whole answer.
export const LEADER_REPORT_TIMEOUT_MS = 2_000
// Nodes asked at once: bounds this node's open connections and in-flight answers in a large cluster.
export const LEADER_REPORT_CONCURRENCY = 16

/** How this node asks another for its local view; injected so the fan-out is tested without sockets. */
export type AskNode = (address: string, timeoutMs: number) => Promise<LedPartition[]>

export async function clusterStatusAnswer(context: ServingContext, localOnly: boolean, askNode: AskNode = askOverGrpc(context.peerCredentials)): Promise<ClusterStatusResponse> {
  const view = context.clusterView()
  const base: ClusterStatusResponse = {
    cluster: view.cluster,
    controller: view.controller ?? '',
    controllerEpoch: BigInt(view.controllerEpoch),
    node: context.nodeId,
    nodes: view.nodes.map(nodeToWire),
    topics: [],
    consulReachable: view.consulReachable,
    mode: view.mode,
    damagedPartitions: context.broker.damagedPartitions().map(damagedPartitionToWire),
    partitions: [],
    partitionsError: '',
    ledPartitions: [],
    unreachableNodes: {},
  }
  const nodeOfReplica: NodeOfReplica = (topic, partition, replicaId) => context.clusterTopics?.nodeOfReplica(topic, partition, replicaId)
  const local = localLedPartitions(context.broker, nodeOfReplica, Date.now())
  if (localOnly) return {...base, ledPartitions: local}
  base.topics = context.broker.listTopics().map((topic) => topicToWire(topic, context.nodeId, context.clusterTopics?.partitionRoles))
  const catalog = await catalogOf(context)
  if ('error' in catalog) return {...base, partitionsError: catalog.error}
  const live = new Set(view.nodes.filter((node) => node.status === 'up').map((node) => node.id))
  // Standalone, this node is the only one and leads everything, whatever its view says.
  if (view.mode === 'standalone') live.add(context.nodeId)
  const reports = await gatherReports(view.nodes, live, context.nodeId, local, askNode)
  return {...base, partitions: mergePartitionStatus(catalog.partitions, reports, live), unreachableNodes: unreachableOf(reports)}
}

async function catalogOf(context: ServingContext): Promise<{partitions: CatalogPartition[]} | {error: string}> {
  if (!context.clusterTopics) {
    if (context.clusterView().mode === 'cluster') return {error: 'this node is still joining its cluster; ask again in a moment'}
    return {partitions: standaloneCatalog(context.broker, context.nodeId)}
  }
  try {
    return {partitions: await context.clusterTopics.catalogPartitions()}
  } catch (error) {
    return {error: `cannot read the topic catalog from Consul (${(error as Error).message}); check that Consul is up`}
  }
}

/**
 * This node's report, and those of every other live node, asked in parallel: those that lead
 * nothing too, since whether each node answers is part of the status.
 */
export async function gatherReports(
  nodes: readonly {id: string; address: string}[],
  live: ReadonlySet<string>,
  self: string,
  local: LedPartition[],
  askNode: AskNode,
): Promise<Map<string, LeaderReport>> {
  const reports = new Map<string, LeaderReport>([[self, {answered: true, led: local}]])
  const asked = nodes.filter((node) => node.id !== self && live.has(node.id))
  await forEachBounded(asked, LEADER_REPORT_CONCURRENCY, async (node) => {
    reports.set(node.id, await reportOf(node.address, askNode))
  })
  return reports
}

/** The nodes asked that did not answer, with why. */
function unreachableOf(reports: ReadonlyMap<string, LeaderReport>): Record<string, string> {
  return Object.fromEntries([...reports].flatMap(([node, report]) => (report.answered ? [] : [[node, report.reason]])))
}

async function reportOf(address: string, askNode: AskNode): Promise<LeaderReport> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<LeaderReport>((resolve) => {
    timer = setTimeout(() => resolve({answered: false, reason: `no answer from ${address} within ${LEADER_REPORT_TIMEOUT_MS} ms`}), LEADER_REPORT_TIMEOUT_MS)
  })
  const asked = askNode(address, LEADER_REPORT_TIMEOUT_MS).then(
    (led): LeaderReport => ({answered: true, led}),
    (error: Error): LeaderReport => ({answered: false, reason: error.message}),
  )
  try {
    return await Promise.race([asked, timedOut])
  } finally {
    clearTimeout(timer)
  }
}

/** Runs `task` over `items`, at most `concurrency` at once. */
async function forEachBounded<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await task(items[next++]!)
  }
  await Promise.all(Array.from({length: Math.min(concurrency, items.length)}, worker))
}

/** One short-lived channel per ask: status is rare, and a channel to a frozen node must not linger. */
function askOverGrpc(peerCredentials: ChannelCredentials | undefined): AskNode {
  return async (address, timeoutMs) => {
    const {Connection} = await import('../client/connection.js')
    const connection = new Connection(address, peerCredentials)
    try {
      return (await connection.call(connection.grpc.clusterStatus, {localOnly: true}, timeoutMs)).ledPartitions
    } finally {
      connection.close()
    }
  }
}
