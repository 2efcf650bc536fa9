/**
 * Consumer groups as the client hands them out (the group tooling's answers): plain numbers
 * and strings, converted once from the wire's messages.
 */
import type {DescribeGroupResponse, GroupListing, OffsetChange} from '../generated/lignum/v1/lignum.js'

export interface GroupSummary {
  group: string
  /** Empty, PreparingRebalance, CompletingRebalance, Stable or Dead. */
  state: string
  memberCount: number
  coordinator: string
}

export interface GroupMemberDescription {
  memberId: string
  clientId: string
  host: string
  assignment: {topic: string; partitions: number[]}[]
}

export interface GroupDescription {
  group: string
  state: string
  generationId: number
  protocol: string
  coordinator: string
  members: GroupMemberDescription[]
  offsets: {topic: string; partition: number; offset: number}[]
}

export interface GroupOffsetChange {
  topic: string
  partition: number
  /** Undefined where the group had no committed offset. */
  previousOffset: number | undefined
  offset: number
}

export function groupSummaryOf(listing: GroupListing): GroupSummary {
  return {group: listing.group, state: listing.state, memberCount: listing.memberCount, coordinator: listing.coordinator}
}

export function groupDescriptionOf(response: DescribeGroupResponse): GroupDescription {
  return {
    group: response.group,
    state: response.state,
    generationId: response.generationId,
    protocol: response.protocol,
    coordinator: response.coordinator,
    members: response.members.map((member) => ({memberId: member.memberId, clientId: member.clientId, host: member.host, assignment: member.assignment.map((entry) => ({topic: entry.topic, partitions: entry.partitions}))})),
    offsets: response.offsets.map((entry) => ({topic: entry.topic, partition: entry.partition, offset: Number(entry.offset)})),
  }
}

export function groupOffsetChangeOf(change: OffsetChange): GroupOffsetChange {
  return {topic: change.topic, partition: change.partition, previousOffset: change.previousOffset === undefined ? undefined : Number(change.previousOffset), offset: Number(change.offset)}
}
