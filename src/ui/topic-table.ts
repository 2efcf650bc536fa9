/**
 * Plain-text rendering of topics for terminals and pipes: one aligned row per partition.
 */
import type {TopicDescription} from '../generated/lignum/v1/lignum.js'

export interface TopicSummary {
  name: string
  partitions: {partition: number; leader: string; logStartOffset: number; logEndOffset: number; highWatermark: number; segmentCount: number; sizeBytes: number}[]
  config: Record<string, string | number>
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
  return topic.partitions.map((partition) => [topic.name, partition.partition, partition.leader, partition.logStartOffset, partition.logEndOffset, partition.highWatermark, partition.segmentCount, partition.sizeBytes])
}

/** Every partition of the given topics, one aligned row each. */
export function renderTopicPartitions(...topics: TopicSummary[]): string {
  return renderTable(PARTITION_HEADER, topics.flatMap((topic) => partitionRows(topic)))
}
