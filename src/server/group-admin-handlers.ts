/**
 * The gRPC handlers of `lignum groups`: list, describe, reset (seek) and delete consumer
 * groups. Standalone they act on the broker's table of committed offsets; in cluster mode on
 * the group's coordinator (group-coordinator.ts), this node or another one hop away. Live
 * membership is read through the node's GroupMembershipView (ServingContext.groupMembership).
 *
 * Authorization follows Kafka's: describe on a group to list or describe it (a listing leaves
 * out groups the caller may not describe, and a description the offsets of topics it may not
 * describe), consume on the group and each topic to move offsets (an OffsetCommit), delete on
 * the group to delete it. A request another node forwarded needs admin on the cluster.
 */
import type {sendUnaryData, ServerUnaryCall} from '@grpc/grpc-js'
import {clusterResource} from '../acl/acl-rule.js'
import {deleteGroup, describeGroup, listGroups, resetGroupOffsets} from '../broker/group-admin.js'
import type {
  DeleteGroupRequest,
  DeleteGroupResponse,
  DescribeGroupRequest,
  DescribeGroupResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  ResetGroupOffsetsRequest,
  ResetGroupOffsetsResponse,
} from '../generated/lignum/v1/lignum.js'
import type {Operation} from '../acl/acl-rule.js'
import {callPrincipal, groupResource, requireAllowed, topicResource} from './authorization.js'
import {forwardedBy} from './group-handlers.js'
import {groupDetailsToWire, groupListingToWire, offsetChangesToWire, offsetsFromWire} from './group-wire.js'
import type {ServingContext} from './serving-context.js'

type Unary = <Request, Response>(handler: (request: Request, call: ServerUnaryCall<Request, Response>) => Promise<Response> | Response) => (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>) => void

export function groupAdminHandlers(context: ServingContext, unary: Unary) {
  const membership = () => context.groupMembership
  return {
    listGroups: unary(async (request: ListGroupsRequest, call): Promise<ListGroupsResponse> => {
      const forwarder = forwardedBy(call)
      if (forwarder !== undefined) requireAllowed(context.access, callPrincipal(call, context.principalMapping), 'admin', clusterResource())
      const groups = context.clusterGroups
        ? await context.clusterGroups.listGroups(membership(), forwarder, request.coordinatorPartitions)
        : listGroups(context.broker.groupOffsetsTable(), membership()).map((listing) => groupListingToWire(listing, context.nodeId))
      if (forwarder !== undefined || !context.access) return {groups}
      const principal = callPrincipal(call, context.principalMapping)
      return {groups: groups.filter((listing) => context.access?.allows(principal, 'describe', groupResource(listing.group)))}
    }),

    describeGroup: unary(async (request: DescribeGroupRequest, call): Promise<DescribeGroupResponse> => {
      requireGroupOperation(context, call, request.group, 'describe', [])
      const details = context.clusterGroups
        ? await context.clusterGroups.describeGroup(request.group, membership(), forwardedBy(call))
        : groupDetailsToWire(describeGroup(request.group, context.broker.groupOffsetsTable(), membership()), context.nodeId)
      const principal = callPrincipal(call, context.principalMapping)
      if (forwardedBy(call) !== undefined || !context.access) return details
      return {...details, offsets: details.offsets.filter((entry) => context.access?.allows(principal, 'describe', topicResource(entry.topic)))}
    }),

    resetGroupOffsets: unary(async (request: ResetGroupOffsetsRequest, call): Promise<ResetGroupOffsetsResponse> => {
      requireGroupOperation(context, call, request.group, 'consume', request.offsets.map((entry) => entry.topic))
      const offsets = offsetsFromWire(request.offsets)
      const options = {force: request.force, validateOnly: request.validateOnly}
      if (context.clusterGroups) return context.clusterGroups.resetGroupOffsets(request.group, offsets, options, membership(), forwardedBy(call))
      return offsetChangesToWire(await resetGroupOffsets(request.group, offsets, options, context.broker.groupOffsetsTable(), membership()))
    }),

    deleteGroup: unary(async (request: DeleteGroupRequest, call): Promise<DeleteGroupResponse> => {
      requireGroupOperation(context, call, request.group, 'delete', [])
      const deletedOffsets = context.clusterGroups
        ? await context.clusterGroups.deleteGroup(request.group, membership(), forwardedBy(call))
        : await deleteGroup(request.group, context.broker.groupOffsetsTable(), membership())
      return {deletedOffsets}
    }),
  }
}

/** `operation` on the group, consume on each topic named; a forwarded request was checked where it arrived. */
function requireGroupOperation(context: ServingContext, call: ServerUnaryCall<unknown, unknown>, group: string, operation: Operation, topics: string[]): void {
  const principal = callPrincipal(call, context.principalMapping)
  if (forwardedBy(call) !== undefined) return requireAllowed(context.access, principal, 'admin', clusterResource())
  requireAllowed(context.access, principal, operation, groupResource(group))
  for (const topic of new Set(topics)) requireAllowed(context.access, principal, 'consume', topicResource(topic))
}
