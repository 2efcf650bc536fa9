/**
 * One consumer group's membership at its coordinator: Kafka's classic group protocol as a state
 * machine, in memory (a coordinator that moves forgets it, and members rejoin at the new one).
 *
 *   Empty ──join──▶ PreparingRebalance ──every member joined, or the rebalance timeout──▶
 *   CompletingRebalance ──the leader's SyncGroup──▶ Stable ──join / leave / expiry──▶ PreparingRebalance
 *
 * A round ends when every known member has sent JoinGroup (members that did not within the
 * rebalance timeout are removed); the generation then goes up by one, the members' common
 * protocol (assignor) is chosen by vote, and each join is answered: the leader's with every
 * member's metadata. The leader computes the assignment client-side and sends it with SyncGroup;
 * every member receives its own. The coordinator never reads the bytes it passes on.
 *
 * Invariants: a member's generation is the group's or its requests are refused
 * (ILLEGAL_GENERATION); a member id the group does not know is refused (UNKNOWN_MEMBER_ID); a
 * member whose session times out is removed; a member waiting for a join or sync answer is
 * kept alive, the wait itself being bounded (rebalance timeout, the leader's session). State
 * 'Empty' holds exactly when there are no members.
 */
import {randomUUID} from 'node:crypto'
import {assert} from '../assert.js'
import {LignumError} from '../errors.js'
import {decodeAssignment} from '../format/consumer-protocol.js'
import type {GroupMembership, GroupState} from './group-membership-view.js'

/** Kafka's group.min.session.timeout.ms is 6 s; lower here so a short-lived test or script can use 1 s. */
export const SESSION_TIMEOUT_MS_MIN = 1_000
/** Kafka's group.max.session.timeout.ms: a member silent this long is surely gone. */
export const SESSION_TIMEOUT_MS_MAX = 30 * 60 * 1000
/** Kafka's max.poll.interval.ms default bounds a rebalance; a member asking more is refused. */
export const REBALANCE_TIMEOUT_MS_MAX = 5 * 60 * 1000
/** Kafka's group.max.size is unbounded by default; a bound keeps one group from filling memory. */
export const MEMBERS_PER_GROUP_MAX = 1_000
// Metadata is a subscription (a few topics and partitions); this bounds one member's share.
const PROTOCOLS_PER_MEMBER_MAX = 16

export interface GroupProtocol {
  name: string
  metadata: Buffer
}

export interface JoinRequest {
  /** '' on a first join: the coordinator assigns one. */
  memberId: string
  clientId: string
  host: string
  protocolType: string
  protocols: GroupProtocol[]
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
}

export interface JoinedMember {
  memberId: string
  clientId: string
  metadata: Buffer
}

export interface JoinResult {
  generationId: number
  protocolName: string
  leaderId: string
  memberId: string
  /** Every member with its metadata for the chosen protocol: the leader's answer only. */
  members: JoinedMember[]
}

/** A member's claim on a commit: who it is and the generation it believes in. */
export interface MemberIdentity {
  memberId: string
  generationId: number
}

interface Waiter<T> {
  resolve(value: T): void
  reject(error: Error): void
}

interface Member {
  readonly memberId: string
  clientId: string
  host: string
  protocols: GroupProtocol[]
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  /** What the leader gave it in the current generation (consumer protocol bytes). */
  assignment: Buffer
  joinWaiter?: Waiter<JoinResult>
  syncWaiter?: Waiter<Buffer>
  sessionTimer?: NodeJS.Timeout
}

export interface ConsumerGroupEvents {
  /** A member left, expired or was dropped; `reason` is for the log. */
  memberRemoved?(memberId: string, reason: string): void
  /** A round ended: a new generation of these members (Kafka logs "Stabilized group"). */
  generationStarted?(generationId: number, protocol: string, memberCount: number): void
  /** The group became Empty (its registry may forget it). */
  emptied?(): void
}

