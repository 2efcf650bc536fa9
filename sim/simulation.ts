/**
 * One seeded run: N replicas of one partition, each a real Partition on its own directory of
 * the run's in-memory file system (memory-file-system.ts), with a real ReplicaManager and ReplicaFetcher, wired through the simulated clock,
 * network and control plane, each node with the production background verification of what it
 * stored (replica-verification.ts, on the simulated clock) reporting its replica's health in its
 * registration, under an incarnation drawn from the seed at every start. A driver, drawing from the seed, sends acks=all produces (each a
 * unique value) to the partition's leader, reads as a consumer below the high watermark, and
 * injects faults: node crashes (kill -9; on restart a torn write at the log's tail), link
 * partitions, a node cut from the control plane, a node's check going critical, lossy and slow
 * network and control-plane answers. Then everything heals, and the run checks the replicas
 * converged. The invariants (invariants.ts) are checked after every event.
 *
 * Every event runs to quiescence (all its file I/O done) before the next, and each event
 * source numbers its own events, so a seed replays the same schedule exactly.
 */
import path from 'node:path'
import {Partition} from '../src/broker/partition.js'
import {batchPositions, decodeRecordBatch, encodeRecordBatch} from '../src/format/record-batch.js'
import {leadershipOfThisProcess} from '../src/cluster/leadership-incarnation.js'
import {HEALTHY_REPLICAS, type ReplicaHealth} from '../src/cluster/replica-health.js'
import {PartitionDamagedError} from '../src/log/partition-log.js'
import {silentLogger} from '../src/logger.js'
import {initialReplicaHealth, ReplicaVerification, type StoredReplicas} from '../src/server/replica-verification.js'
import {ReplicaFetcher} from '../src/replication/replica-fetcher.js'
import {ReplicaManager} from '../src/replication/replica-manager.js'
import type {LeaderClient, PartitionState} from '../src/replication/replication-interfaces.js'
import {InvariantChecker} from './invariants.js'
import {MemoryFileSystem} from './memory-file-system.js'
import {useFileSystem} from '../src/log/file-system.js'
import {Prng} from './prng.js'
import {quiescent, SimClock} from './sim-clock.js'
import {segmentHandlesOpenMax, setSegmentHandlesOpenMax} from '../src/log/segment-handles.js'
import {flipBit, SimDisk, tearTail} from './sim-disk.js'
import {SimControlPlane, type ControlFaults, type SimRegistration} from './sim-control-plane.js'
import {calmNetwork, SimLink, type NetworkFaults, type NetworkView} from './sim-network.js'

const TOPIC = 'sim'
const START_MS = 1_700_000_000_000
// Small segments, so runs roll segments and truncate across them.
const SEGMENT_BYTES = 2048
// Simulated time with load and faults, then healed, quiet time for the replicas to converge:
// long enough for a check to go critical, a lagging follower to leave and rejoin the ISR.
const ACTIVE_MS = 6_000
const HEAL_MS = 8_000
// A bound on events per run, against a schedule that never settles (a livelock is a finding).
const EVENTS_MAX = 200_000
const SESSION_TTL_MS = 1_500
const ACK_TIMEOUT_MS = 30_000
const MIN_INSYNC_REPLICAS = 2
// The background verification's pace, scaled to the simulated logs (a few kilobytes): a typical
// replica (5 KB) takes about a TTL to verify, as a production replica of a few GB at 32 MB/s
// takes a few TTLs, so a restarted node stays unverified for a while and a flip is found partway.
const VERIFY_BYTES_PER_SECOND = 4 * 1024
const VERIFY_CHUNK_BYTES = 1024

/** Bugs planted on purpose, to show the checker catches them. */
export type Sabotage = 'leader-high-watermark-at-own-log-end' | 'follower-skips-truncation'

export interface SimulationOptions {
  seed: number
  replicas: 3 | 5
  /** Directory of the replicas' files, on `files`. */
  root: string
  /** The in-memory file system every replica's files live on (installed as the log's for the run). */
  files: MemoryFileSystem
  /** For checking the checker: a fault planted in the simulated system (see sabotage). */
  sabotage?: Sabotage
  /**
   * Adds the disk faults beyond a process crash: power loss (a restarting node loses what it
   * never synced) and a flipped bit in a closed segment. Off by default (see the report).
   */
  diskFaults?: boolean
}

