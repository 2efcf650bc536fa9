/**
 * What the group tooling (list, describe, seek, delete) may learn about a consumer group's
 * live membership, as the group's coordinator sees it. The coordinator's membership state
 * (join, sync, heartbeat, leave, session expiry) implements it; the admin handlers only read
 * through it, so they never change a generation or an assignment.
 *
 * Invariant: a group with no live member is 'Empty'; a member listed here has not yet missed
 * its session timeout.
 */

/** Kafka's classic group states, as `kafka-consumer-groups --describe --state` prints them. */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

export interface TopicPartitions {
  topic: string
  partitions: number[]
}

export interface GroupMemberSummary {
  memberId: string
  clientId: string
  /** Where the member connected from (the peer address the coordinator saw). */
  host: string
  /** What the member holds in the current generation; empty while a rebalance runs. */
  assignment: TopicPartitions[]
}

export interface GroupMembership {
  state: GroupState
  generationId: number
  /** The assignor the members agreed on ('range', 'cooperative-sticky'), '' while Empty. */
  protocol: string
  members: GroupMemberSummary[]
}

export interface GroupMembershipView {
  /** The membership of a group this node coordinates: state Empty with no members when it has none. */
  membershipOf(group: string): GroupMembership
  /** Groups that have live members on this coordinator. */
  groupsWithMembers(): string[]
}
