/**
 * A node's membership in a Consul-led cluster: what `lignum serve --consul` runs.
 *
 * Started in order: the service registration with its TTL check, the session tied to it (and
 * the end of any session an earlier process of this node left), the watches on the cluster's
 * KV tree and on its service's health, and the election riding on them. A heartbeat loop
 * renews the check every third of the TTL, makes sure the session
 * still exists, and repairs whatever Consul lost (a restarted Consul, a session ended while
 * the node was frozen). A renewal Consul refuses (it lost the check, so the session tied to
 * it) ends whatever the session held at once, before registering again; an answer that
 * suggests as much (its own check missing or critical in the health watch, Consul's index
 * gone backwards) runs the heartbeat at once. None of this ever gives up: while Consul is unreachable the node
 * keeps serving its local data, says so in its logs and in `ready()`, and heals by itself
 * when Consul returns.
 *
 * stop() is idempotent: it steps down, releases the controller lock explicitly (so another
 * node takes over at once, without the lock-delay), destroys the session and deregisters.
 * leave() does that part alone, keeping the Consul link for a controlled shutdown's reads.
 *
 * Events: 'controller' (boolean) when this node gains or loses the controller role; 'lease'
 * after every renewal of its lease; 'session-lost' when Consul ended its session.
 */
import {randomUUID} from 'node:crypto'
import {EventEmitter} from 'node:events'
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {BlockingWatch} from './blocking-watch.js'
import {assertNodeId, ClusterKeys} from './cluster-keys.js'
import type {ReplicaHealth} from './replica-health.js'
import {buildClusterView, type ClusterNodeView, type ClusterView} from './cluster-view.js'
import type {ConsulAccess} from './consul-access.js'
import {ConsulApi, parseConsulUrl, type KvEntry, type ServiceHealth} from './consul-api.js'
import {ConsulSession} from './consul-session.js'
import {recordRegisteredNodes, type ControllerTerm} from './controller-duties.js'
import {ControllerElection} from './controller-election.js'
import {consulAnswered, NodeRegistration} from './node-registration.js'

export type {ClusterNodeView, ClusterView}

/** A controller duty: resolves false when it must run again (a write was refused). */
export type ControllerDuty = (term: ControllerTerm, view: ClusterView) => Promise<boolean>

export interface ClusterMemberOptions {
  consulUrl: string
  /** The ACL token and TLS material for Consul (consul-access.ts); none when not given. */
  consulAccess?: ConsulAccess
  cluster: string
  nodeId: string
  /** host:port of this node's gRPC server, as other nodes and clients reach it. */
  advertiseAddress: string
  /** host:port Kafka clients reach this node's Kafka listener at; none when it has none. */
  kafkaAddress?: string
  version: string
  sessionTtlMs: number
  lockDelayMs: number
  logger: Logger
  /** The health of this node's replicas when it joins (replica-health.ts); healthy if not given. */
  replicaHealth?: ReplicaHealth
}

// Consul's limits on a TTL check and a session lock-delay that make sense for a node.
const SESSION_TTL_MIN_MS = 1_000
const LOCK_DELAY_MAX_MS = 60_000
// The check is renewed three times per TTL, so one lost renewal never lets it expire.
const RENEWALS_PER_TTL = 3
// After a failed heartbeat, try again soon: re-registering quickly is what heals the cluster.
const HEARTBEAT_RETRY_MS = 500
// A controller duty that was refused (a concurrent write won) runs again this soon.
const DUTY_RETRY_MS = 200
// One Consul call may take this share of the TTL, within bounds, before it counts as failed.
const REQUEST_TIMEOUT_MIN_MS = 1_000
const REQUEST_TIMEOUT_MAX_MS = 5_000

