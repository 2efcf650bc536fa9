/**
 * The simulated control plane: Consul's part (one partition's catalog state with a ModifyIndex,
 * every node's TTL check, watches) simulated, and the controller's part the real code — its
 * duty `electPartitionLeaders` (controller-duties.ts, and through it leader-election.ts's
 * `electLeader`) runs on every membership change the controller's watch shows, over the live
 * nodes (those whose check passes), with its reads and check-and-set writes going through
 * simulated Consul calls that can be slow or lost. A refused or failed run is retried after
 * the controller's retry delay, one run at a time, as cluster-member.ts runs its duties.
 *
 * A node's check passes while it renews it: a crashed node or one cut from Consul goes
 * critical a TTL after it was last heard, and a restart registers it passing again (so a node
 * back within the TTL was never seen down, as in production). A registration carries what
 * node-registration.ts's does: the process's incarnation and its replicas' health (damaged,
 * unverified); the controller's watch shows every change of it (a restart's new incarnation,
 * a health report, as Consul's health index moves on a re-registration), and its duty reads
 * them through the production cluster view (cluster-view.ts). A health report is a Consul call
 * like any other: lost or slow, it is sent again at the node's next renewal. The ISR write a leader sends
 * follows TopicCatalog.writeIsr's rules: refused unless the stored leader epoch is the
 * writer's, the ISR holds the leader and only replicas; it bumps the partition epoch.
 *
 * Faults: a Consul request or its answer lost (the caller's call fails at its deadline, whether
 * or not the write landed) or slow; a node cut from the control plane (its writes fail, its
 * watch is silent, its check goes critical); a node's check going critical at once.
 *
 * Invariants: the leader epoch only grows; a leader is always in the ISR; a watch never
 * delivers a node an older state than it already got.
 */
import {CATALOG_RECORD_VERSION, type StoredPartitionState} from '../src/cluster/catalog-records.js'
import {ClusterKeys} from '../src/cluster/cluster-keys.js'
import {buildClusterView} from '../src/cluster/cluster-view.js'
import type {ServiceHealth} from '../src/cluster/consul-api.js'
import {electPartitionLeadersOfView, UNCLEAN_LEADER_ELECTION_SETTING, type ControllerTerm, type ElectionCatalog} from '../src/cluster/controller-duties.js'
import {incarnationsAfterIsrChange} from '../src/cluster/isr-incarnations.js'
import type {ElectionInput} from '../src/cluster/leader-election.js'
import {controllerPartitionState} from '../src/cluster/topic-catalog.js'
import {registrationMeta} from '../src/cluster/node-registration.js'
import type {ReplicaHealth} from '../src/cluster/replica-health.js'
import {LignumError} from '../src/errors.js'
import type {LogFields, Logger} from '../src/logger.js'
import type {IsrChangeRequest, PartitionState} from '../src/replication/replication-interfaces.js'
import {Prng} from './prng.js'
import type {SimClock, SimEvent} from './sim-clock.js'

// cluster-member.ts: one Consul call may take a third of the TTL, within these bounds, before it counts as failed.
const REQUEST_TIMEOUT_MIN_MS = 1_000
const REQUEST_TIMEOUT_MAX_MS = 5_000
// cluster-member.ts: a controller duty that was refused (a concurrent write won) runs again this soon.
const DUTY_RETRY_MS = 200
// The simulated controller holds one term for the whole run (controller failover is not simulated).
const CONTROLLER_TERM: ControllerTerm = {sessionId: 'sim-controller', epoch: 1}
// cluster-member.ts renews a node's check this many times per TTL; a registration Consul did not take is sent again with the next renewal.
const RENEWALS_PER_TTL = 3
const CLUSTER_KEYS = new ClusterKeys('sim')

/** What a node's process registers with (node-registration.ts): which process it is, and what it knows of its replica. */
export interface SimRegistration {
  incarnation: string
  health: ReplicaHealth
}

export interface ControlFaults {
  lostAnswerProbability: number
  slowProbability: number
  slowDelayMs: number
}

export interface ControlPlaneView {
  clock: SimClock
  faults: ControlFaults
  /** A node's check goes critical this long after its last renewal reached Consul. */
  sessionTtlMs: number
  /** Hands `state` to node `id`'s replica manager, if the node is up, with the incarnation its leader's leadership was given to. */
  deliver(id: number, state: PartitionState, leaderIncarnation: string | undefined): void
  note(what: string): void
}

