/**
 * Kafka's CooperativeStickyAssignor, in its simple form: the target keeps each member's owned
 * partitions where balance allows (members own at most ceil(partitions / members), and only as
 * many members own the ceiling as the remainder allows), and hands the rest, lowest first, to
 * the least loaded subscribed member. Then the cooperative rule (KIP-429): a partition the target
 * moves away from a member that still owns it is left out of this round, so its owner revokes it
 * (committing what it consumed) and rejoins; the next round finds it unowned and assigns it.
 * Only partitions that move are ever revoked.
 */
import type {TopicPartitionList} from '../../format/consumer-protocol.js'
import type {Assignor, AssignorMember} from './assignor.js'
import {groupedByTopic} from './assignor.js'

type Slot = {topic: string; partition: number}
const keyOf = (slot: Slot) => `${slot.topic}\u0000${slot.partition}`

export const cooperativeStickyAssignor: Assignor = {
  name: 'cooperative-sticky',
  rebalance: 'cooperative',
  assign(members: AssignorMember[], partitionCounts: ReadonlyMap<string, number>) {
    const sorted = [...members].sort((a, b) => a.memberId.localeCompare(b.memberId))
    const all = allPartitions(sorted, partitionCounts)
    const owners = currentOwners(sorted, all)
    const target = stickyTarget(sorted, all, owners)
    const pairs: [string, Slot][] = []
    for (const [memberId, slots] of target) {
      for (const slot of slots) {
        const owner = owners.get(keyOf(slot))
        // Still owned by another member: that member revokes it first.
        if (owner === undefined || owner === memberId) pairs.push([memberId, slot])
      }
    }
    return groupedByTopic(sorted.map((member) => member.memberId), pairs)
  },
}

function allPartitions(members: AssignorMember[], partitionCounts: ReadonlyMap<string, number>): Map<string, Slot> {
  const topics = [...new Set(members.flatMap((member) => member.subscription.topics))].sort()
  const all = new Map<string, Slot>()
  for (const topic of topics) {
    for (let partition = 0; partition < (partitionCounts.get(topic) ?? 0); partition++) all.set(keyOf({topic, partition}), {topic, partition})
  }
  return all
}

/** Who owns what, as the members claim: a partition claimed twice stays with the first claimant (by id). */
function currentOwners(members: AssignorMember[], all: Map<string, Slot>): Map<string, string> {
  const owners = new Map<string, string>()
  for (const member of members) {
    for (const slot of flatten(member.subscription.ownedPartitions)) {
      const key = keyOf(slot)
      if (all.has(key) && member.subscription.topics.includes(slot.topic) && !owners.has(key)) owners.set(key, member.memberId)
    }
  }
  return owners
}

function stickyTarget(members: AssignorMember[], all: Map<string, Slot>, owners: Map<string, string>): Map<string, Slot[]> {
  const floor = Math.floor(all.size / members.length)
  let ceilings = all.size % members.length
  const target = new Map(members.map((member) => [member.memberId, [] as Slot[]]))
  for (const [key, memberId] of owners) (target.get(memberId) as Slot[]).push(all.get(key) as Slot)
  // Most loaded first take the ceiling slots; the rest keep the floor; what they drop is free.
  const byLoad = [...target].sort(([a, x], [b, y]) => y.length - x.length || a.localeCompare(b))
  const taken = new Set<string>()
  for (const [memberId, slots] of byLoad) {
    slots.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    const limit = floor + (ceilings > 0 && slots.length > floor ? 1 : 0)
    if (limit > floor) ceilings--
    const kept = slots.slice(0, limit)
    target.set(memberId, kept)
    for (const slot of kept) taken.add(keyOf(slot))
  }
  for (const [key, slot] of all) {
    if (taken.has(key)) continue
    const candidates = members.filter((member) => member.subscription.topics.includes(slot.topic))
    if (candidates.length === 0) continue
    const least = candidates.reduce((best, member) => ((target.get(member.memberId) as Slot[]).length < (target.get(best.memberId) as Slot[]).length ? member : best))
    ;(target.get(least.memberId) as Slot[]).push(slot)
  }
  return target
}

function flatten(lists: TopicPartitionList[]): Slot[] {
  return lists.flatMap((list) => list.partitions.map((partition) => ({topic: list.topic, partition})))
}
