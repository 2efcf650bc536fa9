/**
 * Kafka's RangeAssignor: per topic, its subscribed members sorted by id, each gets a run of
 * consecutive partitions; the first (partitions mod members) get one more. 6 partitions over two
 * members: 0-2 and 3-5. Eager: every member gives up everything at each rebalance.
 */
import type {Assignor, AssignorMember} from './assignor.js'
import {groupedByTopic} from './assignor.js'

export const rangeAssignor: Assignor = {
  name: 'range',
  rebalance: 'eager',
  assign(members: AssignorMember[], partitionCounts: ReadonlyMap<string, number>) {
    const pairs: [string, {topic: string; partition: number}][] = []
    const topics = [...new Set(members.flatMap((member) => member.subscription.topics))].sort()
    for (const topic of topics) {
      const subscribed = members.filter((member) => member.subscription.topics.includes(topic)).map((member) => member.memberId).sort()
      const count = partitionCounts.get(topic) ?? 0
      const each = Math.floor(count / subscribed.length)
      const extra = count % subscribed.length
      let next = 0
      subscribed.forEach((memberId, index) => {
        const length = each + (index < extra ? 1 : 0)
        for (let partition = next; partition < next + length; partition++) pairs.push([memberId, {topic, partition}])
        next += length
      })
    }
    return groupedByTopic(members.map((member) => member.memberId), pairs)
  },
}
