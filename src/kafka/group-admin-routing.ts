/**
 * Where the Kafka listener's group-admin requests (ListGroups, DescribeGroups, DeleteGroups)
 * go, as gRPC's group-admin-handlers.ts: in cluster mode through the group coordinator
 * (server/group-coordinator.ts: every coordinator's listing, one group's coordinator for a
 * description or a delete), standalone to the broker's own table and membership. Answers are
 * in their protobuf shape in both modes, which is what the coordinator hands back.
 *
 * Authorization is gRPC's: describe on a group to see it listed or described, delete on it to
 * delete it; a refusal is GroupRefused, which the APIs answer with GROUP_AUTHORIZATION_FAILED.
 */
import {deleteGroup, describeGroup, listGroups} from '../broker/group-admin.js'
import type {DescribeGroupResponse, GroupListing} from '../generated/lignum/v1/lignum.js'
import type {Operation} from '../acl/acl-rule.js'
import {groupResource, permissionDenied} from '../server/authorization.js'
import {groupDetailsToWire, groupListingToWire} from '../server/group-wire.js'
import type {ServingContext} from '../server/serving-context.js'
import {LignumError} from '../errors.js'
import {groupErrorCodeOf, GroupRefused} from './group-access.js'
import {KafkaErrorCode} from './kafka-error-codes.js'

export function requireGroupOperation(context: ServingContext, principal: string, group: string, operation: Operation): void {
  const {access} = context
  if (access && !access.allows(principal, operation, groupResource(group))) throw new GroupRefused(permissionDenied(principal, operation, groupResource(group)))
}

/** Every group the principal may describe. */
export async function listVisibleGroups(context: ServingContext, principal: string): Promise<GroupListing[]> {
  const groups = context.clusterGroups
    ? await context.clusterGroups.listGroups(context.groupMembership, undefined)
    : listGroups(context.broker.groupOffsetsTable(), context.groupMembership).map((listing) => groupListingToWire(listing, context.nodeId))
  const {access} = context
  return access ? groups.filter((listing) => access.allows(principal, 'describe', groupResource(listing.group))) : groups
}

/** Throws NOT_FOUND for a group with neither offsets nor members. */
export async function describeOneGroup(context: ServingContext, group: string): Promise<DescribeGroupResponse> {
  return context.clusterGroups
    ? context.clusterGroups.describeGroup(group, context.groupMembership, undefined)
    : groupDetailsToWire(describeGroup(group, context.broker.groupOffsetsTable(), context.groupMembership), context.nodeId)
}

/** Throws NON_EMPTY_GROUP while members live, NOT_FOUND for an unknown group. */
export async function deleteOneGroup(context: ServingContext, group: string): Promise<number> {
  return context.clusterGroups
    ? context.clusterGroups.deleteGroup(group, context.groupMembership, undefined)
    : deleteGroup(group, context.broker.groupOffsetsTable(), context.groupMembership)
}

/** A group-admin failure's Kafka code: an unknown group is GROUP_ID_NOT_FOUND (the table's NOT_FOUND names a topic), a bad name INVALID_GROUP_ID. */
export function groupAdminErrorCodeOf(error: unknown): number {
  if (error instanceof LignumError && error.code === 'NOT_FOUND') return KafkaErrorCode.GROUP_ID_NOT_FOUND
  if (error instanceof LignumError && error.code === 'INVALID_ARGUMENT') return KafkaErrorCode.INVALID_GROUP_ID
  return groupErrorCodeOf(error)
}