export class ClusterMember extends EventEmitter {
  private readonly api: ConsulApi
  private readonly keys: ClusterKeys
  private readonly registration: NodeRegistration
  private readonly session: ConsulSession
  private readonly election: ControllerElection
  private readonly controllerWatch: BlockingWatch<KvEntry[]>
  private readonly nodesWatch: BlockingWatch<KvEntry[]>
  private readonly healthWatch: BlockingWatch<ServiceHealth[]>
  private controllerEntries: KvEntry[] = []
  private nodeEntries: KvEntry[] = []
  private kvEntriesReceivedCount = 0
  private services: ServiceHealth[] = []
  private consulReachable = false
  private consulState: 'unknown' | 'reachable' | 'unreachable' = 'unknown'
  private lastRefusal: string | undefined
  /** Refusals by Consul's ACLs since the lease was last renewed (each logged once): not ready meanwhile. */
  private readonly deniedSinceRenewal = new Set<string>()
  private joined = false
  private earlierSessionsEnded = false
  private stopped = false
  private heartbeatLoop: Promise<void> | undefined
  private wakeHeartbeat: (() => void) | undefined
  private stopping: Promise<void> | undefined
  private leaving: Promise<void> | undefined
  private dutiesRunning = false
  private dutiesAgain = false
  private dutyRetryTimer: NodeJS.Timeout | undefined
  private readonly extraDuties: ControllerDuty[] = []
  /**
   * This process's incarnation, registered with the node: the controller ends the leaderships
   * given to an earlier one (leader-election.ts), since a restarted node may have lost data.
   */
  readonly incarnation = randomUUID()

  private constructor(private readonly options: ClusterMemberOptions) {
    super()
    validateOptions(options)
    const requestTimeoutMs = clamp(options.sessionTtlMs / RENEWALS_PER_TTL, REQUEST_TIMEOUT_MIN_MS, REQUEST_TIMEOUT_MAX_MS)
    this.api = new ConsulApi(options.consulUrl, requestTimeoutMs, options.consulAccess)
    this.keys = new ClusterKeys(options.cluster)
    const identity = {nodeId: options.nodeId, advertiseAddress: options.advertiseAddress, kafkaAddress: options.kafkaAddress, version: options.version, incarnation: this.incarnation}
    this.registration = new NodeRegistration(this.api, this.keys, identity, options.sessionTtlMs, options.replicaHealth)
    this.session = new ConsulSession(this.api, `lignum ${options.cluster} ${options.nodeId}`, this.registration.checkId, options.lockDelayMs)
    this.election = new ControllerElection(this.api, this.keys, this.registration, this.session, identity, options.logger)
    this.election.on('controller', (isController: boolean) => this.onControllerChange(isController))
    // Two narrow watches, not one on the cluster's whole tree: the topic catalog lives there
    // too, and an ISR change must not ship every partition state to every node.
    this.controllerWatch = new BlockingWatch({
      fetch: (index, waitMs, signal) => this.countedKvTree(this.keys.controllerKeysPrefix, index, waitMs, signal),
      onData: (entries, index, newHistory) => this.onControllerKeys(entries, index, newHistory),
      onError: (error) => this.onConsulError(error),
    })
    this.nodesWatch = new BlockingWatch({
      fetch: (index, waitMs, signal) => this.countedKvTree(this.keys.nodesPrefix, index, waitMs, signal),
      onData: (entries) => this.onNodeRecords(entries),
      onError: (error) => this.onConsulError(error),
    })
    this.healthWatch = new BlockingWatch({
      fetch: (index, waitMs) => this.api.serviceHealth(this.keys.serviceName, index, waitMs),
      onData: (services) => this.onServices(services),
      onError: (error) => this.onConsulError(error),
    })
  }

  /** Joins the cluster; resolves at once, even if Consul is down (it keeps trying and logs it). */
  static async start(options: ClusterMemberOptions): Promise<ClusterMember> {
    const member = new ClusterMember(options)
    member.heartbeatLoop = member.heartbeat()
    member.controllerWatch.start()
    member.nodesWatch.start()
    member.healthWatch.start()
    return member
  }

  view(): ClusterView {
    return buildClusterView(this.keys, {kvEntries: this.kvEntries(), services: this.services, consulReachable: this.consulReachable})
  }

