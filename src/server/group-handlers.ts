/**
 * The gRPC handlers of consumer-group membership (Kafka's JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup), routed as CommitOffsets is: in cluster mode to the group's coordinator (this node
 * or, in one hop, another), standalone to the broker's own membership. Each needs consume on
 * the group, as Kafka's group requests need READ on it; a forwarded request was checked at the
 * node that took it, and the forwarder needs admin on the cluster.
 */
import type {Metadata, sendUnaryData, ServerUnaryCall} from '@grpc/grpc-js'
import {clusterResource} from '../acl/acl-rule.js'
import type {JoinRequest, MemberIdentity} from '../broker/consumer-group.js'
import type {HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse} from '../generated/lignum/v1/lignum.js'
import {callPrincipal, groupResource, requireAllowed, topicResource} from './authorization.js'
import {FORWARDED_BY_METADATA_KEY, FORWARDED_FOR_METADATA_KEY} from './group-coordinator.js'
import type {ServingContext} from './serving-context.js'

type Unary = <Request, Response>(handler: (request: Request, call: ServerUnaryCall<Request, Response>) => Promise<Response> | Response) => (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>) => void

export function groupHandlers(context: ServingContext, unary: Unary) {
  const {broker} = context
  return {
    joinGroup: unary(async (request: JoinGroupRequest, call): Promise<JoinGroupResponse> => {
      requireGroupAccess(context, call, request.group, [])
      const {group, ...fields} = request
      const join: JoinRequest = {...fields, host: memberHost(call)}
      return context.clusterOffsets ? context.clusterOffsets.joinGroup(group, join, forwardedBy(call)) : broker.groupMemberships.join(group, join)
    }),

    syncGroup: unary(async (request: SyncGroupRequest, call): Promise<SyncGroupResponse> => {
      requireGroupAccess(context, call, request.group, [])
      const identity = {memberId: request.memberId, generationId: request.generationId}
      const assignments = new Map(request.assignments.map((entry) => [entry.memberId, entry.assignment]))
      // A follower's sync waits for the leader's, which the round bounds: the client's deadline says how long.
      const waitMs = Math.max(0, (call.getDeadline() as Date | number).valueOf() - Date.now())
      const assignment = context.clusterOffsets ? await context.clusterOffsets.syncGroup(request.group, identity, assignments, Number.isFinite(waitMs) ? waitMs : 0, forwardedBy(call)) : await broker.groupMemberships.sync(request.group, identity, assignments)
      return {assignment}
    }),

    heartbeat: unary(async (request: HeartbeatRequest, call): Promise<HeartbeatResponse> => {
      requireGroupAccess(context, call, request.group, [])
      const identity = {memberId: request.memberId, generationId: request.generationId}
      if (context.clusterOffsets) await context.clusterOffsets.heartbeat(request.group, identity, forwardedBy(call))
      else broker.groupMemberships.heartbeat(request.group, identity)
      return {}
    }),

    leaveGroup: unary(async (request: LeaveGroupRequest, call): Promise<LeaveGroupResponse> => {
      requireGroupAccess(context, call, request.group, [])
      if (context.clusterOffsets) await context.clusterOffsets.leaveGroup(request.group, request.memberId, forwardedBy(call))
      else broker.groupMemberships.leave(request.group, request.memberId)
      return {}
    }),
  }
}

/** The member a commit names, if any: an empty member id is a commit with no membership. */
export function memberIdentityOf(request: {memberId: string; generationId: number}): MemberIdentity | undefined {
  return request.memberId === '' ? undefined : {memberId: request.memberId, generationId: request.generationId}
}

/**
 * A group's requests: consume on the group (and on each topic named, as Kafka's OffsetCommit
 * reads both). A request another node forwarded was checked there: the forwarder needs admin on
 * the cluster (Kafka's ClusterAction), which node principals have as super users.
 */
export function requireGroupAccess(context: ServingContext, call: ServerUnaryCall<unknown, unknown>, group: string, topics: string[]): void {
  const principal = callPrincipal(call, context.principalMapping)
  if (forwardedBy(call) !== undefined) return requireAllowed(context.access, principal, 'admin', clusterResource())
  requireAllowed(context.access, principal, 'consume', groupResource(group))
  for (const topic of new Set(topics)) requireAllowed(context.access, principal, 'consume', topicResource(topic))
}

/** The node that passed this request on (group-coordinator.ts), if another node did. */
export function forwardedBy(call: {metadata: Metadata}): string | undefined {
  const [sender] = call.metadata.get(FORWARDED_BY_METADATA_KEY)
  return typeof sender === 'string' ? sender : undefined
}

/** Where the member connected from: the forwarding node says, else the peer of this call. */
function memberHost(call: {metadata: Metadata; getPeer(): string}): string {
  const [forwardedFor] = call.metadata.get(FORWARDED_FOR_METADATA_KEY)
  return typeof forwardedFor === 'string' ? forwardedFor : call.getPeer()
}