export interface SimTopic {
  name: string
  partition: number
  minInsyncReplicas: number
  /** The topic's `--unclean-leader-election`. */
  uncleanLeaderElection: boolean
}

export class SimControlPlane {
  private stored: StoredPartitionState
  /** The data plane's view of `stored`, made when `stored` last changed. */
  private stateOf: StoredPartitionState | null = null
  private stateValue: PartitionState | null = null
  private readonly delivered = new Map<number, number>()
  private readonly passing = new Map<number, boolean>()
  private readonly expiries = new Map<number, SimEvent>()
  private readonly cut = new Set<number>()
  /** Per node: the registration Consul holds, and the one its process wants there (newer while Consul has not taken it). */
  private readonly registered = new Map<number, SimRegistration>()
  private readonly wanted = new Map<number, SimRegistration>()
  private readonly resendPending = new Set<number>()
  private readonly prng: Prng
  private readonly controllerPrng: Prng
  /** The registrations as the controller's watch last showed them. */
  private controllerServices: ServiceHealth[] = []
  private membershipVersion = 0
  private controllerSawVersion = 0
  private dutiesRunning = false
  private dutiesAgain = false
  private dutyRetry: SimEvent | null = null
  private readonly controllerCatalog: ElectionCatalog
  private readonly controllerLogger: Logger
  private readonly requestTimeoutMs: number
  leaderChanges = 0

  constructor(private readonly view: ControlPlaneView, seed: number, private readonly topic: SimTopic, initial: {replicas: number[]; leader: number; leaderEpoch: number; leaderIncarnation: string; isrIncarnations: Record<string, string>}) {
    const replicas = initial.replicas.map(String)
    // As TopicCatalog.createTopic writes it: led by the first replica, in the process it runs now, every replica in the ISR as the process it runs now.
    this.stored = {
      topic: topic.name,
      partition: topic.partition,
      modifyIndex: 1,
      state: {version: CATALOG_RECORD_VERSION, replicas, leader: String(initial.leader), leaderEpoch: initial.leaderEpoch, isr: [...replicas], epoch: CONTROLLER_TERM.epoch, partitionEpoch: 0, leaderIncarnation: initial.leaderIncarnation, isrIncarnations: {...initial.isrIncarnations}},
    }
    this.requestTimeoutMs = Math.min(REQUEST_TIMEOUT_MAX_MS, Math.max(REQUEST_TIMEOUT_MIN_MS, view.sessionTtlMs / 3))
    this.prng = Prng.forStream(seed, 'control')
    this.controllerPrng = Prng.forStream(seed, 'controller')
    for (const id of initial.replicas) this.passing.set(id, true)
    this.controllerCatalog = {
      describeAllTopics: () => this.call(this.controllerPrng, 'controller', null, 'read partitions', () => this.describeAll()),
      writePartitionAsController: (term, current, next) =>
        this.call(this.controllerPrng, 'controller', null, `write leader ${next.leader} e${next.leaderEpoch} isr [${next.isr}]`, () => this.writeAsController(term, current, next)),
    }
    this.controllerLogger = noteLogger((what) => this.view.note(`controller: ${what}`))
  }

  /** The partition state as the data plane takes it (replica ids as numbers, no leader as -1). */
  /**
   * The partition state as the data plane sees it. The same object until the stored state
   * changes (`stored` is replaced, never changed in place): the driver and the checker read it
   * after every event. Read-only; a delivery to a node gets a copy of its own (`deliverable`).
   */
  get state(): PartitionState {
    if (this.stateOf !== this.stored) {
      this.stateValue = toDataPlane(this.stored, this.topic.minInsyncReplicas)
      this.stateOf = this.stored
    }
    return this.stateValue as PartitionState
  }

  private get deliverable(): PartitionState {
    return toDataPlane(this.stored, this.topic.minInsyncReplicas)
  }

  isCut(id: number): boolean {
    return this.cut.has(id)
  }

  /** Whether node `id`'s check passes in Consul now. */
  isLive(id: number): boolean {
    return this.passing.get(id) === true
  }

