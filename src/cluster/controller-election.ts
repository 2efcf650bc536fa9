/**
 * Controller election through the Consul lock on `lignum/<cluster>/controller`.
 *
 * Taking over is one transaction: lock the key with this node's session and bump the epoch
 * counter with check-and-set, to max(counter, highest epoch this node has seen) + 1 (so a
 * Consul rebuilt from scratch cannot hand out an old epoch again).
 *
 * The invariant: this node acts as controller only while it holds the lock AND its lease is
 * valid (node-registration.ts: Consul cannot have ended its session yet). It stops at once,
 * synchronously, when `isController()` finds the lease overdue, when a timer set for the
 * lease's end fires, when the KV watch shows the lock held by another session (or by none),
 * or when its session is found gone (a renewal finding the check gone counts: cluster-member.ts
 * calls onSessionLost before registering again). It never waits for Consul to tell it; the lock-delay is
 * only a margin on top.
 *
 * A Consul whose index went backwards (rebuilt from scratch, or restored) is a new history:
 * its indexes are not comparable with the term's, so the term holds only if the new history's
 * lock names this term's session. A rebuilt Consul also forgot the sessions it would have kept
 * for up to a TTL and their lock-delay, the time in which another node's lease may still let
 * it act; so after a new history no node takes the lock before that much time has passed
 * (the check's TTL plus the lock-delay, counted from the moment it saw the new history, which
 * comes after the old Consul's last renewal of anyone's check).
 *
 * A lock held by an earlier process of this node (killed and restarted within its TTL) is
 * freed when the new process ends that process's session at start (cluster-member.ts); its
 * lock-delay still applies.
 *
 * Events: 'controller' (true when it takes over, false when it steps down).
 */
import {EventEmitter} from 'node:events'
import type {Logger} from '../logger.js'
import type {ClusterKeys} from './cluster-keys.js'
import type {ConsulApi, KvEntry} from './consul-api.js'
import type {ConsulSession} from './consul-session.js'
import {acquireOperations, EpochGuard, parseControllerRecord, parseEpochCounter} from './controller-state.js'
import type {NodeRegistration} from './node-registration.js'

// While the lock looks free but taking it failed (lock-delay, a race), try again this often.
const ACQUIRE_RETRY_MS = 250

interface Term {
  epoch: number
  sessionId: string
  leaseGeneration: number
  lockModifyIndex: number
  /** The epoch counter's ModifyIndex once this term bumped it: a later bump fences this term. */
  epochModifyIndex: number | undefined
  sinceWallMs: number
}

export class ControllerElection extends EventEmitter {
  readonly epochs = new EpochGuard()
  private term: Term | undefined
  private acquiring = false
  private stopped = false
  private leaseTimer: NodeJS.Timeout | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private lastEntries: KvEntry[] = []
  private lastIndex = 0
  /** Monotonic time before which this node does not take the lock (after a new history). */
  private acquireNotBeforeMs = -Infinity

  constructor(
    private readonly api: ConsulApi,
    private readonly keys: ClusterKeys,
    private readonly registration: NodeRegistration,
    private readonly session: ConsulSession,
    private readonly identity: {nodeId: string; advertiseAddress: string},
    private readonly logger: Logger,
  ) {
    super()
  }

  /** Whether this node may act as controller right now; steps down if its lease ran out. */
  isController(): boolean {
    const term = this.term
    if (!term) return false
    if (!this.registration.leaseValid() || this.registration.leaseGeneration !== term.leaseGeneration) {
      this.stepDown('session renewal overdue', this.leaseEndWallMs(term))
      return false
    }
    if (this.session.id !== term.sessionId) {
      this.stepDown('the session ended', Date.now())
      return false
    }
    return true
  }

  get epoch(): number | undefined {
    return this.term?.epoch
  }

  get sessionId(): string | undefined {
    return this.term?.sessionId
  }

  get epochModifyIndex(): number | undefined {
    return this.term?.epochModifyIndex
  }

  /**
   * A new snapshot of the cluster's KV tree at Consul index `index`; `newHistory` when the
   * index went backwards since the previous one (blocking-watch.ts).
   */
  observe(entries: KvEntry[], index: number, newHistory = false): void {
    this.lastEntries = entries
    this.lastIndex = index
    const byKey = new Map(entries.map((entry) => [entry.key, entry]))
    const lock = byKey.get(this.keys.controller)
    this.epochs.observe(parseEpochCounter(byKey.get(this.keys.controllerEpoch)?.value ?? null))
    this.epochs.observe(parseControllerRecord(lock?.value ?? null)?.epoch ?? 0)
    // The lease first: a term that already ran out ended at the lease's end, not now.
    this.isController()
    if (newHistory) this.onNewHistory(lock)
    else if (this.term && index >= this.term.lockModifyIndex && lock?.session !== this.term.sessionId) {
      this.stepDown(lock?.session ? 'the lock is held by another session' : 'the lock was released', Date.now())
    }
    if (!this.term && this.lockLooksFree(lock)) void this.tryAcquire()
  }

  /** The lease was renewed: move the step-down timer to the new end of the lease. */
  onLeaseRenewed(): void {
    this.armLeaseTimer()
    if (!this.term) this.observe(this.lastEntries, this.lastIndex)
  }

  /** The session is gone (Consul ended it): whatever it held is lost. */
  onSessionLost(): void {
    if (this.term) this.stepDown('the session ended', Date.now())
  }