export interface SimulationResult {
  seed: number
  replicas: number
  violations: string[]
  schedule: string[]
  events: number
  acknowledged: number
  seen: number
  leaderChanges: number
  crashes: number
  staleAcks: number
  simulatedMs: number
}

interface SimNode {
  id: number
  /** Counts the node's process lives: timers and link answers of an earlier life go nowhere. */
  life: number
  /** The incarnation its process registers with (INCARNATION_META), new at every start. */
  incarnation: string
  /** Whether the catalog's last state gave this process the leadership (cluster-replication.ts's confirmation; the lease is not simulated). */
  leadershipConfirmed: boolean
  /** What its process knows of its replica's health: a registration not sent yet carries the newest (NodeRegistration's). */
  health: ReplicaHealth
  up: boolean
  dir: string
  partition: Partition | null
  manager: ReplicaManager | null
  disk: SimDisk
}

export class Simulation {
  readonly clock = new SimClock(START_MS)
  readonly schedule: string[] = []
  readonly checker: InvariantChecker
  private readonly nodes = new Map<number, SimNode>()
  private readonly control: SimControlPlane
  private readonly driver: Prng
  private readonly incarnations: Prng
  private readonly cutLinks = new Set<string>()
  private readonly network: NetworkFaults = {...calmNetwork}
  private readonly controlFaults: ControlFaults = {lostAnswerProbability: 0, slowProbability: 0, slowDelayMs: 0}
  private readonly view: NetworkView
  private produced = 0
  /** The leader as clients last learned it (metadata): stale after a failover until refreshed, so a deposed leader still gets requests. */
  private clientLeader = 1
  private consumerOffset = 0
  private crashes = 0
  /** Acknowledgements given by a node after the controller had named another leader (a deposed leader's acks). */
  private staleAcks = 0
  private healed = false
  /** Nodes whose log was found damaged on open: offline until an operator repairs them. */
  private readonly damagedNodes = new Set<number>()
  events = 0

  constructor(private readonly options: SimulationOptions) {
    this.driver = Prng.forStream(options.seed, 'driver')
    this.incarnations = Prng.forStream(options.seed, 'incarnations')
    this.checker = new InvariantChecker({everyInSyncReplicaHoldsCommitted: !options.diskFaults})
    const ids = Array.from({length: options.replicas}, (_, index) => index + 1)
    for (const id of ids) this.nodes.set(id, {id, life: 0, incarnation: this.drawIncarnation(), leadershipConfirmed: false, health: HEALTHY_REPLICAS, up: false, dir: path.join(options.root, `node-${id}`, `${TOPIC}-0`), partition: null, manager: null, disk: new SimDisk(options.files)})
    this.view = {
      clock: this.clock,
      faults: this.network,
      partitionOf: (id) => this.upNode(id)?.partition ?? null,
      isLive: (id, life) => this.upNode(id)?.life === life,
      connected: (a, b) => !this.cutLinks.has(linkKey(a, b)),
      note: (what) => this.note(what),
    }
    this.control = new SimControlPlane(
      {clock: this.clock, faults: this.controlFaults, sessionTtlMs: SESSION_TTL_MS, deliver: (id, state, leaderIncarnation) => this.deliver(id, state, leaderIncarnation), note: (what) => this.note(what)},
      options.seed,
      {name: TOPIC, partition: 0, minInsyncReplicas: MIN_INSYNC_REPLICAS, uncleanLeaderElection: false},
      {replicas: ids, leader: 1, leaderEpoch: 1, leaderIncarnation: (this.nodes.get(1) as SimNode).incarnation, isrIncarnations: Object.fromEntries(ids.map((id) => [String(id), (this.nodes.get(id) as SimNode).incarnation]))},
    )
  }

  async run(): Promise<SimulationResult> {
    const restore = this.options.sabotage === 'follower-skips-truncation' ? skipTruncation() : () => {}
    try {
      return await this.runAll()
    } finally {
      restore()
    }
  }

