/**
 * The Lignum side of the failover benchmark: three `lignum serve --consul` nodes from dist/
 * (test/cluster/serve-process.ts: each binds port 0 and reports its ports, on its own temporary
 * data directory) in one cluster of a shared dev Consul, and a steady acks=all load through
 * the client library: one producer, one record at a time, each sent once the previous one is
 * acknowledged, every acknowledgement's performance.now() noted.
 *
 * One run: a new topic (3 partitions, RF 3, min ISR 2), the load moved to a partition whose
 * leader is (or is not) the controller, kill -9 of that leader, the time to the next
 * acknowledgement; the controller's and the new leader's log lines date the election. Then the
 * killed node restarts on its data directory and ports, rejoins every ISR, and the topic is
 * deleted, so each run starts on three live nodes and one topic.
 */
import {WireClient, type Producer} from '../../src/client/index.js'
import {ServeProcess} from '../../test/cluster/serve-process.js'
import type {LogLine} from '../../test/cluster/member-process.js'
import {acksBeforeKill, choosePartition, failoverTimeoutMs, loadAverage1m, minInsyncReplicas, partitionsPerTopic, pollUntil, replicationFactor, settleTimeoutMs, type FailoverSample, type Victim} from './failover-common.js'

const nodeIds = ['n1', 'n2', 'n3']
const recordBytes = 100
/** How often the load's acknowledgements are checked for the first one after the kill: the figure's resolution. */
const ackPollMs = 5
const connectTimeoutMs = 5_000

export interface LignumProfile {
  sessionTtlMs: number
  lockDelayMs: number
  replicaLagMaxMs: number
}

interface StoredState {
  replicas: string[]
  leader: string | null
  leaderEpoch: number
  isr: string[]
}

/**
 * One producer for the whole benchmark, as an application keeps one: it rides through each
 * failover on its own retries (metadata refresh, backoff, the same producer id and sequences).
 */
class SteadyLoad {
  private target: {topic: string; partition: number} | undefined
  /** Pairs in send order: when a record was sent, when it was acknowledged (performance.now). */
  private acks: {sentMs: number; ackedMs: number}[] = []
  sendErrors = 0
  lastError = ''
  private stopping = false
  private readonly running: Promise<void>
  private wake: (() => void) | undefined

  constructor(private readonly producer: Producer) {
    this.running = this.loop()
  }

  private async loop(): Promise<void> {
    const value = Buffer.alloc(recordBytes, 'x')
    while (!this.stopping) {
      const target = this.target
      if (!target) {
        await new Promise<void>((resolve) => (this.wake = resolve))
        continue
      }
      try {
        const sentMs = performance.now()
        await this.producer.send(target.topic, {partition: target.partition, value})
        if (this.target === target) this.acks.push({sentMs, ackedMs: performance.now()})
      } catch (error) {
        this.sendErrors++
        this.lastError = String(error)
      }
    }
  }

  moveTo(target: {topic: string; partition: number} | undefined): void {
    this.target = target
    this.acks = []
    this.wake?.()
  }

  get acknowledged(): number {
    return this.acks.length
  }

  /**
   * The acknowledgement of the first record sent after `sinceMs`: the answer to a record the
   * old leader acknowledged just before it died may still arrive after the kill, and says
   * nothing about the new leader.
   */
  firstAckAfter(sinceMs: number): number | undefined {
    for (let index = this.acks.length - 1; index >= 0; index--) {
      if (this.acks[index]!.sentMs <= sinceMs) return this.acks[index + 1]?.ackedMs
    }
    return this.acks[0]?.ackedMs
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.wake?.()
    await this.running
  }
}

export class LignumFailoverCluster {
  private runs = 0

  private constructor(
    private readonly consulUrl: string,
    private readonly cluster: string,
    private readonly nodes: ServeProcess[],
    private readonly client: WireClient,
    private readonly load: SteadyLoad,
  ) {}

