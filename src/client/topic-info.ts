/**
 * Topics as the public client describes them: plain numbers and strings, converted once from
 * the wire's messages (bigint offsets and sizes, optional sub-messages). Offsets and sizes fit
 * a number: 2^53 records or bytes is far past any partition a node holds.
 */
import {assert} from '../assert.js'
import type {PartitionDescription, TopicConfig, TopicDescription} from '../generated/lignum/v1/lignum.js'
import {topicNumberSettingsOf} from '../wire/topic-config.js'

export {topicConfigOf} from '../wire/topic-config.js'

/** A topic's settings; absent ones take the node's defaults. */
export interface TopicSettings {
  retentionMs?: number
  retentionBytes?: number
  segmentBytes?: number
  segmentMs?: number
  /** "always", "never", or fdatasync every N ms. */
  flushPolicy?: string
  uncleanLeaderElection?: boolean
}

/** Where a topic's copies go (cluster mode; a standalone node ignores it). */
export interface TopicReplication {
  replicationFactor?: number
  minInsyncReplicas?: number
}

export interface PartitionInfo {
  partition: number
  /** The node id of its leader. */
  leader: string
  leaderEpoch: number
  replicas: string[]
  isr: string[]
  logStartOffset: number
  logEndOffset: number
  highWatermark: number
  segmentCount: number
  sizeBytes: number
  /** "online", or why it is not (e.g. "damaged"). */
  state: string
}

export interface TopicInfo {
  name: string
  /** Internal topics (`__*`) belong to the node. */
  internal: boolean
  settings: TopicSettings
  partitions: PartitionInfo[]
}

export function topicInfoOf(description: TopicDescription): TopicInfo {
  return {
    name: description.name,
    internal: description.internal,
    settings: topicSettingsOf(description.config ?? {}),
    partitions: description.partitions.map(partitionInfoOf),
  }
}

function partitionInfoOf(partition: PartitionDescription): PartitionInfo {
  return {
    partition: partition.partition,
    leader: partition.leader,
    leaderEpoch: partition.leaderEpoch,
    replicas: partition.replicas,
    isr: partition.isr,
    logStartOffset: safeNumber(partition.logStartOffset),
    logEndOffset: safeNumber(partition.logEndOffset),
    highWatermark: safeNumber(partition.highWatermark),
    segmentCount: partition.segmentCount,
    sizeBytes: safeNumber(partition.sizeBytes),
    state: partition.state,
  }
}

function topicSettingsOf(config: TopicConfig): TopicSettings {
  const settings: TopicSettings = topicNumberSettingsOf(config, safeNumber)
  if (config.flushPolicy !== undefined) settings.flushPolicy = config.flushPolicy
  if (config.uncleanLeaderElection !== undefined) settings.uncleanLeaderElection = config.uncleanLeaderElection
  return settings
}

function safeNumber(value: bigint): number {
  const number = Number(value)
  assert(Number.isSafeInteger(number), `a node sent ${value}, past the offsets and sizes a number holds exactly`)
  return number
}