  /**
   * The ISR write as a node's IsrWriter sends it: cluster-replication.ts's writeIsr reads the
   * partition state, then TopicCatalog.writeIsr checks it and writes with check-and-set on the
   * ModifyIndex read — two Consul calls, so a write delayed past a newer one is refused.
   */
  async writeIsr(from: number, change: IsrChangeRequest): Promise<boolean> {
    const read = await this.call(this.prng, 'control', from, `isr read ${from}`, () => copyStored(this.stored))
    if (read.state.leaderEpoch !== change.leaderEpoch) return false
    return this.call(this.prng, 'control', from, `isr write ${from} [${change.isr}] e${change.leaderEpoch}`, () => this.applyIsrWrite(read, change))
  }

  private applyIsrWrite(read: StoredPartitionState, change: IsrChangeRequest): boolean {
    if (read.modifyIndex !== this.stored.modifyIndex) return false
    const {state} = this.stored
    const isr = change.isr.map(String)
    const valid = isr.every((node) => state.replicas.includes(node)) && new Set(isr).size === isr.length && (state.leader === null || isr.includes(state.leader))
    if (!valid) return false
    const added = Object.fromEntries(Object.entries(change.addedIncarnations ?? {}).map(([id, incarnation]) => [String(id), incarnation]))
    const {isrIncarnations: _before, ...rest} = state
    const isrIncarnations = incarnationsAfterIsrChange(state, isr, added)
    this.publish({...rest, isr, partitionEpoch: state.partitionEpoch + 1, ...(isrIncarnations ? {isrIncarnations} : {})})
    return true
  }

  /** A node went silent (crashed, or cut from the control plane): its check goes critical after the TTL. */
  nodeSilent(id: number): void {
    if (this.expiries.has(id) || !this.isLive(id)) return
    this.expiries.set(id, this.view.clock.at(this.view.sessionTtlMs, 'control', `check ttl ${id}`, () => this.checkCritical(id)))
  }

  /** Node `id`'s check goes critical now (its TTL ran out, or a renewal was lost past it): the controller sees it down. */
  checkCritical(id: number): void {
    this.cancelExpiry(id)
    if (!this.isLive(id)) return
    this.passing.set(id, false)
    this.view.note(`check of ${id} critical`)
    this.membershipChanged()
  }

  private cancelExpiry(id: number): void {
    const pending = this.expiries.get(id)
    if (pending) pending.cancelled = true
    this.expiries.delete(id)
  }

  /**
   * Node `id` registered (`registration`: a process started) or renewed again: its check
   * passes, Consul holds what its process registers with, and it is watching the catalog.
   */
  nodeRegistered(id: number, registration?: SimRegistration): void {
    if (registration) this.wanted.set(id, registration)
    // A node cut from Consul cannot register: it does when the cut heals.
    if (this.cut.has(id)) return
    this.cancelExpiry(id)
    this.delivered.delete(id)
    this.watchOne(id)
    const changed = this.takeRegistration(id, this.wanted.get(id))
    if (this.isLive(id) && !changed) return
    this.passing.set(id, true)
    this.membershipChanged()
  }

  /**
   * The replica health the process of `incarnation` reports (ReplicaVerification's report,
   * through NodeRegistration.reportReplicaHealth): a registration sent at once, and with every
   * renewal after until Consul has taken it. Before the process registered, its registration
   * will carry it (the caller keeps it), as NodeRegistration's does.
   */
  reportHealth(id: number, incarnation: string, health: ReplicaHealth): Promise<void> {
    if (this.wanted.get(id)?.incarnation !== incarnation) return Promise.resolve()
    const registration = {incarnation, health}
    this.wanted.set(id, registration)
    return this.sendRegistration(id, registration)
  }

  private sendRegistration(id: number, registration: SimRegistration): Promise<void> {
    const sent = this.call(this.prng, 'control', id, `register ${id} ${describeHealth(registration.health)}`, () => {
      if (this.takeRegistration(id, registration) && this.isLive(id)) this.membershipChanged()
    })
    sent.catch(() => this.resendAtRenewal(id))
    return sent
  }

