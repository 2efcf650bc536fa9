/**
 * The cluster a fault run works on: three real `lignum serve --consul` processes (the test
 * helper's ServeProcess, from dist/) of one cluster on a real Consul, with one topic of one
 * partition, replication factor 3, min ISR 2. It finds the partition's leader and followers,
 * kills, freezes and restarts nodes by id, cuts bytes off a node's active segment, waits for
 * `lignum cluster status --wait-healthy`, and reads every replica's copy with
 * `lignum segments inspect --dump --records --json`. Nodes are addressed by id, never by
 * position: a restarted node is a new process object in the same slot.
 */
import {open, readdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {runCli} from '../test/helpers/cli.js'
import {flipBitAt} from '../test/helpers/segment-damage.js'
import {eventually} from '../test/cluster/member-process.js'
import {ServeProcess} from '../test/cluster/serve-process.js'
import type {ClusterStatusPartition} from '../src/ui/cluster-status-table.js'
import {ClusterKeys} from '../src/cluster/cluster-keys.js'
import {replicaHealthFromMeta} from '../src/cluster/replica-health.js'
import {readRecoveryPoint} from '../src/log/recovery.js'
import {batchPositions} from '../src/format/record-batch.js'
import type {ReplicaLog} from './checker.js'
import type {Random} from './scenario.js'

export const NODE_IDS = ['n1', 'n2', 'n3']
export const TOPIC = 'faults'
export const PARTITION = 0
const REPLICATION_FACTOR = 3
export const MIN_INSYNC_REPLICAS = 2
// The replication tests' settings: short enough that a failure shows within seconds.
export const SESSION_TTL_MS = 3_000
export const LOCK_DELAY_MS = 1_000
export const REPLICA_LAG_MAX_MS = 2_000
// Processes starting and Consul answering on a loaded 2-core machine.
const SETTLE_MS = 60_000
// A restarted follower copies what it missed at tens of MB/s; a run's load is a few MB.
const HEALTHY_TIMEOUT_MS = 90_000
// The status command's own wait ends first: a kill of it would hide what it saw.
const HEALTHY_COMMAND_MARGIN_MS = 15_000

/** What the cluster uses of a node process: the test helper's ServeProcess, or one in a network namespace. */
export interface ClusterNode {
  readonly nodeId: string
  readonly address: string
  readonly dataDir: string
  readonly logs: ServeProcess['logs']
  status(): ReturnType<ServeProcess['status']>
  signal(signal: NodeJS.Signals): void
  killHard(): Promise<void>
  stop(): Promise<void>
  restart(): Promise<ClusterNode>
  destroy(): Promise<void>
}

export interface NodeLaunchSettings {
  consulUrl: string
  cluster: string
  nodeId: string
  sessionTtlMs: number
  lockDelayMs: number
  env: Record<string, string>
}

export type NodeLauncher = (settings: NodeLaunchSettings) => Promise<ClusterNode>

const onLoopback: NodeLauncher = (settings) => ServeProcess.start(settings)

export interface PartitionRoles {
  leader: string
  leaderEpoch: number
  followers: string[]
}

export interface TopicOptions {
  segmentBytes?: number
}

export interface ListenerOptions {
  /** Every node also runs a Kafka listener (on a port of its own, kept across restarts). */
  kafka?: boolean
}

export class FaultCluster {
  /** Log lines of each node's earlier processes (before a restart), oldest first. */
  private readonly earlierLogs = new Map<string, ClusterNode['logs']>()

  private constructor(
    readonly name: string,
    private readonly nodes: Map<string, ClusterNode>,
    readonly consulUrl: string,
  ) {}

  /** Three nodes up, a controller, the topic created and every replica in its role. */
  static async start(consulUrl: string, name: string, launch: NodeLauncher = onLoopback, topic: TopicOptions = {}, listeners: ListenerOptions = {}): Promise<FaultCluster> {
    const env = {LIGNUM_REPLICA_LAG_MAX_MS: String(REPLICA_LAG_MAX_MS), ...(listeners.kafka ? {LIGNUM_KAFKA_PORT: '0'} : {})}
    const started = await Promise.all(NODE_IDS.map((nodeId) => launch({consulUrl, cluster: name, nodeId, sessionTtlMs: SESSION_TTL_MS, lockDelayMs: LOCK_DELAY_MS, env})))
    const cluster = new FaultCluster(name, new Map(started.map((node) => [node.nodeId, node])), consulUrl)
    try {
      await eventually('a controller with all three nodes up', async () => {
        const status = await started[0]!.status()
        return status.controller !== null && status.nodes.filter((node) => node.status === 'up').length === NODE_IDS.length ? true : undefined
      }, SETTLE_MS)
      const created = await runCli(['topics', 'create', TOPIC, '--partitions', '1', '--replication-factor', String(REPLICATION_FACTOR), '--min-insync-replicas', String(MIN_INSYNC_REPLICAS), ...(topic.segmentBytes ? ['--segment-bytes', String(topic.segmentBytes)] : []), '--brokers', cluster.brokers, '--json'])
      if (created.code !== 0) throw new Error(`topics create failed: ${created.stderr}`)
      await cluster.waitHealthy()
    } catch (error) {
      await cluster.destroy()
      throw error
    }
    return cluster
  }

  get brokers(): string {
    return [...this.nodes.values()].map((node) => node.address).join(',')
  }

  /** Every node's Kafka listener, for a Kafka client's bootstrap.servers (the cluster must run them: ListenerOptions). */
  get kafkaBootstrap(): string {
    return [...this.nodes.values()].map((node) => {
      const address = (node as ClusterNode & {kafkaAddress?: string}).kafkaAddress
      if (address === undefined) throw new Error(`node ${node.nodeId} has no Kafka listener on loopback`)
      return address
    }).join(',')
  }

  node(id: string): ClusterNode {
    const node = this.nodes.get(id)
    if (!node) throw new Error(`no node ${id}`)
    return node
  }

  /** The partition as a live node other than `excluding` reports it. */
  async partitionState(excluding: string[] = []): Promise<ClusterStatusPartition | undefined> {
    for (const node of this.nodes.values()) {
      if (excluding.includes(node.nodeId)) continue
      try {
        const status = await node.status()
        const partition = status.partitions.find((candidate) => candidate.topic === TOPIC && candidate.partition === PARTITION)
        if (partition) return partition
      } catch {
        // A node down or frozen: ask the next.
      }
    }
    return undefined
  }

  async roles(): Promise<PartitionRoles> {
    const state = await eventually('the partition to have a leader', async () => {
      const partition = await this.partitionState()
      return partition?.leader ? partition : undefined
    }, SETTLE_MS)
    return {leader: state.leader!, leaderEpoch: state.leaderEpoch, followers: state.replicas.filter((replica) => replica !== state.leader)}
  }

  async killHard(id: string): Promise<void> {
    await this.node(id).killHard()
  }

  freeze(id: string): void {
    this.node(id).signal('SIGSTOP')
  }

  thaw(id: string): void {
    this.node(id).signal('SIGCONT')
  }

  /** SIGTERM (if still running) and the same node again on its data directory and ports. */
  async restart(id: string): Promise<void> {
    const previous = this.node(id)
    const restarted = await previous.restart()
    this.earlierLogs.set(id, [...(this.earlierLogs.get(id) ?? []), ...previous.logs])
    this.nodes.set(id, restarted)
  }

  /** Every log line the node's processes wrote in this run, restarts included. */
  allLogs(id: string): ClusterNode['logs'] {
    return [...(this.earlierLogs.get(id) ?? []), ...this.node(id).logs]
  }

  partitionDir(id: string): string {
    return path.join(this.node(id).dataDir, `${TOPIC}-${PARTITION}`)
  }

  /** The partition's `.log` files on the node, oldest first. */
  async segmentFiles(id: string): Promise<string[]> {
    const directory = this.partitionDir(id)
    return (await readdir(directory)).filter((file) => file.endsWith('.log')).sort().map((file) => path.join(directory, file))
  }

  /** Waits until the node holds at least `closed` closed segments (one more file than that). */
  async waitForClosedSegments(id: string, closed: number): Promise<void> {
    await eventually(`${id} to hold ${closed} closed segments`, async () => ((await this.segmentFiles(id)).length > closed ? true : undefined), SETTLE_MS)
  }

  /**
   * Flips the lowest bit of the last value byte of one batch of a closed segment (the node must
   * be down): only the batch's CRC can tell. The batch is `random`'s choice; where it is.
   */
  async flipBitInClosedSegment(id: string, random: Random): Promise<{file: string; position: number; offset: number}> {
    const closed = (await this.segmentFiles(id)).slice(0, -1)
    if (closed.length === 0) throw new Error(`${id} has no closed segment to damage`)
    const file = random.pick(closed)
    const batches = batchesOf(await readFile(file))
    const batch = random.pick(batches)
    // A batch ends with its last record's value and then a one-byte header count (0).
    const position = batch.position + batch.bytes - 2
    await flipBitAt(file, position)
    return {file: path.basename(file), position, offset: batch.baseOffset}
  }

  /**
   * What a power loss leaves after kill -9 (the node must be down): its active segment cut back
   * to the first batch at or past its recovery point (lignum-recovery-point: every offset
   * below it was fdatasync'd, anything later may never have reached the disk).
   */
  async loseUnflushed(id: string): Promise<{recoveryPoint: number; bytesCut: number}> {
    const recoveryPoint = await readRecoveryPoint(this.partitionDir(id))
    const active = (await this.segmentFiles(id)).at(-1)
    if (!active) return {recoveryPoint, bytesCut: 0}
    const contents = await readFile(active)
    const kept = batchesOf(contents).find((batch) => batch.baseOffset >= recoveryPoint)?.position ?? contents.length
    const handle = await open(active, 'r+')
    try {
      await handle.truncate(kept)
    } finally {
      await handle.close()
    }
    return {recoveryPoint, bytesCut: contents.length - kept}
  }

  /** `lignum segments repair --yes` on the node's copy (the node must be down); what it printed. */
  async repair(id: string): Promise<string> {
    const repaired = await runCli(['segments', 'repair', '--data-dir', this.node(id).dataDir, '--topic', TOPIC, '--partition', String(PARTITION), '--yes', '--json'])
    if (repaired.code !== 0) throw new Error(`segments repair of ${id} failed: ${repaired.stderr}`)
    return repaired.stdout
  }

  /** The replica health each node's registration carries in Consul (replica-health.ts), by node id. */
  async reportedReplicaHealth(): Promise<Map<string, {damagedReplicas: string[]; unverifiedReplicas: string[]}>> {
    const keys = new ClusterKeys(this.name)
    const response = await fetch(`${this.consulUrl}/v1/health/service/${encodeURIComponent(keys.serviceName)}`, {signal: AbortSignal.timeout(SETTLE_MS)})
    const entries = (await response.json()) as {Service: {Meta?: Record<string, string>}}[]
    const health = new Map<string, {damagedReplicas: string[]; unverifiedReplicas: string[]}>()
    for (const entry of entries) {
      const meta = entry.Service.Meta ?? {}
      if (meta.nodeId) health.set(meta.nodeId, replicaHealthFromMeta(meta))
    }
    return health
  }

  /** Waits until Consul holds the node's report that its replica of the partition is (or is no longer) damaged. */
  async waitReportedDamaged(id: string, damaged: boolean): Promise<void> {
    const wanted = `${TOPIC}-${PARTITION}`
    await eventually(`${id} to report its replica ${damaged ? 'damaged' : 'healthy'}`, async () => {
      const reported = (await this.reportedReplicaHealth()).get(id)
      return reported !== undefined && reported.damagedReplicas.includes(wanted) === damaged ? true : undefined
    }, SETTLE_MS)
  }

  /**
   * The resent batches a node answered with their first offsets since it started (its
   * lignum_produce_duplicates_total); undefined for a node without an HTTP port on loopback.
   */
  async duplicatesAnswered(id: string): Promise<number | undefined> {
    const node = this.node(id) as ClusterNode & {httpPort?: number}
    if (node.httpPort === undefined) return undefined
    const response = await fetch(`http://127.0.0.1:${node.httpPort}/metrics`, {signal: AbortSignal.timeout(SETTLE_MS)})
    const line = (await response.text()).split('\n').find((text) => text.startsWith('lignum_produce_duplicates_total'))
    return line === undefined ? undefined : Number(line.split(' ').at(-1))
  }

  /**
   * Cuts up to `bytes` off the end of the node's active segment of the partition (the node must
   * be down), as a torn write after a crash: never below the first batch at or past its recovery
   * point, since what was fsynced survives a crash (a cut there is damage, not a torn tail, and
   * the replica would wait for a repair). The bytes cut.
   */
  async tearTail(id: string, bytes: number): Promise<number> {
    const recoveryPoint = await readRecoveryPoint(this.partitionDir(id))
    const active = (await this.segmentFiles(id)).at(-1)
    if (!active) return 0
    const contents = await readFile(active)
    const unflushedFrom = batchesOf(contents).find((batch) => batch.baseOffset >= recoveryPoint)?.position ?? contents.length
    const cut = Math.min(bytes, contents.length - unflushedFrom)
    const handle = await open(active, 'r+')
    try {
      await handle.truncate(contents.length - cut)
    } finally {
      await handle.close()
    }
    return cut
  }

  /** `lignum cluster status --wait-healthy`; throws with its output if the cluster stays unhealthy. */
  async waitHealthy(): Promise<void> {
    const result = await runCli(['cluster', 'status', '--wait-healthy', '--timeout', `${HEALTHY_TIMEOUT_MS / 1000}s`, '--brokers', this.brokers], {timeoutMs: HEALTHY_TIMEOUT_MS + HEALTHY_COMMAND_MARGIN_MS})
    if (result.code !== 0) throw new Error(`the cluster did not become healthy (exit ${result.code}): ${result.stderr.trim()}\n${result.stdout}`)
  }

  /** Every replica's copy of the partition, the leader's first (the checker's reference), read offline after the nodes stopped. */
  async readReplicas(leader: string): Promise<ReplicaLog[]> {
    const ids = [leader, ...NODE_IDS.filter((id) => id !== leader)]
    const logs: ReplicaLog[] = []
    for (const id of ids) logs.push({node: id, partition: PARTITION, records: await dumpRecords(this.node(id).dataDir)})
    return logs
  }

  /** The end of the node's log as its files hold it (read offline: the node may be stopped or frozen). */
  async logEndOnDisk(id: string): Promise<number> {
    const records = await dumpRecords(this.node(id).dataDir)
    return (records.at(-1)?.offset ?? -1) + 1
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.stop()))
  }

  /** Which node logged `message`, for a scenario that looks for what a node did. */
  logs(id: string): ClusterNode['logs'] {
    return this.node(id).logs
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.destroy().catch(() => undefined)))
  }
}