  /** The term this node is controller in, to fence its writes with; undefined when it is not controller. */
  controllerTerm(): ControllerTerm | undefined {
    const {sessionId, epoch, epochModifyIndex} = this.election
    if (!this.isController() || !sessionId || epoch === undefined) return undefined
    return {sessionId, epoch, epochModifyIndex}
  }

  /**
   * Adds a duty the controller runs on every membership change and when it takes over, with
   * the view it decided on; a duty resolving false (a write refused) is run again shortly.
   */
  addDuty(duty: ControllerDuty): void {
    this.extraDuties.push(duty)
    this.runDuties()
  }

  /** The replica health this node last reported (or joined with). */
  get replicaHealth(): ReplicaHealth {
    return this.registration.replicaHealth
  }

  /**
   * Tells the controller (through this node's registration) which of its replicas are damaged
   * or not verified yet; a failure to reach Consul is logged and the next renewal sends it.
   */
  async reportReplicaHealth(health: ReplicaHealth): Promise<void> {
    try {
      await this.registration.reportReplicaHealth(health)
      this.options.logger.info('replica health reported', {damaged: health.damaged, unverified: health.unverified})
    } catch (error) {
      this.options.logger.warn('could not report replica health yet; the next renewal sends it', {error: (error as Error).message})
    }
  }

  /** Whether this node's lease is valid now: Consul cannot have ended its session yet. */
  leaseValid(): boolean {
    return !this.stopped && this.session.id !== undefined && this.registration.leaseValid()
  }

  /** Counts leases: a role confirmed under one lease is not confirmed under the next (a gap may lie between). */
  get leaseGeneration(): number {
    return this.registration.leaseGeneration
  }

  /** Monotonic time (performance.now) the current lease ends. */
  leaseDeadlineMs(): number {
    return this.registration.leaseDeadlineMs()
  }

  /** The Consul link and key layout, for the topic catalog and its watches to share. */
  get consulApi(): ConsulApi {
    return this.api
  }

  get clusterKeys(): ClusterKeys {
    return this.keys
  }

  /** How many KV entries this member's watches have received: what following the cluster costs it. */
  kvEntriesReceived(): number {
    return this.kvEntriesReceivedCount
  }

  isController(): boolean {
    return !this.stopped && this.election.isController()
  }

  ready(): boolean {
    return (
      !this.stopped &&
      this.consulReachable &&
      this.deniedSinceRenewal.size === 0 &&
      this.registration.isRegistered() &&
      this.session.id !== undefined &&
      this.registration.leaseValid()
    )
  }

  /**
   * Leaves the cluster but keeps the Consul link open (for the catalog reads of a controlled
   * shutdown): steps down, releases the controller lock, ends the session and deregisters, so
   * the controller elects other leaders for this node's partitions at once. Idempotent.
   */
  leave(): Promise<void> {
    this.leaving ??= this.leaveCluster()
    return this.leaving
  }

