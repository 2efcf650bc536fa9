/**
 * Three replicas of one partition in one process: each a real Partition in its own data
 * directory, a ReplicaManager per node, in-memory links between them and an in-memory control
 * plane whose ISR write is a check-and-set on the leader epoch. One manual clock drives every
 * wait, so a test decides when time passes.
 */
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Partition} from '../../src/broker/partition.js'
import type {PartitionLogConfig} from '../../src/log/partition-log.js'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {dumpSegment, inspectDataDir} from '../../src/log/log-inspector.js'
import {InProcessLeaderClient} from '../../src/replication/in-process-leader-client.js'
import {ReplicaManager, type ReplicaManagerConfig} from '../../src/replication/replica-manager.js'
import type {IsrChangeRequest, IsrWriter, PartitionState} from '../../src/replication/replication-interfaces.js'
import {ManualClock, recordingLogger} from '../helpers/manual-clock.js'

export const TOPIC = 'orders'
export const TIMESTAMP = 1_700_000_000_000

export function recordsBatch(values: string[]): Buffer {
  return encodeRecordBatch(values.map((value) => ({key: null, value: Buffer.from(value), timestamp: TIMESTAMP})))
}

/** The control plane's copy of the partition state; writeIsr is a check-and-set on the leader epoch. */
/** The process incarnation node `id` runs as in these tests. */
export function incarnationOf(id: number): string {
  return `node-${id}-first`
}

export class MemoryControlPlane implements IsrWriter {
  writes: (IsrChangeRequest & {accepted: boolean})[] = []
  failWrites = false
  /** Writes that never answer, as a control plane that lost its quorum. */
  hangWrites = false
  /** This many accepted writes land but their answers are lost: the writer's call fails, as at a request deadline. */
  loseAnswers = 0

  constructor(public state: PartitionState) {}

  async writeIsr(_topic: string, _partition: number, change: IsrChangeRequest): Promise<boolean> {
    if (this.hangWrites) return new Promise<boolean>(() => {})
    const accepted = !this.failWrites && change.leaderEpoch === this.state.leaderEpoch
    this.writes.push({...change, accepted})
    if (accepted) this.state = {...this.state, isr: [...change.isr]}
    if (accepted && this.loseAnswers > 0) {
      this.loseAnswers -= 1
      throw new Error('the ISR write landed but its answer was lost')
    }
    return accepted
  }
}

export interface Node {
  id: number
  dir: string
  partition: Partition
  manager: ReplicaManager
  /** This node's links to each leader, so a test can cut one. */
  links: Map<number, InProcessLeaderClient>
}

export class ThreeReplicas {
  readonly clock = new ManualClock(TIMESTAMP)
  readonly logger = recordingLogger()
  readonly nodes = new Map<number, Node>()
  control!: MemoryControlPlane

  private constructor(readonly root: string) {}

  static async start(options: {minInsyncReplicas?: number; config?: Partial<ReplicaManagerConfig>; logConfig?: Partial<PartitionLogConfig>; beforeState?: (replicas: ThreeReplicas) => Promise<void>} = {}): Promise<ThreeReplicas> {
    const replicas = new ThreeReplicas(await mkdtemp(path.join(os.tmpdir(), 'lignum-replication-')))
    for (const id of [1, 2, 3]) await replicas.openNode(id, options.config, options.logConfig)
    replicas.control = new MemoryControlPlane({topic: TOPIC, partition: 0, replicas: [1, 2, 3], leader: 1, leaderEpoch: 1, isr: [1, 2, 3], minInsyncReplicas: options.minInsyncReplicas ?? 2})
    await options.beforeState?.(replicas)
    await replicas.publish()
    return replicas
  }

  private async openNode(id: number, config: Partial<ReplicaManagerConfig> = {}, logConfig: Partial<PartitionLogConfig> = {}): Promise<void> {
    const dir = path.join(this.root, `node-${id}`)
    const partition = await Partition.open(TOPIC, 0, path.join(dir, `${TOPIC}-0`), {flushPolicy: 'never', ...logConfig}, {logger: this.logger, clock: this.clock, role: 'follower', leaderEpoch: 0})
    const links = new Map<number, InProcessLeaderClient>()
    const manager = new ReplicaManager({
      replicaId: id,
      incarnation: incarnationOf(id),
      partitions: (topic, index) => (topic === TOPIC && index === 0 ? partition : undefined),
      leaderClient: (leaderId) => {
        let link = links.get(leaderId)
        if (!link) {
          link = new InProcessLeaderClient((topic, index) => (topic === TOPIC && index === 0 ? this.node(leaderId).partition : undefined))
          links.set(leaderId, link)
        }
        return link
      },
      isrWriter: {writeIsr: (topic, index, change) => this.control.writeIsr(topic, index, change)},
      clock: this.clock,
      logger: this.logger,
      config: {replicaLagMaxMs: 10_000, isrCheckIntervalMs: 1000, fetcher: {backoffMs: 100, fetchMaxWaitMs: 500}, ...config},
    })
    manager.start()
    this.nodes.set(id, {id, dir, partition, manager, links})
  }

  node(id: number): Node {
    const node = this.nodes.get(id)
    if (!node) throw new Error(`no node ${id}`)
    return node
  }

  get leader(): Partition {
    return this.node(this.control.state.leader).partition
  }

  /** Hands the control plane's state to every node, as a watch would. */
  async publish(state: PartitionState = this.control.state): Promise<void> {
    this.control.state = state
    for (const node of this.nodes.values()) await node.manager.applyPartitionState(state)
  }

  /** Cuts (or restores) the link from a follower to the leader. */
  setLink(followerId: number, up: boolean): void {
    const link = this.node(followerId).links.get(this.control.state.leader)
    if (!link) throw new Error(`node ${followerId} has no link to the leader`)
    link.reachable = up
  }

  /** Every replica's batches as `segments inspect --dump` reports them: offsets, CRCs, leader epochs. */
  async dump(id: number): Promise<{baseOffset: number; lastOffset: number; crc: number; crcValid: boolean; partitionLeaderEpoch: number}[]> {
    await this.node(id).partition.flush()
    const report = await inspectDataDir(this.node(id).dir)
    const batches: {baseOffset: number; lastOffset: number; crc: number; crcValid: boolean; partitionLeaderEpoch: number}[] = []
    for (const segment of report.partitions.flatMap((partition) => partition.segments)) {
      for await (const {baseOffset, lastOffset, crc, crcValid, partitionLeaderEpoch} of dumpSegment(segment, false)) batches.push({baseOffset, lastOffset, crc, crcValid, partitionLeaderEpoch})
    }
    return batches
  }

  async close(): Promise<void> {
    for (const node of this.nodes.values()) await node.manager.close()
    for (const node of this.nodes.values()) await node.partition.close()
    await rm(this.root, {recursive: true, force: true})
  }
}

/** Waits (real time, for file I/O and promise chains) until `condition` holds. */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** Lets file I/O and promise chains run for a while, for checks that something did NOT happen. */
export function quiet(ms = 50): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
