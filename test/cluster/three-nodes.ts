/**
 * Three real `lignum serve --consul` nodes and one replicated topic on them, for the cluster
 * tests that kill, freeze or restart nodes: start the nodes, wait for a controller with all
 * three up, create the topic (RF 3, min ISR 2 unless told) and wait until every replica is in
 * sync and has applied its role.
 */
import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {eventually} from './member-process.js'
import {ServeProcess} from './serve-process.js'
import {partitionStatesIn, type StoredState} from './cluster-reads.js'

export const SESSION_TTL_MS = 3_000
export const LOCK_DELAY_MS = 1_000
export const REPLICA_LAG_MAX_MS = 2_000
// Room on a loaded 2-core machine for processes to start and Consul to answer.
export const SETTLE_MS = 60_000

/** Lease timing other than SESSION_TTL_MS and LOCK_DELAY_MS, for a test that needs room inside them. */
export interface LeaseTiming {
  sessionTtlMs?: number
  lockDelayMs?: number
  /** A lag bound other than REPLICA_LAG_MAX_MS, for a test that must keep a slow follower in the ISR. */
  replicaLagMaxMs?: number
}

/** `env`: more LIGNUM_* settings for every node (e.g. LIGNUM_KAFKA_PORT). */
export async function startThreeNodes(consulUrl: string, cluster: string, prefix: string, timing: LeaseTiming = {}, env: Record<string, string> = {}): Promise<ServeProcess[]> {
  const {sessionTtlMs = SESSION_TTL_MS, lockDelayMs = LOCK_DELAY_MS, replicaLagMaxMs = REPLICA_LAG_MAX_MS} = timing
  const nodes = await Promise.all(
    [1, 2, 3].map((index) =>
      ServeProcess.start({consulUrl, cluster, nodeId: `${prefix}${index}`, sessionTtlMs, lockDelayMs, env: {LIGNUM_REPLICA_LAG_MAX_MS: String(replicaLagMaxMs), ...env}}),
    ),
  )
  await controllerWithAllUp(nodes)
  return nodes
}

/** Waits until the first node sees a controller and all three nodes up; the controller's id. */
export function controllerWithAllUp(nodes: ServeProcess[]): Promise<string> {
  return eventually('a controller with all three nodes up', async () => {
    const status = await nodes[0]!.status()
    return status.controller !== null && status.nodes.filter((node) => node.status === 'up').length === 3 ? status.controller : undefined
  }, SETTLE_MS)
}

/** Creates a one-partition topic replicated on all three nodes; its state once all are in sync. */
export async function replicatedTopic(nodes: ServeProcess[], consulUrl: string, cluster: string, topic: string, extraArgs: string[] = []): Promise<StoredState> {
  return (await replicatedPartitions(nodes, consulUrl, cluster, topic, 1, extraArgs)).get(0)!
}

/**
 * Creates a topic of `partitions` partitions replicated on all three nodes (each node leads
 * one in three, by the round-robin assignment); their states once all replicas are in sync
 * and have applied their roles.
 */
export async function replicatedPartitions(nodes: ServeProcess[], consulUrl: string, cluster: string, topic: string, partitions: number, extraArgs: string[] = []): Promise<Map<number, StoredState>> {
  const created = await runCli(['topics', 'create', topic, '--partitions', String(partitions), '--replication-factor', '3', '--min-insync-replicas', '2', ...extraArgs, '--brokers', nodes[0]!.address])
  expect(created.code, created.stderr).to.equal(0)
  const states = await eventually('three in-sync replicas of every partition', async () => {
    const stored = await partitionStatesIn(consulUrl, cluster, topic)
    return stored.size === partitions && [...stored.values()].every((state) => state.isr.length === 3) ? stored : undefined
  }, SETTLE_MS)
  await eventually('every replica to apply its role', async () => {
    return [...states].every(([partition, state]) => nodes.every((node) => node.logged('partition state applied').some((line) => line.topic === topic && line.partition === partition && line.outcome === (node.nodeId === state.leader ? 'leading' : 'following')))) || undefined
  }, SETTLE_MS)
  return states
}

export function nodeNamed(nodes: ServeProcess[], id: string | null): ServeProcess {
  const node = nodes.find((candidate) => candidate.nodeId === id)
  if (!node) throw new Error(`no node ${id} among ${nodes.map((candidate) => candidate.nodeId).join(', ')}`)
  return node
}
