/**
 * A node's membership in a Consul-led cluster: what `lignum serve --consul` runs.
 *
 * Started in order: the service registration with its TTL check, the session tied to it, the
 * watches on the cluster's KV tree and on its service's health, and the election riding on
 * them. A heartbeat loop renews the check every third of the TTL, makes sure the session
 * still exists, and repairs whatever Consul lost (a restarted Consul, a session ended while
 * the node was frozen). None of this ever gives up: while Consul is unreachable the node
 * keeps serving its local data, says so in its logs and in `ready()`, and heals by itself
 * when Consul returns.
 *
 * stop() is idempotent: it steps down, releases the controller lock explicitly (so another
 * node takes over at once, without the lock-delay), destroys the session and deregisters.
 *
 * Events: 'controller' (boolean) when this node gains or loses the controller role.
 */
import {EventEmitter} from 'node:events'
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {BlockingWatch} from './blocking-watch.js'
import {assertNodeId, ClusterKeys} from './cluster-keys.js'
import {buildClusterView, type ClusterNodeView, type ClusterView} from './cluster-view.js'
import {ConsulApi, parseConsulUrl, type KvEntry, type ServiceHealth} from './consul-api.js'
import {ConsulSession} from './consul-session.js'
import {recordRegisteredNodes} from './controller-duties.js'
import {ControllerElection} from './controller-election.js'
import {consulAnswered, NodeRegistration} from './node-registration.js'

export type {ClusterNodeView, ClusterView}

export interface ClusterMemberOptions {
  consulUrl: string
  cluster: string
  nodeId: string
  /** host:port of this node's gRPC server, as other nodes and clients reach it. */
  advertiseAddress: string
  version: string
  sessionTtlMs: number
  lockDelayMs: number
  logger: Logger
}

// Consul's limits on a TTL check and a session lock-delay that make sense for a node.
const SESSION_TTL_MIN_MS = 1_000
const LOCK_DELAY_MAX_MS = 60_000
// The check is renewed three times per TTL, so one lost renewal never lets it expire.
const RENEWALS_PER_TTL = 3
// After a failed heartbeat, try again soon: re-registering quickly is what heals the cluster.
const HEARTBEAT_RETRY_MS = 500
// One Consul call may take this share of the TTL, within bounds, before it counts as failed.
const REQUEST_TIMEOUT_MIN_MS = 1_000
const REQUEST_TIMEOUT_MAX_MS = 5_000

export class ClusterMember extends EventEmitter {
  private readonly api: ConsulApi
  private readonly keys: ClusterKeys
  private readonly registration: NodeRegistration
  private readonly session: ConsulSession
  private readonly election: ControllerElection
  private readonly kvWatch: BlockingWatch<KvEntry[]>
  private readonly healthWatch: BlockingWatch<ServiceHealth[]>
  private kvEntries: KvEntry[] = []
  private services: ServiceHealth[] = []
  private consulReachable = false
  private consulState: 'unknown' | 'reachable' | 'unreachable' = 'unknown'
  private lastRefusal: string | undefined
  private joined = false
  private stopped = false
  private heartbeatLoop: Promise<void> | undefined
  private wakeHeartbeat: (() => void) | undefined
  private stopping: Promise<void> | undefined
  private dutiesRunning = false
  private dutiesAgain = false

  private constructor(private readonly options: ClusterMemberOptions) {
    super()
    validateOptions(options)
    const requestTimeoutMs = clamp(options.sessionTtlMs / RENEWALS_PER_TTL, REQUEST_TIMEOUT_MIN_MS, REQUEST_TIMEOUT_MAX_MS)
    this.api = new ConsulApi(options.consulUrl, requestTimeoutMs)
    this.keys = new ClusterKeys(options.cluster)
    const identity = {nodeId: options.nodeId, advertiseAddress: options.advertiseAddress, version: options.version}
    this.registration = new NodeRegistration(this.api, this.keys, identity, options.sessionTtlMs)
    this.session = new ConsulSession(this.api, `lignum ${options.cluster} ${options.nodeId}`, this.registration.checkId, options.lockDelayMs)
    this.election = new ControllerElection(this.api, this.keys, this.registration, this.session, identity, options.logger)
    this.election.on('controller', (isController: boolean) => this.onControllerChange(isController))
    this.kvWatch = new BlockingWatch({
      fetch: (index, waitMs) => this.api.kvTree(this.keys.prefix, index, waitMs),
      onData: (entries, index) => this.onKvTree(entries, index),
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
    member.kvWatch.start()
    member.healthWatch.start()
    return member
  }

  view(): ClusterView {
    return buildClusterView(this.keys, {kvEntries: this.kvEntries, services: this.services, consulReachable: this.consulReachable})
  }

  isController(): boolean {
    return !this.stopped && this.election.isController()
  }

  ready(): boolean {
    return (
      !this.stopped &&
      this.consulReachable &&
      this.registration.isRegistered() &&
      this.session.id !== undefined &&
      this.registration.leaseValid()
    )
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown()
    return this.stopping
  }

  private async shutdown(): Promise<void> {
    this.stopped = true
    this.wakeHeartbeat?.()
    await this.heartbeatLoop
    await this.bestEffort('release the controller lock', () => this.election.resign())
    await this.bestEffort('destroy the session', () => this.session.destroy())
    await this.bestEffort('deregister', () => this.registration.deregister())
    this.api.close()
    await Promise.all([this.kvWatch.stop(), this.healthWatch.stop()])
    this.options.logger.info('left the cluster', {cluster: this.options.cluster, nodeId: this.options.nodeId})
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
      await this.registration.renew()
      if (this.session.id && !(await this.session.stillValid())) {
        this.options.logger.warn('Consul ended this node\'s session; creating a new one', {nodeId: this.options.nodeId})
        this.election.onSessionLost()
      }
      const sessionId = await this.session.ensure()
      this.onConsulAnswered()
      if (!this.joined) {
        this.joined = true
        const {consulUrl, cluster, nodeId} = this.options
        this.options.logger.info('joined the cluster', {consul: consulUrl, cluster, nodeId, session: sessionId})
      }
      this.election.onLeaseRenewed()
      return true
    } catch (error) {
      this.onConsulError(error)
      return false
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

  private onKvTree(entries: KvEntry[], index: number): void {
    this.kvEntries = entries
    this.onConsulAnswered()
    if (this.stopped) return
    this.election.observe(entries, index)
    this.runDuties()
  }

  private onServices(services: ServiceHealth[]): void {
    this.services = services
    this.onConsulAnswered()
    this.runDuties()
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
      const {sessionId, epoch} = this.election
      if (!this.isController() || !sessionId || epoch === undefined) return
      try {
        await recordRegisteredNodes(this.api, this.keys, {sessionId, epoch}, {kvEntries: this.kvEntries, services: this.services})
      } catch (error) {
        this.options.logger.debug('controller duties failed; retried on the next change', {error: (error as Error).message})
      }
    } while (this.dutiesAgain)
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
      // The same refusal repeats with every retry: say it once.
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