  static async start(consulUrl: string, cluster: string, profile: LignumProfile): Promise<LignumFailoverCluster> {
    // The page-cache class, as Kafka's default flush (no fsync): neither side waits for the disk.
    const env = {LIGNUM_REPLICA_LAG_MAX_MS: String(profile.replicaLagMaxMs), LIGNUM_FLUSH_POLICY: 'never', NO_COLOR: '1'}
    const started = await Promise.allSettled(nodeIds.map((nodeId) => ServeProcess.start({consulUrl, cluster, nodeId, sessionTtlMs: profile.sessionTtlMs, lockDelayMs: profile.lockDelayMs, env})))
    const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
    const failed = started.find((result) => result.status === 'rejected')
    try {
      if (failed) throw failed.reason
      await waitAllUp(nodes[0]!)
      const client = await WireClient.connect({brokers: nodes.map((node) => node.address), connectTimeoutMs})
      return new LignumFailoverCluster(consulUrl, cluster, nodes, client, new SteadyLoad(client.producer({acks: 'all'})))
    } catch (error) {
      await Promise.all(nodes.map((node) => node.destroy()))
      throw error
    }
  }

  async measureOnce(victim: Victim, profileName: string): Promise<FailoverSample> {
    const run = ++this.runs
    const topic = `failover-${run}`
    const loadAverage = loadAverage1m()
    await this.createTopic(topic)
    const states = await this.waitForLeaders(topic)
    const controller = (await this.liveNode().status()).controller
    const chosen = choosePartition([...states].map(([partition, state]) => ({partition, leader: state.leader})), controller, victim)
    const base = {system: 'lignum', profile: profileName, run, victim, loadAverage1m: loadAverage}
    if (!chosen || !chosen.leader) {
      await this.deleteTopic(topic)
      return {...base, killedNode: '', newLeader: null, failoverMs: null, leaderKnownMs: null, sendErrors: 0, error: `no partition of ${topic} is led by ${victim === 'leader' ? 'a node other than' : ''} the controller ${controller}`}
    }
    const victimNode = this.nodes.find((node) => node.nodeId === chosen.leader)!
    this.load.moveTo({topic, partition: chosen.partition})
    await pollUntil(`${acksBeforeKill} acknowledgements on ${topic}/${chosen.partition}`, async () => (this.load.acknowledged >= acksBeforeKill ? true : undefined), settleTimeoutMs)
      .catch((error: Error) => {
        throw new Error(`${error.message}; ${this.load.acknowledged} acknowledged, ${this.load.sendErrors} sends failed so far (last: ${this.load.lastError || 'none'})`)
      })
    const errorsBefore = this.load.sendErrors

    const killedAtWallMs = Date.now()
    const killedAtMs = performance.now()
    await victimNode.killHard()
    const firstAckMs = await this.firstAckAfter(killedAtMs)
    const failoverMs = firstAckMs === undefined ? null : firstAckMs - killedAtMs
    const elected = this.loggedAfter('partition leader elected', killedAtWallMs, (line) => line.topic === topic && line.partition === chosen.partition)
    const leading = this.loggedAfter('partition state applied', killedAtWallMs, (line) => line.topic === topic && line.partition === chosen.partition && line.outcome === 'leading')
    const sample: FailoverSample = {
      ...base,
      killedNode: victimNode.nodeId,
      newLeader: elected ? String(elected.line.to) : null,
      failoverMs: round(failoverMs),
      leaderKnownMs: elected ? elected.atWallMs - killedAtWallMs : null,
      leadingMs: leading ? leading.atWallMs - killedAtWallMs : null,
      sendErrors: this.load.sendErrors - errorsBefore,
      ...(failoverMs === null ? {error: `no acknowledgement within ${failoverTimeoutMs} ms of the kill (last send error: ${this.load.lastError || 'none'})`} : {}),
    }
    await this.heal(victimNode, topic)
    return sample
  }

  private liveNode(): ServeProcess {
    const node = this.nodes.find((candidate) => candidate.exitCode === null)
    if (!node) throw new Error('no Lignum node is running')
    return node
  }