/** The whole batches of a segment's bytes (a torn last one left out): where each starts, its size, its base offset. */
/** The whole batches of a segment file's contents, in order (a torn last one left out). */
function batchesOf(contents: Buffer): {position: number; bytes: number; baseOffset: number}[] {
  return [...batchPositions(contents)].map(({position, header}) => ({position, bytes: header.sizeBytes, baseOffset: header.baseOffset}))
}

interface DumpedRecord {
  offset: number
  value: string | null
  valueEncoding?: string
}

async function dumpRecords(dataDir: string): Promise<{offset: number; value: string}[]> {
  const inspected = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--topic', TOPIC, '--partition', String(PARTITION), '--dump', '--records', '--json'])
  if (inspected.code !== 0) throw new Error(`segments inspect of ${dataDir} failed: ${inspected.stderr}`)
  const report = JSON.parse(inspected.stdout) as {partitions: {segments: {batches?: {records?: DumpedRecord[]}[]}[]}[]}
  const records = report.partitions.flatMap((stored) => stored.segments.flatMap((segment) => (segment.batches ?? []).flatMap((batch) => batch.records ?? [])))
  return records.map((record) => ({offset: record.offset, value: record.valueEncoding === 'base64' ? Buffer.from(record.value ?? '', 'base64').toString('utf8') : (record.value ?? '')}))
}
