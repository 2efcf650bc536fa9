/**
 * The topic catalog's two records in Consul KV and how they are read back.
 *
 * A topic record says what was asked for (partitions, replication, settings); a partition
 * state says who holds the partition now (replicas, leader and its epoch, ISR). Both carry a
 * `version` (a reader refuses a layout it does not know rather than guess) and the controller
 * epoch they were written under. A partition state also carries `partitionEpoch`, bumped by
 * every write to it, controller's or leader's: the leader's ISR change names the partition
 * epoch it read, so a change based on an old read is refused (Kafka's AlterPartition).
 *
 * Parsing is defensive: a value that is not JSON, has a field of the wrong type, or an unknown
 * version, is ignored with a warning naming its key. Consul is shared ground; one bad value
 * must not crash every node that reads it.
 */
import type {Logger} from '../logger.js'
import {parseJson, type PartitionAssignment} from './controller-state.js'

export const CATALOG_RECORD_VERSION = 1

export interface TopicRecord {
  version: typeof CATALOG_RECORD_VERSION
  name: string
  partitions: number
  replicationFactor: number
  minInsyncReplicas: number
  settings: Record<string, string>
  createdAtMs: number
  epoch: number
}

/** A PartitionAssignment (replicas, leader, leaderEpoch, isr, controller epoch) as stored. */
export interface PartitionState extends PartitionAssignment {
  version: typeof CATALOG_RECORD_VERSION
  /** The controller epoch of the last controller write. */
  epoch: number
  /** Bumped by every write to this partition, the controller's and the leader's. */
  partitionEpoch: number
}

/** A partition state as read, with the ModifyIndex a check-and-set must name. */
export interface StoredPartitionState {
  topic: string
  partition: number
  state: PartitionState
  modifyIndex: number
}

export function parseTopicRecord(key: string, value: string | null, logger: Logger): TopicRecord | undefined {
  const parsed = parseRecord(key, value, logger)
  if (!parsed) return undefined
  const {name, partitions, replicationFactor, minInsyncReplicas, settings, createdAtMs, epoch} = parsed
  const valid =
    typeof name === 'string' &&
    isCount(partitions) &&
    isCount(replicationFactor) &&
    isCount(minInsyncReplicas) &&
    isStringMap(settings) &&
    isNatural(createdAtMs) &&
    isNatural(epoch)
  if (!valid) return ignore(key, 'a field is missing or of the wrong type', logger)
  return {version: CATALOG_RECORD_VERSION, name, partitions, replicationFactor, minInsyncReplicas, settings, createdAtMs, epoch}
}

export function parsePartitionState(key: string, value: string | null, logger: Logger): PartitionState | undefined {
  const parsed = parseRecord(key, value, logger)
  if (!parsed) return undefined
  const {replicas, leader, leaderEpoch, isr, epoch, partitionEpoch, leaderIncarnation, isrIncarnations} = parsed
  const valid =
    (leaderIncarnation === undefined || typeof leaderIncarnation === 'string') &&
    (isrIncarnations === undefined || isStringMap(isrIncarnations)) &&
    isNodeList(replicas) &&
    replicas.length > 0 &&
    (leader === null || typeof leader === 'string') &&
    isNatural(leaderEpoch) &&
    isNodeList(isr) &&
    isNatural(epoch) &&
    isNatural(partitionEpoch)
  if (!valid) return ignore(key, 'a field is missing or of the wrong type', logger)
  return {
    version: CATALOG_RECORD_VERSION,
    replicas,
    leader,
    leaderEpoch,
    isr,
    epoch,
    partitionEpoch,
    ...(leaderIncarnation === undefined ? {} : {leaderIncarnation}),
    ...(isrIncarnations === undefined ? {} : {isrIncarnations: {...(isrIncarnations as Record<string, string>)}}),
  }
}

function parseRecord(key: string, value: string | null, logger: Logger): Record<string, unknown> | undefined {
  const parsed = parseJson(value)
  if (parsed === undefined || parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return ignore(key, 'not a JSON object', logger)
  }
  const record = parsed as Record<string, unknown>
  if (record.version !== CATALOG_RECORD_VERSION) {
    return ignore(key, `record version ${JSON.stringify(record.version)}, this node reads version ${CATALOG_RECORD_VERSION}`, logger)
  }
  return record
}

function ignore(key: string, reason: string, logger: Logger): undefined {
  logger.warn('ignoring an unreadable catalog record in Consul', {key, reason})
  return undefined
}

function isNodeList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((item) => typeof item === 'string')
}

function isNatural(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function isCount(value: unknown): value is number {
  return isNatural(value) && value >= 1
}