  /** Retried: a node that just restarted is in the ISR a moment before the controller counts it live again. */
  private async createTopic(topic: string): Promise<void> {
    await pollUntil(`Lignum to create ${topic} with RF ${replicationFactor}`, async () => {
      await this.client.createTopic(topic, partitionsPerTopic, {}, {replicationFactor, minInsyncReplicas})
      return true
    }, settleTimeoutMs)
  }

  private async deleteTopic(topic: string): Promise<void> {
    await this.client.deleteTopic(topic)
  }

  /** Every partition has a leader that applied its state and a full ISR; the states by partition. */
  private async waitForLeaders(topic: string): Promise<Map<number, StoredState>> {
    return pollUntil(`every partition of ${topic} led, fully in sync and applied`, async () => {
      const states = await this.partitionStates(topic)
      if (states.size < partitionsPerTopic) return undefined
      for (const [partition, state] of states) {
        if (!state.leader || state.isr.length < replicationFactor) return undefined
        const leader = this.nodes.find((node) => node.nodeId === state.leader)
        const applied = leader?.logged('partition state applied').some((line) => line.topic === topic && line.partition === partition && line.outcome === 'leading' && line.leaderEpoch === state.leaderEpoch)
        if (!applied) return undefined
      }
      return states
    }, settleTimeoutMs)
  }

  private async partitionStates(topic: string): Promise<Map<number, StoredState>> {
    const response = await fetch(`${this.consulUrl}/v1/kv/lignum/${this.cluster}/partitions/${encodeURIComponent(topic)}/?recurse`, {signal: AbortSignal.timeout(connectTimeoutMs)})
    const states = new Map<number, StoredState>()
    if (response.status === 404) return states
    if (!response.ok) throw new Error(`Consul answered ${response.status} reading the partition states of ${topic}`)
    for (const entry of (await response.json()) as {Key: string; Value: string}[]) {
      states.set(Number(entry.Key.split('/').pop()), JSON.parse(Buffer.from(entry.Value, 'base64').toString('utf8')) as StoredState)
    }
    return states
  }

  private async firstAckAfter(sinceMs: number): Promise<number | undefined> {
    const deadline = sinceMs + failoverTimeoutMs
    while (performance.now() < deadline) {
      const first = this.load.firstAckAfter(sinceMs)
      if (first !== undefined) return first
      await new Promise((resolve) => setTimeout(resolve, ackPollMs))
    }
    return undefined
  }

  /** The first line `message` any node logged at or after `sinceWallMs` that `matches`. */
  private loggedAfter(message: string, sinceWallMs: number, matches: (line: LogLine) => boolean): {line: LogLine; atWallMs: number} | undefined {
    const found = this.nodes
      .flatMap((node) => node.logged(message))
      .map((line) => ({line, atWallMs: Date.parse(String(line.time))}))
      .filter((entry) => entry.atWallMs >= sinceWallMs && matches(entry.line))
    return found.sort((left, right) => left.atWallMs - right.atWallMs)[0]
  }

  /** Restarts the killed node, waits for it in every ISR of `topic`, then stops the load and deletes the topic. */
  private async heal(killed: ServeProcess, topic: string): Promise<void> {
    const restarted = await killed.restart()
    this.nodes[this.nodes.indexOf(killed)] = restarted
    await pollUntil(`${killed.nodeId} back in every ISR of ${topic}`, async () => {
      const states = await this.partitionStates(topic)
      return [...states.values()].every((state) => state.isr.includes(killed.nodeId)) ? true : undefined
    }, settleTimeoutMs)
    await this.waitAllUp()
    this.load.moveTo(undefined)
    await this.deleteTopic(topic)
  }

  private waitAllUp(): Promise<void> {
    return waitAllUp(this.liveNode())
  }

  async stop(): Promise<void> {
    await this.load.stop().catch(() => undefined)
    this.client.close()
    await Promise.all(this.nodes.map((node) => node.destroy()))
  }
}

async function waitAllUp(asking: ServeProcess): Promise<void> {
  await pollUntil('a controller with all three Lignum nodes up', async () => {
    const status = await asking.status()
    return status.controller !== null && status.nodes.filter((node) => node.status === 'up').length === nodeIds.length ? true : undefined
  }, settleTimeoutMs)
}

function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms)
}
