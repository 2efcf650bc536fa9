/**
 * Where `lignum groups seek` moves each partition: the partitions named with -t (every
 * partition of each topic the group has committed offsets for, without -t), and per partition
 * the offset `--to` resolves to, asked of its leader (Kafka's ListOffsets). An absolute offset
 * outside a partition's log is clamped into it with a warning, as kafka-consumer-groups does.
 */
import type {WireClient} from '../client/index.js'
import {LignumError} from '../errors.js'
import type {SeekTarget, TopicSelection} from './seek-target.js'

export interface SeekPlan {
  offsets: {topic: string; partition: number; offset: number}[]
  warnings: string[]
}

// Partitions are resolved this many at a time: one ListOffsets each, without flooding a node.
const RESOLVE_CONCURRENCY_MAX = 16

export async function planSeek(client: WireClient, group: string, selections: TopicSelection[], target: SeekTarget): Promise<SeekPlan> {
  const chosen = selections.length > 0 ? selections : await topicsWithOffsets(client, group)
  // Keyed, so a partition named twice (-t orders -t orders:0) moves once.
  const named = new Map<string, {topic: string; partition: number}>()
  for (const selection of chosen) {
    const count = await client.partitionCount(selection.topic, false)
    for (const partition of selection.partitions ?? range(count)) {
      if (partition >= count) throw new LignumError('INVALID_ARGUMENT', `topic "${selection.topic}" has ${count} partition(s), 0 to ${count - 1}: there is no partition ${partition}`)
      named.set(`${selection.topic}\u0000${partition}`, {topic: selection.topic, partition})
    }
  }
  const partitions = [...named.values()]
  const warnings: string[] = []
  const offsets: SeekPlan['offsets'] = []
  for (let start = 0; start < partitions.length; start += RESOLVE_CONCURRENCY_MAX) {
    const slice = partitions.slice(start, start + RESOLVE_CONCURRENCY_MAX)
    offsets.push(...(await Promise.all(slice.map(async (entry) => ({...entry, offset: await resolveTarget(client, entry.topic, entry.partition, target, warnings)})))))
  }
  return {offsets, warnings}
}

async function topicsWithOffsets(client: WireClient, group: string): Promise<TopicSelection[]> {
  const description = await client.describeGroup(group).catch((error: unknown) => {
    if (error instanceof LignumError && error.code === 'NOT_FOUND') throw new LignumError('NOT_FOUND', error.message, {hint: 'to give a new group offsets, name the topics with -t TOPIC'})
    throw error
  })
  const topics = [...new Set([...description.offsets.map((entry) => entry.topic), ...description.members.flatMap((member) => member.assignment.map((entry) => entry.topic))])]
  return topics.sort().map((topic) => ({topic}))
}

async function resolveTarget(client: WireClient, topic: string, partition: number, target: SeekTarget, warnings: string[]): Promise<number> {
  if (target.kind === 'beginning' || target.kind === 'end') return client.listOffset(topic, partition, target.kind)
  if (target.kind === 'time') return client.listOffset(topic, partition, {timestampMs: target.timestampMs})
  const [logStart, logEnd] = await Promise.all([client.listOffset(topic, partition, 'beginning'), client.listOffset(topic, partition, 'end')])
  const clamped = Math.min(Math.max(target.offset, logStart), logEnd)
  if (clamped !== target.offset) warnings.push(`offset ${target.offset} is outside ${topic}-${partition} (${logStart} to ${logEnd}): moving to ${clamped}`)
  return clamped
}

function range(count: number): number[] {
  return Array.from({length: count}, (_, index) => index)
}