  /** Steps down and releases the lock at once (no lock-delay for an explicit release). */
  async resign(): Promise<void> {
    this.stopped = true
    clearTimeout(this.retryTimer)
    const wasController = this.term !== undefined
    this.stepDown('stopping', Date.now())
    // Also when not acting: a lock taken too late to act on is still held by the session.
    const sessionId = this.session.id
    const lock = this.lastEntries.find((entry) => entry.key === this.keys.controller)
    const mayHoldLock = wasController || this.acquiring || lock?.session === sessionId
    if (!sessionId || !mayHoldLock) return
    await this.api.transaction([{KV: {Verb: 'unlock', Key: this.keys.controller, Session: sessionId}}])
  }

  /** Consul's index went backwards: trust nothing seen before, and give the old terms time to end. */
  private onNewHistory(lock: KvEntry | undefined): void {
    const waitMs = this.registration.checkTtlMs + this.session.lockDelayMs
    this.acquireNotBeforeMs = performance.now() + waitMs
    this.logger.warn('Consul\'s index went backwards (rebuilt or restored): what it said before is not trusted', {
      nodeId: this.identity.nodeId,
      lockSession: lock?.session ?? null,
      noLockTakenForMs: waitMs,
    })
    const term = this.term
    if (!term) return
    if (lock?.session !== term.sessionId) {
      this.stepDown('Consul\'s index went backwards and its lock is not held by this term\'s session', Date.now())
      return
    }
    // Still ours in the new history: later snapshots are compared with its index there.
    term.lockModifyIndex = lock.modifyIndex
  }

  private lockLooksFree(lock: KvEntry | undefined): boolean {
    return !lock?.session || lock.session === this.session.id
  }

  private async tryAcquire(): Promise<void> {
    const sessionId = this.session.id
    if (this.stopped || this.acquiring || this.term || !sessionId || !this.registration.leaseValid()) return
    const waitMs = this.acquireNotBeforeMs - performance.now()
    if (waitMs > 0) {
      this.scheduleRetry(waitMs)
      return
    }
    this.acquiring = true
    const leaseGeneration = this.registration.leaseGeneration
    try {
      const epochEntry = this.lastEntries.find((entry) => entry.key === this.keys.controllerEpoch)
      const epoch = Math.max(parseEpochCounter(epochEntry?.value ?? null), this.epochs.highest) + 1
      const record = {nodeId: this.identity.nodeId, address: this.identity.advertiseAddress, epoch}
      const result = await this.api.transaction(acquireOperations(this.keys, sessionId, record, epochEntry))
      if (result.ok) {
        const lockModifyIndex = result.results.find((entry) => entry.key === this.keys.controller)?.modifyIndex ?? 0
        const epochModifyIndex = result.results.find((entry) => entry.key === this.keys.controllerEpoch)?.modifyIndex
        this.takeOver({epoch, sessionId, leaseGeneration, lockModifyIndex, epochModifyIndex, sinceWallMs: Date.now()})
      } else {
        this.logger.debug('controller lock not taken', {reasons: result.errors})
        this.scheduleRetry()
      }
    } catch (error) {
      this.logger.debug('controller lock attempt failed', {error: (error as Error).message})
      this.scheduleRetry()
    } finally {
      this.acquiring = false
    }
  }

  private takeOver(term: Term): void {
    this.epochs.observe(term.epoch)
    // The lease may have run out, or the session ended, while the transaction was in flight:
    // then the lock may already be lost. Not acting is safe; the next snapshot retries.
    const leaseIntact = this.registration.leaseValid() && this.registration.leaseGeneration === term.leaseGeneration
    if (this.stopped || this.session.id !== term.sessionId || !leaseIntact) {
      this.logger.debug('controller lock taken too late to act on', {epoch: term.epoch})
      // Taking it again under the new lease acts on it; a lease that ran out retries on renewal.
      this.scheduleRetry()
      return
    }
    this.term = term
    this.armLeaseTimer()
    this.logger.info('became controller', {nodeId: this.identity.nodeId, epoch: term.epoch, sinceMs: term.sinceWallMs})
    this.emit('controller', true)
  }

  private stepDown(reason: string, actedUntilWallMs: number): void {
    const term = this.term
    if (!term) return
    this.term = undefined
    clearTimeout(this.leaseTimer)
    this.logger.warn('stepped down as controller', {
      nodeId: this.identity.nodeId,
      epoch: term.epoch,
      reason,
      sinceMs: term.sinceWallMs,
      untilMs: Math.round(actedUntilWallMs),
    })
    this.emit('controller', false)
  }

  private armLeaseTimer(): void {
    clearTimeout(this.leaseTimer)
    if (!this.term) return
    const remainingMs = Math.max(0, this.registration.leaseDeadlineMs() - performance.now())
    // The lease may have been extended without a call to onLeaseRenewed (a renewal that
    // succeeded in a heartbeat that then failed): still controller means wait for the new end.
    this.leaseTimer = setTimeout(() => {
      if (this.isController()) this.armLeaseTimer()
    }, remainingMs)
    this.leaseTimer.unref()
  }

  private scheduleRetry(delayMs = ACQUIRE_RETRY_MS): void {
    if (this.stopped || this.retryTimer) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      if (!this.term) this.observe(this.lastEntries, this.lastIndex)
    }, delayMs)
    this.retryTimer.unref()
  }

  /**
   * The wall-clock time this node stopped acting, for the step-down log: the end of the lease
   * the term was taken under (the previous lease, if a new one has begun since).
   */
  private leaseEndWallMs(term: Term): number {
    const sameLease = this.registration.leaseGeneration === term.leaseGeneration
    const endMs = sameLease ? this.registration.leaseDeadlineMs() : this.registration.previousLeaseDeadlineMs
    return Number.isFinite(endMs) ? Date.now() - (performance.now() - endMs) : Date.now()
  }
}