  /** leave(), then closes the Consul link and the watches. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown()
    return this.stopping
  }

  private async leaveCluster(): Promise<void> {
    this.stopped = true
    clearTimeout(this.dutyRetryTimer)
    this.wakeHeartbeat?.()
    await this.heartbeatLoop
    await this.bestEffort('release the controller lock', () => this.election.resign())
    await this.bestEffort('destroy the session', () => this.session.destroy())
    await this.bestEffort('deregister', () => this.registration.deregister())
    this.options.logger.info('left the cluster', {cluster: this.options.cluster, nodeId: this.options.nodeId})
  }

  private async shutdown(): Promise<void> {
    await this.leave()
    this.api.close()
    await Promise.all([this.controllerWatch.stop(), this.nodesWatch.stop(), this.healthWatch.stop()])
  }

  private async heartbeat(): Promise<void> {
    const renewIntervalMs = this.options.sessionTtlMs / RENEWALS_PER_TTL
    while (!this.stopped) {
      const healthy = await this.heartbeatOnce()
      if (this.stopped) return
      await this.pauseHeartbeat(healthy ? renewIntervalMs : Math.min(renewIntervalMs, HEARTBEAT_RETRY_MS))
    }
  }

  /** Renews the check, makes sure the session exists; true when all of it succeeded. */
  private async heartbeatOnce(): Promise<boolean> {
    try {
      if ((await this.registration.renew()) === 'check-gone') {
        const lostSessionId = this.session.id
        this.onSessionGone('Consul no longer knows this node\'s check, so neither the session tied to it; registering again')
        // Ended in Consul too, should the refusal have had another cause: it may hold the lock.
        if (lostSessionId) await this.api.destroySession(lostSessionId)
        await this.registration.register()
      }
      if (this.session.id && !(await this.session.stillValid())) {
        this.onSessionGone('Consul ended this node\'s session; creating a new one')
      }
      const sessionId = await this.session.ensure()
      if (!this.earlierSessionsEnded) await this.endEarlierSessions()
      this.onConsulAnswered()
      if (!this.joined) {
        this.joined = true
        const {consulUrl, cluster, nodeId} = this.options
        this.options.logger.info('joined the cluster', {consul: consulUrl, cluster, nodeId, session: sessionId})
      }
      this.deniedSinceRenewal.clear()
      this.election.onLeaseRenewed()
      this.emit('lease')
      return true
    } catch (error) {
      this.onConsulError(error)
      return false
    }
  }

  /** Whatever the session held is lost: stop acting on it at once, before any further round trip. */
  private onSessionGone(message: string): void {
    this.options.logger.warn(message, {nodeId: this.options.nodeId})
    this.session.forget()
    this.election.onSessionLost()
    this.emit('session-lost')
  }

  /**
   * Once, at start: an earlier process of this node killed within its TTL left a session
   * Consul never ends (consul-session.ts), holding the controller lock if it had it. Until
   * this succeeds it is tried again on every renewal.
   */
  private async endEarlierSessions(): Promise<void> {
    try {
      const ended = await this.session.endEarlierSessions()
      this.earlierSessionsEnded = true
      if (ended.length > 0) this.options.logger.warn('ended the sessions an earlier process of this node left in Consul', {nodeId: this.options.nodeId, sessions: ended})
    } catch (error) {
      this.options.logger.debug('could not end the earlier sessions of this node yet; trying again on the next renewal', {error: (error as Error).message})
    }
  }

