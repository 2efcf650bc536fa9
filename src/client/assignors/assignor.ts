/**
 * What a group's leader member runs to split the partitions among the members (client-side, as
 * Kafka's clients do; the coordinator only passes the result on). An assignor is a pure function
 * of the members' subscriptions and the partition counts, so every leader computes the same.
 *
 * Invariant of every assignor: a partition goes to at most one member, and only to a member
 * subscribed to its topic.
 */
import type {Subscription, TopicPartitionList} from '../../format/consumer-protocol.js'

export interface AssignorMember {
  memberId: string
  subscription: Subscription
}

export interface Assignor {
  /** The protocol name members agree on in JoinGroup ('range', 'cooperative-sticky'). */
  readonly name: string
  /**
   * 'eager': a member gives up all its partitions before it rejoins. 'cooperative': it keeps
   * them and gives up only those the new assignment moves, then rejoins once more (KIP-429).
   */
  readonly rebalance: 'eager' | 'cooperative'
  assign(members: AssignorMember[], partitionCounts: ReadonlyMap<string, number>): Map<string, TopicPartitionList[]>
}

/** Per member, its partitions grouped by topic (topics sorted, partitions ascending); every member listed. */
export function groupedByTopic(memberIds: string[], pairs: Iterable<[string, {topic: string; partition: number}]>): Map<string, TopicPartitionList[]> {
  const byMember = new Map(memberIds.map((memberId) => [memberId, new Map<string, number[]>()]))
  for (const [memberId, {topic, partition}] of pairs) {
    const topics = byMember.get(memberId) as Map<string, number[]>
    if (!topics.has(topic)) topics.set(topic, [])
    ;(topics.get(topic) as number[]).push(partition)
  }
  return new Map(
    [...byMember].map(([memberId, topics]) => [
      memberId,
      [...topics].sort(([a], [b]) => a.localeCompare(b)).map(([topic, partitions]) => ({topic, partitions: partitions.sort((a, b) => a - b)})),
    ]),
  )
}