  /** The node's next renewal registers again what Consul has not taken (node-registration.ts's healthUnsent). */
  private resendAtRenewal(id: number): void {
    if (this.resendPending.has(id)) return
    this.resendPending.add(id)
    this.view.clock.at(this.view.sessionTtlMs / RENEWALS_PER_TTL, 'control', `renewal ${id} re-registers`, () => {
      this.resendPending.delete(id)
      const wanted = this.wanted.get(id)
      if (wanted && wanted !== this.registered.get(id)) void this.sendRegistration(id, wanted).catch(() => {})
    })
  }

  /** Consul stores `registration` for node `id`; whether the registration changed. */
  private takeRegistration(id: number, registration: SimRegistration | undefined): boolean {
    if (!registration || this.registered.get(id) === registration) return false
    const before = this.registered.get(id)
    this.registered.set(id, registration)
    return before === undefined || before.incarnation !== registration.incarnation || describeHealth(before.health) !== describeHealth(registration.health)
  }

  cutFrom(id: number): void {
    this.cut.add(id)
    this.nodeSilent(id)
  }

  /** The node reaches Consul again: its next renewal passes its check, its watch resumes. */
  heal(id: number): void {
    if (!this.cut.delete(id)) return
    this.view.clock.at(this.delayMs(this.prng), 'control', `renewal ${id}`, () => {
      if (!this.cut.has(id)) this.nodeRegistered(id)
    })
  }

  // ---- the controller ----

  /**
   * The controller's watch on the services shows the change after a delay, and its duties run.
   * A blocking query's answers come in order: one overtaken by a newer change is never shown.
   */
  private membershipChanged(): void {
    const services = this.services()
    const live = services.filter((service) => service.passing).map((service) => service.meta.nodeId)
    const version = ++this.membershipVersion
    this.view.clock.at(this.delayMs(this.controllerPrng), 'controller', `sees live [${live}]${describeServices(services)} v${version}`, () => {
      if (version <= this.controllerSawVersion) return
      this.controllerSawVersion = version
      this.controllerServices = services
      this.runDuties()
    })
  }

  /** Every node's registration in Consul now, as the health endpoint answers it. */
  private services(): ServiceHealth[] {
    return [...this.registered].map(([id, registration]) => ({
      serviceId: CLUSTER_KEYS.serviceId(String(id)),
      address: 'sim',
      port: id,
      meta: registrationMeta(CLUSTER_KEYS, {nodeId: String(id), advertiseAddress: `sim:${id}`, version: 'sim', incarnation: registration.incarnation}, registration.health),
      passing: this.isLive(id),
    }))
  }

  /** cluster-member.ts's loop: one run at a time, again if asked meanwhile, retried when refused. */
  private runDuties(): void {
    if (this.dutiesRunning) {
      this.dutiesAgain = true
      return
    }
    this.dutiesRunning = true
    void this.dutiesLoop().finally(() => {
      this.dutiesRunning = false
    })
  }

  private async dutiesLoop(): Promise<void> {
    do {
      this.dutiesAgain = false
      try {
        const view = buildClusterView(CLUSTER_KEYS, {kvEntries: [], services: this.controllerServices, consulReachable: true})
        if (!(await electPartitionLeadersOfView(this.controllerCatalog, CONTROLLER_TERM, view, this.controllerLogger))) this.retryDutiesSoon()
      } catch {
        this.retryDutiesSoon()
      }
    } while (this.dutiesAgain)
  }

  private retryDutiesSoon(): void {
    if (this.dutyRetry && !this.dutyRetry.cancelled) return
    this.dutyRetry = this.view.clock.at(DUTY_RETRY_MS, 'controller', 'retry duties', () => {
      this.dutyRetry = null
      this.runDuties()
    })
  }

  private describeAll(): {topic: {name: string; settings: Record<string, string>}; partitions: StoredPartitionState[]}[] {
    const settings: Record<string, string> = this.topic.uncleanLeaderElection ? {[UNCLEAN_LEADER_ELECTION_SETTING]: 'true'} : {}
    return [{topic: {name: this.topic.name, settings}, partitions: [copyStored(this.stored)]}]
  }

  /** TopicCatalog.writePartitionAsController: check-and-set on the ModifyIndex read, the next partition epoch. */
  private writeAsController(term: ControllerTerm, current: StoredPartitionState, next: ElectionInput): StoredPartitionState | undefined {
    if (current.modifyIndex !== this.stored.modifyIndex) return undefined
    if (next.leader !== this.stored.state.leader || next.leaderEpoch !== this.stored.state.leaderEpoch) this.leaderChanges++
    this.publish(controllerPartitionState(term, current.state, next))
    return copyStored(this.stored)
  }