export class ConsumerGroup {
  private state: GroupState = 'Empty'
  private generationId = 0
  private protocolType = ''
  private protocol = ''
  private leaderId = ''
  private readonly members = new Map<string, Member>()
  private roundTimer: NodeJS.Timeout | undefined

  constructor(
    readonly name: string,
    private readonly events: ConsumerGroupEvents = {},
  ) {}

  get currentState(): GroupState {
    return this.state
  }

  get currentGeneration(): number {
    return this.generationId
  }

  join(request: JoinRequest): Promise<JoinResult> {
    this.refuseIfDead()
    validateJoin(request)
    this.refuseInconsistentProtocol(request)
    let member = request.memberId === '' ? undefined : this.members.get(request.memberId)
    if (request.memberId !== '' && !member) throw unknownMember(this.name, request.memberId)
    if (member && this.answersWithoutRebalance(member, request.protocols)) return Promise.resolve(this.joinResultOf(member))
    if (!member) {
      if (this.members.size >= MEMBERS_PER_GROUP_MAX) throw new LignumError('INVALID_ARGUMENT', `group ${this.name} has ${MEMBERS_PER_GROUP_MAX} members already, the most one group may have; use another group`)
      member = {memberId: `${request.clientId || 'member'}-${randomUUID()}`, clientId: '', host: '', protocols: [], sessionTimeoutMs: 0, rebalanceTimeoutMs: 0, assignment: Buffer.alloc(0)}
      this.members.set(member.memberId, member)
      if (this.protocolType === '') this.protocolType = request.protocolType
    }
    Object.assign(member, {clientId: request.clientId, host: request.host, protocols: request.protocols, sessionTimeoutMs: request.sessionTimeoutMs, rebalanceTimeoutMs: request.rebalanceTimeoutMs})
    // A second join from the same member replaces the first (its answer is no longer awaited).
    member.joinWaiter?.reject(rebalanceInProgress(this.name))
    const joined = new Promise<JoinResult>((resolve, reject) => (member.joinWaiter = {resolve, reject}))
    this.refreshSession(member)
    if (this.state !== 'PreparingRebalance') this.prepareRebalance()
    this.completeJoinIfAllJoined()
    return joined
  }

  /** The leader passes `assignments` (member id to bytes); the others pass none and wait for it. */
  sync(identity: MemberIdentity, assignments: Map<string, Buffer> | undefined): Promise<Buffer> {
    this.refuseIfDead()
    const member = this.memberOf(identity)
    if (this.state === 'PreparingRebalance') throw rebalanceInProgress(this.name)
    this.refreshSession(member)
    if (this.state === 'Stable') return Promise.resolve(member.assignment)
    assert(this.state === 'CompletingRebalance', `group ${this.name} synced in state ${this.state}`)
    if (member.memberId === this.leaderId) {
      this.applyAssignments(assignments ?? new Map())
      return Promise.resolve(member.assignment)
    }
    member.syncWaiter?.reject(rebalanceInProgress(this.name))
    return new Promise((resolve, reject) => (member.syncWaiter = {resolve, reject}))
  }

  /** Keeps the member's session; REBALANCE_IN_PROGRESS tells it to rejoin. */
  heartbeat(identity: MemberIdentity): void {
    this.refuseIfDead()
    const member = this.memberOf(identity)
    this.refreshSession(member)
    if (this.state === 'PreparingRebalance') throw rebalanceInProgress(this.name)
  }

  leave(memberId: string): void {
    this.refuseIfDead()
    const member = this.members.get(memberId)
    if (!member) throw unknownMember(this.name, memberId)
    this.removeMember(member, 'left the group', unknownMember(this.name, memberId))
  }

