/**
 * Conversions between the wire's int64 (bigint) and the engine's offsets (safe JS numbers),
 * and between the broker's descriptions and their protobuf messages. A 64-bit value that does
 * not fit a safe integer is refused as a bad request rather than rounded.
 */
import {LignumError} from '../errors.js'
import type {DamagedPartitionDescription, PartitionDescription as BrokerPartition, TopicDescription as BrokerTopic} from '../broker/broker.js'
import type {TopicSettings} from '../broker/topic-store.js'
import type {DamagedPartition, NodeInfo, PartitionDamage, TopicConfig, TopicDescription} from '../generated/lignum/v1/lignum.js'
import {TOPIC_NUMBER_PROTO_FIELDS, topicConfigOf, topicNumberSettingsOf, type TopicNumberSetting} from '../wire/topic-config.js'
import type {ClusterNodeStatus} from './serving-context.js'

export function toSafeNumber(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new LignumError('INVALID_ARGUMENT', `${field}=${value} is outside the range Lignum supports (below 2^53)`)
  }
  return Number(value)
}

/** Who holds a partition, as the cluster's catalog says (node ids). */
export interface PartitionRoles {
  leader: string
  leaderEpoch: number
  replicas: string[]
  isr: string[]
}

/** Without `roles` (standalone, or a partition the catalog has not told about): this node leads alone. */
export function topicToWire(topic: BrokerTopic, leader: string, roles?: (topic: string, partition: number) => PartitionRoles | undefined): TopicDescription {
  const standalone: PartitionRoles = {leader, leaderEpoch: 0, replicas: [leader], isr: [leader]}
  return {
    name: topic.name,
    internal: topic.internal,
    config: settingsToWire(topic.settings),
    partitions: topic.partitions.map((partition) => ({
      partition: partition.partition,
      ...(roles?.(topic.name, partition.partition) ?? standalone),
      logStartOffset: BigInt(partition.logStartOffset),
      logEndOffset: BigInt(partition.logEndOffset),
      highWatermark: BigInt(partition.highWatermark),
      segmentCount: partition.segmentCount,
      sizeBytes: BigInt(partition.sizeBytes),
      state: partition.state,
      damage: partition.damage === undefined ? undefined : damageToWire(partition.damage),
    })),
  }
}

function damageToWire(damage: NonNullable<BrokerPartition['damage']>): PartitionDamage {
  return {kind: damage.kind, reason: damage.reason, file: damage.file, position: BigInt(damage.position), offset: BigInt(damage.offset), repair: damage.repair}
}

/** A node of the cluster view, with the replica lists only up nodes report. */
export function nodeToWire(node: ClusterNodeStatus): NodeInfo {
  return {id: node.id, address: node.address, status: node.status, version: node.version, damagedReplicas: node.damagedReplicas ?? [], unverifiedReplicas: node.unverifiedReplicas ?? []}
}

export function damagedPartitionToWire(damaged: DamagedPartitionDescription): DamagedPartition {
  return {topic: damaged.topic, partition: damaged.partition, damage: damageToWire(damaged.damage)}
}

export function settingsToWire(settings: TopicSettings): TopicConfig {
  return topicConfigOf(settings)
}

export function settingsFromWire(config: TopicConfig | undefined): TopicSettings {
  if (!config) return {}
  const settings: TopicSettings = topicNumberSettingsOf(config, checkedSettingFromWire)
  if (config.flushPolicy !== undefined) settings.flushPolicy = flushPolicyFromText(config.flushPolicy)
  return settings
}

/** Retention may be -1 (no limit); a segment's size and age must be positive. */
function checkedSettingFromWire(value: bigint, setting: TopicNumberSetting): number {
  const field = TOPIC_NUMBER_PROTO_FIELDS[setting]
  return setting === 'retentionMs' || setting === 'retentionBytes' ? limitFromWire(value, field) : positiveFromWire(value, field)
}

export function flushPolicyFromText(text: string): 'always' | 'never' | number {
  if (text === 'always' || text === 'never') return text
  const intervalMs = Number(text)
  if (!Number.isInteger(intervalMs) || intervalMs < 1) {
    throw new LignumError('INVALID_ARGUMENT', `flush policy "${text}" is not valid: use "always", "never" or a number of milliseconds`)
  }
  return intervalMs
}

function limitFromWire(value: bigint, field: string): number {
  const number = toSafeNumber(value, field)
  if (number < -1) throw new LignumError('INVALID_ARGUMENT', `${field} must be -1 (no limit) or positive, not ${number}`)
  return number
}

function positiveFromWire(value: bigint, field: string): number {
  const number = toSafeNumber(value, field)
  if (number < 1) throw new LignumError('INVALID_ARGUMENT', `${field} must be positive, not ${number}`)
  return number
}