  /**
   * One Consul round trip, from node `from` (null: the controller, never cut off): runs `serve`
   * when the request arrives, answers after a delay, or fails at the request timeout.
   */
  private call<T>(prng: Prng, source: string, from: number | null, what: string, serve: () => T): Promise<T> {
    const {clock, faults} = this.view
    const cut = () => from !== null && this.cut.has(from)
    return new Promise<T>((resolve, reject) => {
      const deadline = clock.at(this.requestTimeoutMs, source, `deadline ${what}`, () => reject(new LignumError('UNAVAILABLE', `${what}: control plane deadline exceeded`)))
      if (cut() || prng.chance(faults.lostAnswerProbability)) {
        this.view.note(`${what} lost on the way`)
        return
      }
      clock.at(this.delayMs(prng), source, what, () => {
        const answer = serve()
        if (cut() || prng.chance(faults.lostAnswerProbability)) {
          this.view.note(`${what}: answer lost`)
          return
        }
        clock.at(this.delayMs(prng), source, `answer ${what}`, () => {
          deadline.cancelled = true
          resolve(answer)
        })
      })
    })
  }

  // ---- Consul's state and watches ----

  private publish(state: StoredPartitionState['state']): void {
    if (state.leaderEpoch < this.stored.state.leaderEpoch) throw new Error('the leader epoch went back')
    if (state.leader !== null && !state.isr.includes(state.leader)) throw new Error(`leader ${state.leader} outside the isr [${state.isr}]`)
    this.stored = {...this.stored, state, modifyIndex: this.stored.modifyIndex + 1}
    for (const id of state.replicas) this.watchOne(Number(id))
  }

  private watchOne(id: number): void {
    if (this.cut.has(id)) return
    const {state, modifyIndex} = this.stored
    this.view.clock.at(this.delayMs(this.prng), `watch ${id}`, `state v${modifyIndex} leader ${state.leader ?? -1} e${state.leaderEpoch} isr [${state.isr}]`, () => {
      if (this.cut.has(id) || (this.delivered.get(id) ?? 0) >= this.stored.modifyIndex) return
      this.delivered.set(id, this.stored.modifyIndex)
      this.view.deliver(id, this.deliverable, this.stored.state.leaderIncarnation)
    })
  }

  private delayMs(prng: Prng): number {
    const {faults} = this.view
    return prng.chance(faults.slowProbability) ? prng.int(1, faults.slowDelayMs) : prng.int(1, 10)
  }
}

function describeHealth(health: ReplicaHealth): string {
  return `damaged [${health.damaged}] unverified [${health.unverified}]`
}

/** The registrations' incarnations and reports, for the schedule. */
function describeServices(services: ServiceHealth[]): string {
  return services.map((service) => ` ${service.meta.nodeId}:${service.meta.incarnation ?? '?'}${service.meta.damagedReplicas ? ` damaged` : ''}${service.meta.unverifiedReplicas ? ' unverified' : ''}`).join('')
}

function copyStored(stored: StoredPartitionState): StoredPartitionState {
  return {...stored, state: {...stored.state, replicas: [...stored.state.replicas], isr: [...stored.state.isr]}}
}

function toDataPlane(stored: StoredPartitionState, minInsyncReplicas: number): PartitionState {
  const {state} = stored
  return {
    topic: stored.topic,
    partition: stored.partition,
    replicas: state.replicas.map(Number),
    leader: state.leader === null ? -1 : Number(state.leader),
    leaderEpoch: state.leaderEpoch,
    isr: state.isr.map(Number),
    ...(state.isrIncarnations ? {isrIncarnations: Object.fromEntries(Object.entries(state.isrIncarnations).map(([node, incarnation]) => [Number(node), incarnation]))} : {}),
    minInsyncReplicas,
  }
}

/** The controller's log lines, into the run's schedule. */
function noteLogger(note: (what: string) => void): Logger {
  const line = (message: string, fields?: LogFields) => note(fields ? `${message} ${JSON.stringify(fields)}` : message)
  const logger: Logger = {debug: () => {}, info: line, warn: line, error: line, child: () => logger}
  return logger
}