  /**
   * Whether a commit may be stored: a member's of the current generation (during a rebalance's
   * join phase too, so members commit what they consumed before they give partitions up), or
   * one with no membership while the group has no members (Kafka's simple and admin commits).
   */
  checkCommit(identity: MemberIdentity | undefined): void {
    this.refuseIfDead()
    if (!identity) {
      if (this.members.size === 0) return
      throw new LignumError('UNKNOWN_MEMBER_ID', `group ${this.name} has ${this.members.size} live member(s); a commit without membership is refused while it has: join the group, or wait until its members leave`)
    }
    const member = this.memberOf(identity)
    if (this.state === 'CompletingRebalance') throw rebalanceInProgress(this.name)
    this.refreshSession(member)
  }

  /** The coordinator no longer coordinates the group: every waiting member is told to find the new one. */
  close(): void {
    if (this.state === 'Dead') return
    clearTimeout(this.roundTimer)
    for (const member of this.members.values()) {
      clearTimeout(member.sessionTimer)
      member.joinWaiter?.reject(notCoordinator(this.name))
      member.syncWaiter?.reject(notCoordinator(this.name))
    }
    this.members.clear()
    this.state = 'Dead'
  }

  summary(): GroupMembership {
    const assignmentVisible = this.state === 'Stable'
    return {
      state: this.state,
      generationId: this.generationId,
      protocol: this.state === 'Empty' ? '' : this.protocol,
      members: [...this.members.values()].map((member) => ({
        memberId: member.memberId,
        clientId: member.clientId,
        host: member.host,
        assignment: assignmentVisible ? safeAssignment(member.assignment) : [],
      })),
    }
  }

  private memberOf(identity: MemberIdentity): Member {
    const member = this.members.get(identity.memberId)
    if (!member) throw unknownMember(this.name, identity.memberId)
    if (identity.generationId !== this.generationId) {
      throw new LignumError('ILLEGAL_GENERATION', `member ${identity.memberId} of group ${this.name} is at generation ${identity.generationId}, the group at ${this.generationId}; rejoin the group`)
    }
    return member
  }

  /** Kafka's shortcut: a follower rejoining with unchanged metadata gets the current generation back. */
  private answersWithoutRebalance(member: Member, protocols: GroupProtocol[]): boolean {
    if (this.state !== 'Stable' && this.state !== 'CompletingRebalance') return false
    if (this.state === 'Stable' && member.memberId === this.leaderId) return false
    return sameProtocols(member.protocols, protocols)
  }

  private prepareRebalance(): void {
    if (this.state === 'CompletingRebalance') {
      for (const member of this.members.values()) {
        member.syncWaiter?.reject(rebalanceInProgress(this.name))
        member.syncWaiter = undefined
      }
    }
    this.state = 'PreparingRebalance'
    clearTimeout(this.roundTimer)
    const rebalanceTimeoutMs = Math.max(...[...this.members.values()].map((member) => member.rebalanceTimeoutMs), 0)
    this.roundTimer = setTimeout(() => this.completeJoin(), rebalanceTimeoutMs)
  }

  private completeJoinIfAllJoined(): void {
    if (this.state !== 'PreparingRebalance') return
    for (const member of this.members.values()) if (!member.joinWaiter) return
    this.completeJoin()
  }