  private async runAll(): Promise<SimulationResult> {
    const registrations = new Map<number, SimRegistration>()
    for (const node of this.nodes.values()) registrations.set(node.id, await this.start(node))
    for (const [id, registration] of registrations) this.control.nodeRegistered(id, registration)
    this.clock.at(1, 'driver', 'tick', () => this.tick())
    this.clock.at(ACTIVE_MS, 'driver', 'heal', () => this.healAll())
    const endMs = START_MS + ACTIVE_MS + HEAL_MS
    while (this.events < EVENTS_MAX) {
      const next = this.clock.peekMs()
      if (next === null || next > endMs) break
      const event = this.clock.takeNext()
      if (!event) break
      this.events++
      this.schedule.push(`${event.atMs - START_MS} ${event.source}: ${event.what}`)
      event.run()
      await quiescent()
      await this.check(false)
      if (this.checker.violations.length > 0) break
    }
    if (this.checker.violations.length === 0) await this.check(true)
    await this.closeAll()
    return {
      seed: this.options.seed,
      replicas: this.options.replicas,
      violations: [...this.checker.violations],
      schedule: this.schedule,
      events: this.events,
      acknowledged: this.checker.acknowledged.size,
      seen: this.checker.seen.size,
      leaderChanges: this.control.leaderChanges,
      crashes: this.crashes,
      staleAcks: this.staleAcks,
      simulatedMs: this.clock.nowMs() - START_MS,
    }
  }

  private async check(final: boolean): Promise<void> {
    const live = [...this.nodes.values()].filter((node) => node.up && node.partition)
    const replicas = live.map((node) => ({id: node.id, life: node.life, partition: node.partition as Partition}))
    const state = this.control.state
    if (final) {
      // Healed and quiet: every replica must hold the leader's committed log.
      if (state.leader < 0) this.checker.violations.push(`unavailable: no leader after healing (isr [${state.isr}])`)
      await this.checker.check(replicas.filter((replica) => state.isr.includes(replica.id)), state, true)
      return
    }
    await this.checker.check(replicas, state)
  }

  // ---- nodes ----

  private upNode(id: number): SimNode | null {
    const node = this.nodes.get(id)
    return node && node.up && node.partition ? node : null
  }

  /** Starts the node's process: opens its replica, starts replicating and verifying; what it registers with. */
  private async start(node: SimNode): Promise<SimRegistration> {
    node.life++
    const life = node.life
    const {incarnation} = node
    node.leadershipConfirmed = false
    const source = `node ${node.id}`
    const clock = this.clock.nodeClock(source, () => node.up && node.life === life)
    await this.options.files.mkdirRecursive(node.dir)
    const partition = await Partition.open(TOPIC, 0, node.dir, {segmentBytes: SEGMENT_BYTES, flushPolicy: 'never'}, {logger: silentLogger, clock, role: 'follower', leaderEpoch: 0, openFile: node.disk.openFile})
    if (this.options.sabotage) sabotage(partition, this.options.sabotage)
    const links = new Map<number, LeaderClient>()
    const manager = new ReplicaManager({
      replicaId: node.id,
      // Its fetches carry the process's incarnation, as cluster-replication.ts's do.
      incarnation,
      partitions: (topic, index) => (topic === TOPIC && index === 0 ? partition : undefined),
      leaderClient: (leaderId) => {
        let link = links.get(leaderId)
        if (!link) {
          link = new SimLink(this.view, this.options.seed, node.id, leaderId, life)
          links.set(leaderId, link)
        }
        return link
      },
      isrWriter: {writeIsr: (_topic, _index, change) => this.control.writeIsr(node.id, change)},
      clock,
      logger: silentLogger,
      config: {replicaLagMaxMs: 1000, isrCheckIntervalMs: 500, fetcher: {backoffMs: 100, fetchMaxWaitMs: 500}},
    })
    // cluster-replication.ts's guard: leading also needs the leadership confirmed for this process.
    partition.setLeadershipGuard(() => node.up && node.life === life && node.leadershipConfirmed)
    node.partition = partition
    node.manager = manager
    node.up = true
    manager.start()
    const stored: StoredReplicas = {
      localPartition: (topic, index) => (topic === TOPIC && index === 0 ? partition : undefined),
      listTopics: () => [{name: TOPIC, partitions: [partition.describe()], settings: {}, internal: false}],
      damagedPartitions: () => [],
    }
    const health = initialReplicaHealth(stored)
    node.health = health
    const verification = new ReplicaVerification({
      broker: stored,
      logger: silentLogger,
      report: async (reported) => {
        this.note(`node ${node.id} reports damaged [${reported.damaged}] unverified [${reported.unverified}]`)
        node.health = reported
        await this.control.reportHealth(node.id, incarnation, reported)
      },
      bytesPerSecond: VERIFY_BYTES_PER_SECOND,
      chunkBytes: VERIFY_CHUNK_BYTES,
      clock,
    }, health, health)
    verification.start()
    return {incarnation, health}
  }

