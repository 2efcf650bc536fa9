/**
 * The consumer groups a coordinator holds membership for (one ConsumerGroup each), behind the
 * four requests of Kafka's classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and
 * the check a commit passes before it is stored. No transport: the gRPC handlers and (later)
 * a Kafka-protocol listener drive the same object. It is also the read-only view the group
 * tooling reads (GroupMembershipView).
 *
 * Standalone the broker holds one; in cluster mode the coordinator holds one per partition of
 * `__consumer_offsets` it leads, and closes it when that leadership ends, so members get
 * NOT_COORDINATOR and rejoin at the new coordinator. A group with no members is forgotten (its
 * committed offsets live in GroupOffsets, not here).
 */
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {ConsumerGroup, notCoordinator, type JoinRequest, type JoinResult, type MemberIdentity} from './consumer-group.js'
import {validateGroupName} from './group-offsets.js'
import type {GroupMembership, GroupMembershipView} from './group-membership-view.js'

/** A coordinator holds at most this many groups with live members: each costs timers and memory. */
export const GROUPS_MAX = 10_000

export class GroupMemberships implements GroupMembershipView {
  private readonly groups = new Map<string, ConsumerGroup>()
  private closed = false

  constructor(private readonly logger: Logger) {}

  join(group: string, request: JoinRequest): Promise<JoinResult> {
    return this.groupOf(group, true).join(request)
  }

  sync(group: string, identity: MemberIdentity, assignments: Map<string, Buffer> | undefined): Promise<Buffer> {
    return this.groupOf(group, false).sync(identity, assignments)
  }

  heartbeat(group: string, identity: MemberIdentity): void {
    this.groupOf(group, false).heartbeat(identity)
  }

  leave(group: string, memberId: string): void {
    this.groupOf(group, false).leave(memberId)
  }

  /** Throws when the commit must not be stored (a stale or unknown member, a no-membership commit to a live group). */
  checkCommit(group: string, identity: MemberIdentity | undefined): void {
    validateGroupName(group)
    if (this.closed) throw notCoordinator(group)
    const known = this.groups.get(group)
    if (known) return known.checkCommit(identity)
    if (identity) throw new LignumError('UNKNOWN_MEMBER_ID', `group ${group} has no live members, so no member "${identity.memberId}"; rejoin the group`)
  }

  membershipOf(group: string): GroupMembership {
    return this.groups.get(group)?.summary() ?? {state: 'Empty', generationId: 0, protocol: '', members: []}
  }

  groupsWithMembers(): string[] {
    return [...this.groups.values()].filter((group) => group.currentState !== 'Empty' && group.currentState !== 'Dead').map((group) => group.name).sort()
  }

  /** The coordinator stops coordinating these groups: every member is told to look again. */
  close(): void {
    this.closed = true
    for (const group of this.groups.values()) group.close()
    this.groups.clear()
  }

  private groupOf(name: string, create: boolean): ConsumerGroup {
    validateGroupName(name)
    if (this.closed) throw notCoordinator(name)
    const known = this.groups.get(name)
    if (known) return known
    if (!create) throw new LignumError('UNKNOWN_MEMBER_ID', `group ${name} has no live members; join it first`)
    if (this.groups.size >= GROUPS_MAX) throw new LignumError('UNAVAILABLE', `this coordinator holds ${GROUPS_MAX} live groups, its limit; retry later`)
    const group: ConsumerGroup = new ConsumerGroup(name, {
      memberRemoved: (memberId, reason) => this.logger.info('consumer group member removed', {group: name, memberId, reason}),
      generationStarted: (generationId, protocol, members) => this.logger.info('consumer group generation started', {group: name, generationId, protocol, members}),
      emptied: () => {
        if (this.groups.get(name) === group) this.groups.delete(name)
      },
    })
    this.groups.set(name, group)
    return group
  }
}
