/**
 * Plain-text rendering of topics for terminals and pipes: one aligned row per partition.
 */
import type {PartitionDamage, TopicDescription} from '../generated/lignum/v1/lignum.js'

export interface DamageSummary {
  kind: string
  reason: string
  file: string
  position: number
  offset: number
  repair: string
}

export interface PartitionSummary {
  partition: number
  leader: string
  /** "damaged": offline until repaired (its offsets are -1). */
  state: 'online' | 'damaged'
  damage?: DamageSummary
  logStartOffset: number
  logEndOffset: number
  highWatermark: number
  segmentCount: number
  sizeBytes: number
}

export interface TopicSummary {
  name: string
  partitions: PartitionSummary[]
  config: Record<string, string | number>
}

export function summarizeDamage(damage: PartitionDamage): DamageSummary {
  return {kind: damage.kind, reason: damage.reason, file: damage.file, position: Number(damage.position), offset: Number(damage.offset), repair: damage.repair}
}

export function summarizeTopic(topic: TopicDescription): TopicSummary {
  const config: Record<string, string | number> = {}
  for (const [key, value] of Object.entries(topic.config ?? {})) {
    if (value !== undefined) config[key] = typeof value === 'bigint' ? Number(value) : value
  }
  return {
    name: topic.name,
    config,
    partitions: topic.partitions.map((partition) => ({
      partition: partition.partition,
      leader: partition.leader,
      state: partition.state === 'damaged' ? 'damaged' : 'online',
      ...(partition.damage ? {damage: summarizeDamage(partition.damage)} : {}),
      logStartOffset: Number(partition.logStartOffset),
      logEndOffset: Number(partition.logEndOffset),
      highWatermark: Number(partition.highWatermark),
      segmentCount: partition.segmentCount,
      sizeBytes: Number(partition.sizeBytes),
    })),
  }
}

export function renderTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))]
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)))
  return cells.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n')
}

const PARTITION_HEADER = ['TOPIC', 'PARTITION', 'LEADER', 'START', 'END', 'HIGH-WATERMARK', 'SEGMENTS', 'BYTES']

function partitionRows(topic: TopicSummary): (string | number)[][] {
  return topic.partitions.map((partition) =>
    partition.state === 'damaged'
      ? [topic.name, partition.partition, partition.leader, 'DAMAGED', '-', '-', '-', '-']
      : [topic.name, partition.partition, partition.leader, partition.logStartOffset, partition.logEndOffset, partition.highWatermark, partition.segmentCount, partition.sizeBytes],
  )
}

/** Every partition of the given topics, one aligned row each. */
export function renderPartitionTable(...topics: TopicSummary[]): string {
  return renderTable(PARTITION_HEADER, topics.flatMap((topic) => partitionRows(topic)))
}

/** The partition table, with a line below for each damaged partition. */
export function renderTopicPartitions(...topics: TopicSummary[]): string {
  const damaged = topics.flatMap((topic) => topic.partitions.flatMap((partition) => (partition.damage ? [{topic: topic.name, partition: partition.partition, damage: partition.damage}] : [])))
  const table = renderPartitionTable(...topics)
  return damaged.length === 0 ? table : `${table}\n\n${renderDamagedPartitions(damaged)}`
}

/** One line per partition held offline: where its files are damaged and the offline repair. */
export function renderDamagedPartitions(damaged: {topic: string; partition: number; damage: DamageSummary}[]): string {
  return damaged
    .map(({topic, partition, damage}) => `${topic}-${partition} is DAMAGED and offline: ${damage.file} at position ${damage.position} (offset ${damage.offset}): ${damage.reason}; stop the node, then repair with: ${damage.repair}`)
    .join('\n')
}