  /** cluster-replication.ts's handling of a catalog state: applied, and a leadership acted on only when given to this process. */
  private deliver(id: number, state: PartitionState, leaderIncarnation: string | undefined): void {
    const node = this.upNode(id)
    if (!node?.manager || !node.partition) return
    const {life, partition} = node
    node.manager
      .applyPartitionState(state)
      .then((outcome) => {
        if (node.life !== life) return
        const ours = leadershipOfThisProcess({leader: state.leader < 0 ? null : String(state.leader), leaderIncarnation}, String(id), node.incarnation)
        if (!ours) this.note(`node ${id} does not act on the leadership at e${state.leaderEpoch}: given to an earlier process`)
        node.leadershipConfirmed = outcome === 'leading' && ours
        if (node.leadershipConfirmed) partition.leadershipResumed()
      })
      .catch((error: Error) => this.note(`node ${id} refused state: ${error.message}`))
  }

  /** kill -9: nothing more runs on the node; its files stay as they are (the page cache survives a process crash). */
  private crash(node: SimNode): void {
    node.up = false
    this.crashes++
    this.control.nodeSilent(node.id)
  }

  /** The old process's handles are closed without its shutdown writes; a torn write may end its active segment. */
  private async restart(node: SimNode, damage: RestartDamage): Promise<void> {
    node.partition = null
    node.manager = null
    await node.disk.crashClose()
    await this.damage(node, damage)
    node.incarnation = this.drawIncarnation()
    try {
      await this.start(node)
    } catch (error) {
      // A damaged log stays offline until repaired (broker/damaged-partition.ts): the node does not come back.
      if (!(error instanceof PartitionDamagedError)) throw error
      this.note(`node ${node.id} stays down: its log is damaged (${error.message.split(';')[0]})`)
      this.damagedNodes.add(node.id)
      return
    }
    // A restart within the TTL is never seen down: the check the new process registers passes at
    // once. A process that died meanwhile registers nothing.
    const {life, incarnation} = node
    this.clock.at(this.driver.int(1, 50), 'control', `register ${node.id} as ${incarnation}`, () => {
      if (node.up && node.life === life) this.control.nodeRegistered(node.id, {incarnation, health: node.health})
    })
  }

  /** A new process's incarnation (cluster-member.ts draws a random UUID; here the seed's stream does). */
  private drawIncarnation(): string {
    return this.incarnations.nextUint32().toString(16).padStart(8, '0')
  }

  private async damage(node: SimNode, damage: RestartDamage): Promise<void> {
    if (damage.kind === 'torn') await tearTail(this.options.files, node.dir, damage.bytes, this.driver)
    if (damage.kind === 'power-loss') this.note(`node ${node.id} lost unsynced data: ${(await node.disk.loseUnsynced(node.dir)).join(', ') || 'none'}`)
    if (damage.kind === 'bit-flip') this.note(`node ${node.id} flipped a bit: ${(await flipBit(this.options.files, node.dir, this.driver)) ?? 'no closed segment'}`)
  }

  private async closeAll(): Promise<void> {
    for (const node of this.nodes.values()) {
      node.up = false
      // Not awaited: a fetcher's stop may wait on simulated events that will no longer run.
      void node.manager?.close().catch(() => {})
      await node.disk.crashClose()
    }
    await this.options.files.removeRecursive(this.options.root)
  }

  // ---- the driver ----

  private tick(): void {
    if (this.healed) return
    const roll = this.driver.next()
    if (this.driver.chance(0.1)) this.clientLeader = this.control.state.leader
    if (roll < 0.6) this.produce()
    else if (roll < 0.75) void this.consume()
    else if (roll < 0.84) void this.fault()
    this.clock.at(this.driver.int(2, 30), 'driver', 'tick', () => this.tick())
  }