  /** Ends the join phase: members that did not rejoin are out, the rest start a generation. */
  private completeJoin(): void {
    if (this.state !== 'PreparingRebalance') return
    clearTimeout(this.roundTimer)
    this.roundTimer = undefined
    for (const member of [...this.members.values()]) {
      if (!member.joinWaiter) this.dropMember(member, 'did not rejoin within the rebalance timeout')
    }
    this.generationId++
    if (this.members.size === 0) {
      this.becomeEmpty()
      return
    }
    this.protocol = this.chooseProtocol()
    if (!this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value as string
    this.state = 'CompletingRebalance'
    this.events.generationStarted?.(this.generationId, this.protocol, this.members.size)
    for (const member of this.members.values()) {
      member.assignment = Buffer.alloc(0)
      const waiter = member.joinWaiter as Waiter<JoinResult>
      member.joinWaiter = undefined
      this.refreshSession(member)
      waiter.resolve(this.joinResultOf(member))
    }
    this.awaitLeaderSync()
  }

  /** A leader that never syncs would hold the group: past the rebalance timeout it is removed. */
  private awaitLeaderSync(): void {
    const leader = this.members.get(this.leaderId) as Member
    const generation = this.generationId
    this.roundTimer = setTimeout(() => {
      if (this.state === 'CompletingRebalance' && this.generationId === generation && this.members.get(this.leaderId) === leader) {
        this.removeMember(leader, 'sent no assignment within the rebalance timeout', rebalanceInProgress(this.name))
      }
    }, leader.rebalanceTimeoutMs)
  }

  private applyAssignments(assignments: Map<string, Buffer>): void {
    clearTimeout(this.roundTimer)
    this.roundTimer = undefined
    this.state = 'Stable'
    for (const member of this.members.values()) {
      member.assignment = assignments.get(member.memberId) ?? Buffer.alloc(0)
      const waiter = member.syncWaiter
      member.syncWaiter = undefined
      waiter?.resolve(member.assignment)
    }
  }

  private joinResultOf(member: Member): JoinResult {
    const isLeader = member.memberId === this.leaderId
    return {
      generationId: this.generationId,
      protocolName: this.protocol,
      leaderId: this.leaderId,
      memberId: member.memberId,
      members: isLeader ? [...this.members.values()].map((each) => ({memberId: each.memberId, clientId: each.clientId, metadata: metadataFor(each, this.protocol)})) : [],
    }
  }

  /** Kafka's vote: each member names its most preferred protocol that every member supports. */
  private chooseProtocol(): string {
    const members = [...this.members.values()]
    const common = members[0].protocols.map((protocol) => protocol.name).filter((name) => members.every((member) => member.protocols.some((protocol) => protocol.name === name)))
    assert(common.length > 0, `group ${this.name} has members with no protocol in common`)
    const votes = new Map<string, number>()
    for (const member of members) {
      const choice = member.protocols.find((protocol) => common.includes(protocol.name)) as GroupProtocol
      votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1)
    }
    return [...votes].sort((a, b) => b[1] - a[1])[0][0]
  }

  private refuseInconsistentProtocol(request: JoinRequest): void {
    const others = [...this.members.values()].filter((member) => member.memberId !== request.memberId)
    if (others.length === 0) return
    if (request.protocolType !== this.protocolType) {
      throw new LignumError('INCONSISTENT_GROUP_PROTOCOL', `group ${this.name} has members of protocol type "${this.protocolType}", not "${request.protocolType}"; use another group`)
    }
    const names = request.protocols.map((protocol) => protocol.name)
    const shared = names.filter((name) => others.every((member) => member.protocols.some((protocol) => protocol.name === name)))
    if (shared.length === 0) {
      const theirs = [...new Set(others.flatMap((member) => member.protocols.map((protocol) => protocol.name)))].join(', ')
      throw new LignumError('INCONSISTENT_GROUP_PROTOCOL', `group ${this.name}'s members use the assignor(s) ${theirs}, none of ${names.join(', ')}`, {hint: `use the same --assignor as the other members, or another group`})
    }
  }

  private refreshSession(member: Member): void {
    clearTimeout(member.sessionTimer)
    member.sessionTimer = setTimeout(() => this.sessionExpired(member), member.sessionTimeoutMs)
    member.sessionTimer.unref?.()
  }

  private sessionExpired(member: Member): void {
    if (this.members.get(member.memberId) !== member) return
    // Waiting for an answer is not silence: the wait is bounded by the round's own timers.
    if (member.joinWaiter || member.syncWaiter) {
      this.refreshSession(member)
      return
    }
    this.removeMember(member, `sent no heartbeat for ${member.sessionTimeoutMs} ms (its session timeout)`, unknownMember(this.name, member.memberId))
  }

