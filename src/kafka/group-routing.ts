/**
 * Where the Kafka listener's group requests go, as gRPC's (group-handlers.ts, grpc-service.ts):
 * in cluster mode to the group's coordinator (this node, or another in one hop, which is why
 * FindCoordinator may name whichever node the client asked), standalone to the broker's own
 * group membership and offsets. The request was authorized here; nothing is forwarded "for"
 * anyone, so forwardedBy stays unset and the coordinator node treats it as its own client's.
 */
import type {CommittedOffset} from '../broker/group-offsets.js'
import type {JoinRequest, JoinResult, MemberIdentity} from '../broker/consumer-group.js'
import type {ServingContext} from '../server/serving-context.js'

export function joinGroup(context: ServingContext, group: string, request: JoinRequest): Promise<JoinResult> {
  return context.clusterOffsets ? context.clusterOffsets.joinGroup(group, request) : context.broker.groupMemberships.join(group, request)
}

/** `waitMs` bounds a follower's wait for the leader's assignment when it goes through another node. */
export function syncGroup(context: ServingContext, group: string, identity: MemberIdentity, assignments: Map<string, Buffer>, waitMs: number): Promise<Buffer> {
  return context.clusterOffsets ? context.clusterOffsets.syncGroup(group, identity, assignments, waitMs) : context.broker.groupMemberships.sync(group, identity, assignments)
}

export async function heartbeat(context: ServingContext, group: string, identity: MemberIdentity): Promise<void> {
  if (context.clusterOffsets) await context.clusterOffsets.heartbeat(group, identity)
  else context.broker.groupMemberships.heartbeat(group, identity)
}

export async function leaveGroup(context: ServingContext, group: string, memberId: string): Promise<void> {
  if (context.clusterOffsets) await context.clusterOffsets.leaveGroup(group, memberId)
  else context.broker.groupMemberships.leave(group, memberId)
}

/**
 * `member`: undefined for a commit without membership (empty member id), as gRPC's memberIdentityOf.
 * A negative offset is a Kafka client's "no committed offset" (kafkajs commits one after
 * OFFSET_OUT_OF_RANGE): it forgets the partition's, so OffsetFetch answers -1 and the client resets.
 */
export function commitOffsets(context: ServingContext, group: string, offsets: CommittedOffset[], member: MemberIdentity | undefined): Promise<void> {
  return context.clusterOffsets ? context.clusterOffsets.commitOffsets(group, offsets, undefined, member, 'forget') : context.broker.commitOffsets(group, offsets, member, 'forget')
}

export async function fetchOffsets(context: ServingContext, group: string): Promise<CommittedOffset[]> {
  return context.clusterOffsets ? context.clusterOffsets.fetchOffsets(group, undefined) : context.broker.fetchOffsets(group)
}