  /** An acks=all produce of one unique value, sent to the node the client believes leads. */
  private produce(): void {
    const leader = this.upNode(this.clientLeader)
    if (!leader?.partition) {
      this.clientLeader = this.control.state.leader
      return
    }
    const partition = leader.partition
    const value = `v${++this.produced}`
    this.note(`produce ${value} to ${leader.id}`)
    const batch = encodeRecordBatch([{key: null, value: Buffer.from(value), timestamp: this.clock.nowMs()}])
    partition
      .appendAsLeader(batch, {acks: 'all'})
      .then(async ({lastOffset}) => {
        await partition.waitForHighWatermark(lastOffset, ACK_TIMEOUT_MS)
        const stale = this.control.state.leader !== leader.id
        if (stale) this.staleAcks++
        this.note(`ack ${value} at ${lastOffset} by ${leader.id}${stale ? ' (no longer the leader the controller names)' : ''}`)
        this.checker.recordAcknowledged(lastOffset, value)
      })
      .catch(() => {
        // NOT_LEADER, NOT_ENOUGH_REPLICAS, a timeout: the client refreshes its metadata; the value is not retried.
        this.clientLeader = this.control.state.leader
      })
  }

  /** A consumer reading from the node it believes leads, below that node's high watermark, from where it left off. */
  private async consume(): Promise<void> {
    const leader = this.upNode(this.clientLeader)
    if (!leader?.partition) {
      this.clientLeader = this.control.state.leader
      return
    }
    try {
      const result = await leader.partition.fetch(this.consumerOffset, 64 * 1024, 0)
      for (const {position} of batchPositions(result.batches)) {
        for (const record of decodeRecordBatch(result.batches, position).records) {
          if (record.offset < this.consumerOffset) continue
          this.checker.recordSeen(record.offset, record.value?.toString() ?? '')
          this.consumerOffset = record.offset + 1
        }
      }
      if (result.batches.length > 0) this.note(`consumer at ${this.consumerOffset} from ${leader.id}`)
    } catch {
      // Out of range on a leader that is behind, or a closed partition: the consumer tries again later.
    }
  }

  private async fault(): Promise<void> {
    const ids = [...this.nodes.keys()]
    const kind = this.driver.int(0, 9)
    const node = this.nodes.get(this.driver.pick(ids)) as SimNode
    const down = [...this.nodes.values()].filter((candidate) => !candidate.up && !this.damagedNodes.has(candidate.id))
    if (kind === 0 && node.up) {
      this.note(`fault: crash ${node.id}`)
      this.crash(node)
    } else if (kind === 1 && down.length > 0) {
      const target = this.driver.pick(down)
      const damage = this.restartDamage()
      this.note(`fault: restart ${target.id} (${damage.kind}${damage.kind === 'torn' ? ` ${damage.bytes} bytes` : ''})`)
      await this.restart(target, damage)
    } else if (kind === 2 || kind === 3) {
      const other = this.driver.pick(ids.filter((id) => id !== node.id))
      const key = linkKey(node.id, other)
      if (this.cutLinks.has(key)) this.cutLinks.delete(key)
      else this.cutLinks.add(key)
      this.note(`fault: link ${key} ${this.cutLinks.has(key) ? 'cut' : 'healed'}`)
    } else if (kind === 4) {
      if (this.control.isCut(node.id)) this.control.heal(node.id)
      else this.control.cutFrom(node.id)
      this.note(`fault: node ${node.id} ${this.control.isCut(node.id) ? 'cut from' : 'back on'} the control plane`)
    } else if (kind === 5 && node.up && this.control.isLive(node.id)) {
      this.note(`fault: check of ${node.id} goes critical (a renewal lost past the TTL)`)
      this.control.checkCritical(node.id)
      this.clock.at(this.driver.int(100, 2000), 'control', `register ${node.id}`, () => this.control.nodeRegistered(node.id))
    } else if (kind === 6) {
      this.setNetwork(this.driver.chance(0.5))
    } else if (kind === 7) {
      const lossy = this.driver.chance(0.5)
      Object.assign(this.controlFaults, lossy ? {lostAnswerProbability: 0.2, slowProbability: 0.2, slowDelayMs: 3000} : {lostAnswerProbability: 0, slowProbability: 0, slowDelayMs: 0})
      this.note(`fault: control plane ${lossy ? 'lossy and slow' : 'calm'}`)
    }
  }