  /** Takes a member out and starts a rebalance for the others (or completes the one running). */
  private removeMember(member: Member, reason: string, answer: LignumError): void {
    member.joinWaiter?.reject(answer)
    member.syncWaiter?.reject(answer)
    member.joinWaiter = undefined
    member.syncWaiter = undefined
    this.dropMember(member, reason)
    if (this.state === 'Stable' || this.state === 'CompletingRebalance') this.prepareRebalance()
    this.completeJoinIfAllJoined()
  }

  private dropMember(member: Member, reason: string): void {
    clearTimeout(member.sessionTimer)
    this.members.delete(member.memberId)
    this.events.memberRemoved?.(member.memberId, reason)
  }

  private becomeEmpty(): void {
    assert(this.members.size === 0, `group ${this.name} emptied with members`)
    this.state = 'Empty'
    this.protocol = ''
    this.protocolType = ''
    this.leaderId = ''
    this.events.emptied?.()
  }

  private refuseIfDead(): void {
    if (this.state === 'Dead') throw notCoordinator(this.name)
  }
}

function validateJoin(request: JoinRequest): void {
  if (request.protocolType === '') throw new LignumError('INVALID_ARGUMENT', 'a JoinGroup names no protocol type; consumers use "consumer"')
  if (request.protocols.length === 0 || request.protocols.length > PROTOCOLS_PER_MEMBER_MAX) {
    throw new LignumError('INVALID_ARGUMENT', `a JoinGroup names ${request.protocols.length} protocols; name 1 to ${PROTOCOLS_PER_MEMBER_MAX} assignors`)
  }
  if (!Number.isInteger(request.sessionTimeoutMs) || request.sessionTimeoutMs < SESSION_TIMEOUT_MS_MIN || request.sessionTimeoutMs > SESSION_TIMEOUT_MS_MAX) {
    throw new LignumError('INVALID_ARGUMENT', `session timeout ${request.sessionTimeoutMs} ms is outside ${SESSION_TIMEOUT_MS_MIN} to ${SESSION_TIMEOUT_MS_MAX} ms`, {hint: `choose one in that range (--session-timeout)`})
  }
  if (!Number.isInteger(request.rebalanceTimeoutMs) || request.rebalanceTimeoutMs < 1 || request.rebalanceTimeoutMs > REBALANCE_TIMEOUT_MS_MAX) {
    throw new LignumError('INVALID_ARGUMENT', `rebalance timeout ${request.rebalanceTimeoutMs} ms is outside 1 to ${REBALANCE_TIMEOUT_MS_MAX} ms`)
  }
}

function sameProtocols(a: GroupProtocol[], b: GroupProtocol[]): boolean {
  return a.length === b.length && a.every((protocol, index) => protocol.name === b[index].name && protocol.metadata.equals(b[index].metadata))
}

function metadataFor(member: Member, protocol: string): Buffer {
  return member.protocols.find((each) => each.name === protocol)?.metadata ?? Buffer.alloc(0)
}

/** What the view shows of an assignment: a member's bytes that do not parse show as nothing assigned. */
function safeAssignment(bytes: Buffer) {
  try {
    return decodeAssignment(bytes)
  } catch {
    return []
  }
}

function unknownMember(group: string, memberId: string): LignumError {
  return new LignumError('UNKNOWN_MEMBER_ID', `group ${group} has no member "${memberId}" (it left, or its session timed out); rejoin the group`)
}

function rebalanceInProgress(group: string): LignumError {
  return new LignumError('REBALANCE_IN_PROGRESS', `group ${group} is rebalancing; rejoin the group`)
}

export function notCoordinator(group: string): LignumError {
  return new LignumError('NOT_COORDINATOR', `this node no longer coordinates group ${group}; find its coordinator again and rejoin`)
}
