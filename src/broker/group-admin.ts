/**
 * The group tooling's operations on one coordinator's state (Kafka's ListGroups,
 * DescribeGroups, OffsetCommit from an admin and DeleteGroups): a table of committed offsets
 * and the live membership, read through GroupMembershipView and never changed here.
 * Standalone the broker's one table is used; in cluster mode each partition of the offsets
 * topic this node leads (server/group-coordinator.ts routes the requests to it).
 *
 * Invariants: a group with live members keeps its offsets (seek refuses unless forced, delete
 * always refuses: NON_EMPTY_GROUP); a group unknown to both the table and the view is
 * NOT_FOUND for describe and delete; a listing holds each group once.
 */
import {LignumError} from '../errors.js'
import {validateGroupName, type CommittedOffset} from './group-offsets.js'
import type {GroupMemberSummary, GroupMembershipView, GroupState} from './group-membership-view.js'

/** What the operations need of a table of committed offsets (GroupOffsets). */
export interface GroupOffsetsTable {
  groups(): string[]
  fetch(group: string, topic?: string): CommittedOffset[]
  commit(group: string, offsets: CommittedOffset[]): Promise<void>
  deleteGroup(group: string): Promise<number>
}

export interface GroupListing {
  group: string
  state: GroupState
  memberCount: number
}

export interface GroupDetails {
  group: string
  state: GroupState
  generationId: number
  protocol: string
  members: GroupMemberSummary[]
  offsets: CommittedOffset[]
}

export interface OffsetChange {
  topic: string
  partition: number
  /** Undefined where the group had no committed offset. */
  previousOffset: number | undefined
  offset: number
}

/** Every group the table has offsets for or the view has members of, of those `coordinatedHere` accepts. */
export function listGroups(table: GroupOffsetsTable, membership: GroupMembershipView, coordinatedHere: (group: string) => boolean = () => true): GroupListing[] {
  const names = new Set([...table.groups(), ...membership.groupsWithMembers().filter(coordinatedHere)])
  return [...names].sort().map((group) => {
    const live = membership.membershipOf(group)
    return {group, state: live.state, memberCount: live.members.length}
  })
}

export function describeGroup(group: string, table: GroupOffsetsTable, membership: GroupMembershipView): GroupDetails {
  validateGroupName(group)
  const live = membership.membershipOf(group)
  const offsets = table.fetch(group)
  if (offsets.length === 0 && live.members.length === 0) throw unknownGroup(group)
  return {group, state: live.state, generationId: live.generationId, protocol: live.protocol, members: live.members, offsets}
}

/**
 * Commits the given offsets for the group as an administrator (seek); what changed, old and
 * new. `validateOnly` checks and answers without committing.
 */
export async function resetGroupOffsets(
  group: string,
  offsets: CommittedOffset[],
  options: {force: boolean; validateOnly: boolean},
  table: GroupOffsetsTable,
  membership: GroupMembershipView,
): Promise<OffsetChange[]> {
  validateGroupName(group)
  if (offsets.length === 0) throw new LignumError('INVALID_ARGUMENT', `no partition to move for group "${group}"; name topics with -t TOPIC`)
  for (const entry of offsets) {
    if (!Number.isSafeInteger(entry.offset) || entry.offset < 0) throw new LignumError('INVALID_ARGUMENT', `cannot move group "${group}" to offset ${entry.offset}: offsets are whole numbers from 0`)
  }
  const live = membership.membershipOf(group)
  if (live.members.length > 0 && !options.force) {
    throw new LignumError('NON_EMPTY_GROUP', `group "${group}" has ${live.members.length} live member(s) (state ${live.state})`, {hint: `stop its consumers first, or pass --force (their next commit may overwrite the new offsets)`})
  }
  const previous = new Map(table.fetch(group).map((entry) => [`${entry.topic}\u0000${entry.partition}`, entry.offset]))
  const changes = offsets.map((entry) => ({topic: entry.topic, partition: entry.partition, previousOffset: previous.get(`${entry.topic}\u0000${entry.partition}`), offset: entry.offset}))
  if (!options.validateOnly) await table.commit(group, offsets)
  return changes
}

/** Deletes the group's committed offsets durably; how many. Refused while it has live members. */
export async function deleteGroup(group: string, table: GroupOffsetsTable, membership: GroupMembershipView): Promise<number> {
  validateGroupName(group)
  const live = membership.membershipOf(group)
  if (live.members.length > 0) {
    throw new LignumError('NON_EMPTY_GROUP', `cannot delete group "${group}": it has ${live.members.length} live member(s) (state ${live.state}); stop its consumers, wait for their session timeout, then delete again`)
  }
  const deleted = await table.deleteGroup(group)
  if (deleted === 0) throw unknownGroup(group)
  return deleted
}

function unknownGroup(group: string): LignumError {
  return new LignumError('NOT_FOUND', `consumer group "${group}" does not exist (no committed offsets, no live members)`, {hint: `see: lignum groups list`})
}
