/**
 * The membership view to use until the coordinator's live membership (join, sync, heartbeat)
 * is wired in: it reports every group Empty, with no members. With it the group tooling sees
 * committed offsets only, and seek and delete never refuse for live members. It is handed to
 * the admin handlers in one place, server/node.ts (ServingContext.groupMembership).
 */
import type {GroupMembership, GroupMembershipView} from './group-membership-view.js'

const EMPTY: GroupMembership = {state: 'Empty', generationId: 0, protocol: '', members: []}

export const membershipNotTrackedYet: GroupMembershipView = {
  membershipOf: () => ({...EMPTY, members: []}),
  groupsWithMembers: () => [],
}
