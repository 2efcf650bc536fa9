/**
 * The group tooling's answers (broker/group-admin.ts) as their protobuf messages. Offsets are
 * safe numbers in the engine and int64 on the wire; a coordinator that forwards passes the
 * other node's message on unchanged, so the conversion happens once, where the answer is made.
 */
import type {GroupDetails, GroupListing, OffsetChange} from '../broker/group-admin.js'
import type {CommittedOffset} from '../broker/group-offsets.js'
import type {DescribeGroupResponse, GroupListing as WireGroupListing, PartitionOffset, ResetGroupOffsetsResponse} from '../generated/lignum/v1/lignum.js'
import {toSafeNumber} from './convert.js'

export function groupListingToWire(listing: GroupListing, coordinator: string): WireGroupListing {
  return {group: listing.group, state: listing.state, memberCount: listing.memberCount, coordinator}
}

export function groupDetailsToWire(details: GroupDetails, coordinator: string): DescribeGroupResponse {
  return {
    group: details.group,
    state: details.state,
    generationId: details.generationId,
    protocol: details.protocol,
    members: details.members.map((member) => ({memberId: member.memberId, clientId: member.clientId, host: member.host, assignment: member.assignment.map((entry) => ({topic: entry.topic, partitions: [...entry.partitions]}))})),
    offsets: details.offsets.map((entry) => ({topic: entry.topic, partition: entry.partition, offset: BigInt(entry.offset), metadata: entry.metadata})),
    coordinator,
  }
}

export function offsetChangesToWire(changes: OffsetChange[]): ResetGroupOffsetsResponse {
  return {
    changes: changes.map((change) => ({
      topic: change.topic,
      partition: change.partition,
      previousOffset: change.previousOffset === undefined ? undefined : BigInt(change.previousOffset),
      offset: BigInt(change.offset),
    })),
  }
}

export function offsetsFromWire(offsets: PartitionOffset[]): CommittedOffset[] {
  return offsets.map((entry) => ({topic: entry.topic, partition: entry.partition, offset: toSafeNumber(entry.offset, 'offset'), metadata: entry.metadata}))
}

export function offsetsToWire(offsets: CommittedOffset[]): PartitionOffset[] {
  return offsets.map((entry) => ({...entry, offset: BigInt(entry.offset)}))
}
