/**
 * `lignum groups describe`'s rows: per partition the group has an offset for or a member holds,
 * the committed offset, where the partition's log ends (asked of its leader) and the lag
 * between them, with the member that holds it. A partition whose topic is gone shows no end.
 */
import type {GroupDescription, WireClient} from '../client/index.js'
import {LignumError} from '../errors.js'

export interface GroupPartitionLag {
  topic: string
  partition: number
  /** Null where the group has not committed (a member holds the partition only). */
  committedOffset: number | null
  /** Null where the partition no longer exists. */
  logEndOffset: number | null
  /** Records between the committed offset and the log end; null when either is unknown. */
  lag: number | null
  /** The member holding the partition in the current generation, or null. */
  memberId: string | null
  clientId: string | null
  host: string | null
}

export async function partitionLags(client: WireClient, description: GroupDescription): Promise<GroupPartitionLag[]> {
  const holders = new Map<string, GroupDescription['members'][number]>()
  for (const member of description.members) {
    for (const entry of member.assignment) for (const partition of entry.partitions) holders.set(keyOf(entry.topic, partition), member)
  }
  const committed = new Map(description.offsets.map((entry) => [keyOf(entry.topic, entry.partition), entry.offset]))
  const keys = [...new Set([...committed.keys(), ...holders.keys()])]
  const rows = await Promise.all(
    keys.map(async (key) => {
      const [topic, partitionText] = key.split('\u0000') as [string, string]
      const partition = Number(partitionText)
      const logEndOffset = await logEndOf(client, topic, partition)
      const committedOffset = committed.get(key) ?? null
      const holder = holders.get(key)
      return {
        topic,
        partition,
        committedOffset,
        logEndOffset,
        lag: committedOffset === null || logEndOffset === null ? null : Math.max(0, logEndOffset - committedOffset),
        memberId: holder?.memberId ?? null,
        clientId: holder?.clientId ?? null,
        host: holder?.host ?? null,
      }
    }),
  )
  return rows.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
}

async function logEndOf(client: WireClient, topic: string, partition: number): Promise<number | null> {
  try {
    return await client.listOffset(topic, partition, 'end')
  } catch (error) {
    // Offsets outlive their topic: the row stays, without an end.
    if (error instanceof LignumError && (error.code === 'UNKNOWN_TOPIC' || error.code === 'NOT_FOUND')) return null
    throw error
  }
}

function keyOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}