  private restartDamage(): RestartDamage {
    const roll = this.driver.next()
    if (this.options.diskFaults && roll < 0.25) return {kind: 'power-loss'}
    if (this.options.diskFaults && roll < 0.4) return {kind: 'bit-flip'}
    if (roll < 0.7) return {kind: 'torn', bytes: this.driver.int(1, 200)}
    return {kind: 'none'}
  }

  private setNetwork(lossy: boolean): void {
    Object.assign(this.network, lossy ? {dropProbability: 0.1, duplicateProbability: 0.1, slowProbability: 0.1, slowDelayMs: 1500} : calmNetwork)
    this.note(`fault: network ${lossy ? 'lossy' : 'calm'}`)
  }

  private healAll(): void {
    this.healed = true
    this.note('heal: every fault ends')
    this.cutLinks.clear()
    this.setNetwork(false)
    Object.assign(this.controlFaults, {lostAnswerProbability: 0, slowProbability: 0, slowDelayMs: 0})
    // Down nodes restart one after another: restarts running side by side would draw from the
    // driver's stream in the order their file I/O happens to finish, and a seed would not replay.
    let restarts = Promise.resolve()
    for (const node of this.nodes.values()) {
      this.control.heal(node.id)
      if (!node.up && !this.damagedNodes.has(node.id)) restarts = restarts.then(() => this.restart(node, {kind: 'none'}))
      else if (!this.control.isLive(node.id)) this.control.nodeRegistered(node.id)
    }
    void restarts
  }

  private note(what: string): void {
    this.schedule.push(`${this.clock.nowMs() - START_MS}   ${what}`)
  }
}

type RestartDamage = {kind: 'none'} | {kind: 'torn'; bytes: number} | {kind: 'power-loss'} | {kind: 'bit-flip'}

function linkKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`
}

/**
 * Plants a bug, to show the checker catches it: the leader counts only itself toward the
 * high watermark, so it acknowledges records no follower holds yet.
 */
function sabotage(partition: Partition, kind: Sabotage): void {
  if (kind !== 'leader-high-watermark-at-own-log-end') return
  const inner = partition as unknown as {inSync: {lowestInSyncLogEnd: (logEnd: number) => number}}
  inner.inSync.lowestInSyncLogEnd = (logEnd) => logEnd
}

/**
 * Plants a bug: a follower of a new epoch keeps its log as it is instead of truncating to the
 * leader's epoch end (KIP-101), so what a deposed leader wrote past the commit point survives.
 * Returns the function that takes the bug out again.
 */
function skipTruncation(): () => void {
  const prototype = ReplicaFetcher.prototype as unknown as {truncateToLeader: () => Promise<void>}
  const original = prototype.truncateToLeader
  prototype.truncateToLeader = async () => {}
  return () => {
    prototype.truncateToLeader = original
  }
}

export async function simulate(seed: number, replicas: 3 | 5 = 3, options: Pick<SimulationOptions, 'sabotage' | 'diskFaults'> = {}): Promise<SimulationResult> {
  // Each run on a file system of its own: nothing on disk, nothing shared with another run.
  const files = new MemoryFileSystem()
  const restoreFileSystem = useFileSystem(files)
  // The segment handle cache is process-wide: handles other work left open would make it
  // evict (and reopen through the simulated disk) at points that differ from run to run.
  const handlesOpenMax = segmentHandlesOpenMax()
  setSegmentHandlesOpenMax(SIMULATION_HANDLES_OPEN_MAX)
  try {
    return await new Simulation({seed, replicas, root: `/lignum-sim/seed-${seed}`, files, ...options}).run()
  } finally {
    setSegmentHandlesOpenMax(handlesOpenMax)
    restoreFileSystem()
  }
}

// Far above what any simulation opens, so the cache never evicts during one.
const SIMULATION_HANDLES_OPEN_MAX = 1_000_000