  private pauseHeartbeat(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      const wake = () => done()
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wakeHeartbeat = wake
    })
  }

  private async countedKvTree(prefix: string, index: number, waitMs: number, signal: AbortSignal) {
    const answer = await this.api.kvTree(prefix, index, waitMs, signal)
    this.kvEntriesReceivedCount += answer.data.length
    return answer
  }

  private kvEntries(): KvEntry[] {
    return [...this.controllerEntries, ...this.nodeEntries]
  }

  private onControllerKeys(entries: KvEntry[], index: number, newHistory: boolean): void {
    this.controllerEntries = entries
    this.onConsulAnswered()
    if (this.stopped) return
    this.election.observe(entries, index, newHistory)
    // A rebuilt Consul has likely lost the check and the session too: find out now, not at the next renewal.
    if (newHistory) this.wakeHeartbeat?.()
    this.runDuties()
  }

  private onNodeRecords(entries: KvEntry[]): void {
    this.nodeEntries = entries
    this.onConsulAnswered()
    if (this.stopped) return
    this.runDuties()
  }

  private onServices(services: ServiceHealth[]): void {
    this.services = services
    this.onConsulAnswered()
    // Its check gone or critical means Consul ended its session: the heartbeat makes sure now.
    if (this.ownCheckLooksGone(services)) this.wakeHeartbeat?.()
    this.runDuties()
  }

  /** Whether this answer shows this node's check missing or not passing while it holds a session. */
  private ownCheckLooksGone(services: ServiceHealth[]): boolean {
    if (this.stopped || !this.session.id || !this.registration.isRegistered()) return false
    const own = services.find((service) => service.serviceId === this.keys.serviceId(this.options.nodeId))
    return !own?.passing
  }

  private onControllerChange(isController: boolean): void {
    this.emit('controller', isController)
    if (isController) this.runDuties()
  }

  /** Runs the controller's duties on the latest snapshot; one run at a time, rerun if asked meanwhile. */
  private runDuties(): void {
    if (this.stopped || !this.election.isController()) return
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
      const term = this.controllerTerm()
      if (!term) return
      try {
        await recordRegisteredNodes(this.api, this.keys, term, {kvEntries: this.kvEntries(), services: this.services})
        const view = this.view()
        for (const duty of this.extraDuties) {
          if (!(await duty(term, view)) && this.isController()) this.retryDutiesSoon()
        }
      } catch (error) {
        this.options.logger.debug('controller duties failed; retried shortly', {error: (error as Error).message})
        if (this.isController()) this.retryDutiesSoon()
      }
    } while (this.dutiesAgain)
  }

  private retryDutiesSoon(): void {
    if (this.dutyRetryTimer) return
    this.dutyRetryTimer = setTimeout(() => {
      this.dutyRetryTimer = undefined
      this.runDuties()
    }, DUTY_RETRY_MS)
    this.dutyRetryTimer.unref()
  }

  private onConsulAnswered(): void {
    this.consulReachable = true
    this.lastRefusal = undefined
    if (this.consulState === 'unreachable') {
      this.options.logger.info('Consul reachable again; the cluster is available', {consul: this.options.consulUrl})
    }
    this.consulState = 'reachable'
  }

  private onConsulError(error: unknown): void {
    if (this.stopped) return
    const message = (error as Error).message
    if (consulAnswered(error)) {
      // The same refusal repeats with every retry: say it once. One by the ACLs (a token
      // revoked or narrowed while the node runs) needs an operator: the node is unready from
      // then on, and heals by itself once the token is allowed again and its lease renewed.
      if (error instanceof LignumError && error.code === 'CONSUL_PERMISSION_DENIED') {
        // Watches answered meanwhile clear lastRefusal; only a renewed lease clears these.
        if (!this.deniedSinceRenewal.has(message)) this.options.logger.error('Consul\'s ACLs refused a request; the node is unready until its token is allowed again', {error: message})
        this.deniedSinceRenewal.add(message)
        return
      }
      if (message !== this.lastRefusal) this.options.logger.warn('Consul refused a request; retrying', {error: message})
      this.lastRefusal = message
      return
    }
    this.consulReachable = false
    if (this.consulState === 'unreachable') return
    this.consulState = 'unreachable'
    this.options.logger.warn('Consul unreachable: serving local data only, the cluster is unavailable until it returns', {
      consul: this.options.consulUrl,
      error: message,
    })
  }

  private async bestEffort(what: string, action: () => Promise<void>): Promise<void> {
    try {
      await action()
    } catch (error) {
      this.options.logger.warn(`could not ${what} while leaving the cluster`, {error: (error as Error).message})
    }
  }
}

function validateOptions(options: ClusterMemberOptions): void {
  parseConsulUrl(options.consulUrl)
  assertNodeId(options.nodeId)
  if (options.sessionTtlMs < SESSION_TTL_MIN_MS) {
    throw new LignumError('CONFIG', `sessionTtlMs=${options.sessionTtlMs} is too short: use at least ${SESSION_TTL_MIN_MS} ms`)
  }
  if (options.lockDelayMs > LOCK_DELAY_MAX_MS) {
    throw new LignumError('CONFIG', `lockDelayMs=${options.lockDelayMs} is too long: Consul allows at most ${LOCK_DELAY_MAX_MS} ms`)
  }
}

function clamp(value: number, minimum: number, maximum: number): number {
  return Math.min(maximum, Math.max(minimum, value))
}
