/**
 * This node's registration in Consul: a service carrying its node id, gRPC address and
 * version, with a TTL check the node itself renews (the agent's gossip check says nothing
 * about the Lignum process; a renewal does).
 *
 * It also keeps the node's lease: a deadline on the monotonic clock before which Consul
 * cannot have marked the check critical, and so cannot have ended the session tied to it.
 * The check's TTL restarts when the agent receives a renewal, which is after we send it, so
 * "send time + TTL" is the earliest moment Consul may expire it; the lease ends a safety
 * margin before that. Whoever acts for the cluster (the controller) checks the lease first.
 *
 * The registration's metadata also carries the health of the node's replicas
 * (replica-health.ts): a change is sent by registering again, at once, and again on the next
 * renewal for as long as Consul has not taken it.
 */
import type {ClusterKeys} from './cluster-keys.js'
import type {ConsulApi} from './consul-api.js'
import {HEALTHY_REPLICAS, INCARNATION_META, replicaHealthMeta, type ReplicaHealth} from './replica-health.js'

// A node killed with -9 stays registered, critical, so status can show it down; Consul drops
// it after this long so a machine retired without a clean stop does not linger forever.
const DEREGISTER_CRITICAL_AFTER_MS = 60 * 60 * 1000

// The lease ends this fraction of the TTL before Consul could expire the check: room for
// timer lateness and a slow event loop between checking the lease and acting on it.
const LEASE_MARGIN_FRACTION = 0.2

/** What a renewal found: the check renewed (or registered), or gone from Consul. */
export type RenewalOutcome = 'renewed' | 'check-gone'

export interface NodeIdentity {
  nodeId: string
  advertiseAddress: string
  /** Where its Kafka listener is reached (KAFKA_ADDRESS_META); none: it has none. */
  kafkaAddress?: string
  version: string
  /** This process's incarnation (INCARNATION_META); none: not sent. */
  incarnation?: string
}

export class NodeRegistration {
  private leaseSentAtMs: number | undefined
  private generation = 0
  private previousDeadlineMs = -Infinity
  private registered = false
  /** The replica health Consul has not taken yet (registered again on the next renewal). */
  private healthUnsent = false

  constructor(
    private readonly api: ConsulApi,
    private readonly keys: ClusterKeys,
    private readonly identity: NodeIdentity,
    readonly checkTtlMs: number,
    private health: ReplicaHealth = HEALTHY_REPLICAS,
  ) {}

  get replicaHealth(): ReplicaHealth {
    return this.health
  }

  /** Sends the replica health with the registration; resolves once Consul has it (throws if it could not). */
  async reportReplicaHealth(health: ReplicaHealth): Promise<void> {
    this.health = health
    this.healthUnsent = true
    if (this.registered) await this.register()
  }

  get checkId(): string {
    return this.keys.checkId(this.identity.nodeId)
  }

  isRegistered(): boolean {
    return this.registered
  }

  /** Monotonic time (performance.now) until which this node's check surely stays passing. */
  leaseDeadlineMs(): number {
    if (this.leaseSentAtMs === undefined) return -Infinity
    return this.leaseSentAtMs + this.checkTtlMs * (1 - LEASE_MARGIN_FRACTION)
  }

  leaseValid(nowMs = performance.now()): boolean {
    return nowMs < this.leaseDeadlineMs()
  }

  /**
   * Counts leases: a renewal that lands after the lease ran out starts a new one, even if
   * nobody noticed the gap. Whatever was held under an older lease (the controller lock) may
   * have been lost in that gap, so a role is tied to the generation it was taken under.
   */
  get leaseGeneration(): number {
    return this.generation
  }

  /** Monotonic time the lease before the current one ended. */
  get previousLeaseDeadlineMs(): number {
    return this.previousDeadlineMs
  }

  private extendLease(sentAtMs: number): void {
    if (!this.leaseValid()) {
      this.generation += 1
      this.previousDeadlineMs = this.leaseDeadlineMs()
    }
    this.leaseSentAtMs = sentAtMs
  }

  /** Registers (or re-registers, idempotently) the service with its check passing. */
  async register(): Promise<void> {
    const sentAtMs = performance.now()
    const {host, port} = splitHostPort(this.identity.advertiseAddress)
    await this.api.registerService({
      serviceId: this.keys.serviceId(this.identity.nodeId),
      serviceName: this.keys.serviceName,
      address: host,
      port,
      meta: registrationMeta(this.keys, this.identity, this.health),
      checkId: this.checkId,
      checkTtlMs: this.checkTtlMs,
      deregisterCriticalAfterMs: DEREGISTER_CRITICAL_AFTER_MS,
    })
    this.registered = true
    this.healthUnsent = false
    this.extendLease(sentAtMs)
  }

  /**
   * Renews the TTL check (registers instead while not registered, or with a health change
   * unsent). 'check-gone' when Consul answers but refuses: it lost the check (rebuilt without
   * its data, or the registration was removed), so it has ended the session tied to it too.
   * The caller acts on that before registering again: register() is a round trip more.
   */
  async renew(): Promise<RenewalOutcome> {
    if (!this.registered || this.healthUnsent) {
      await this.register()
      return 'renewed'
    }
    const sentAtMs = performance.now()
    try {
      await this.api.passCheck(this.checkId)
      this.extendLease(sentAtMs)
      return 'renewed'
    } catch (error) {
      if (!consulAnswered(error)) throw error
      this.registered = false
      return 'check-gone'
    }
  }

  async deregister(): Promise<void> {
    this.leaseSentAtMs = undefined
    if (!this.registered) return
    this.registered = false
    await this.api.deregisterService(this.keys.serviceId(this.identity.nodeId))
  }
}

/** The registration's key for the Kafka listener's address: every node's Metadata answer names the others' listeners. */
export const KAFKA_ADDRESS_META = 'kafkaAddress'

/** The metadata a node registers with: who it is, which process, and its replicas' health. */
export function registrationMeta(keys: ClusterKeys, identity: NodeIdentity, health: ReplicaHealth): Record<string, string> {
  return {
    nodeId: identity.nodeId,
    cluster: keys.cluster,
    version: identity.version,
    advertiseAddress: identity.advertiseAddress,
    ...(identity.kafkaAddress ? {[KAFKA_ADDRESS_META]: identity.kafkaAddress} : {}),
    ...replicaHealthMeta(health),
    ...(identity.incarnation ? {[INCARNATION_META]: identity.incarnation} : {}),
  }
}

/** True when the error is Consul's answer (an HTTP status), not a failure to reach it. */
export function consulAnswered(error: unknown): boolean {
  const cause = (error as {cause?: {response?: {statusCode?: number}}})?.cause
  return typeof cause?.response?.statusCode === 'number'
}

export function splitHostPort(address: string): {host: string; port: number} {
  const separator = address.lastIndexOf(':')
  const host = separator > 0 ? address.slice(0, separator).replace(/^\[(.*)\]$/, '$1') : address
  const port = separator > 0 ? Number(address.slice(separator + 1)) : 0
  return {host, port: Number.isInteger(port) ? port : 0}
}
