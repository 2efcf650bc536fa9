/**
 * The controller's state in Consul KV: its records, how they are read back, and the fencing
 * that makes sure only the current controller writes them.
 *
 * Fencing has two halves. In Consul, every controller write is a transaction that first
 * checks the controller key is still locked by the writer's session, then writes with
 * check-and-set on the target's ModifyIndex: a node that lost the lock cannot write, even
 * if it still believes it is controller. In the nodes, every record carries the controller
 * epoch it was written under, each node remembers the highest epoch it has seen (EpochGuard)
 * and refuses records from an older one, which covers a Consul rebuilt from scratch.
 */
import {LignumError} from '../errors.js'
import type {ClusterKeys} from './cluster-keys.js'
import {encodeValue, type ConsulApi, type KvEntry, type TxnKvOperation} from './consul-api.js'

export interface ControllerRecord {
  nodeId: string
  address: string
  epoch: number
}

export interface NodeRecord {
  id: string
  address: string
  version: string
  epoch: number
}

/** A partition's assignment, shaped for replication (written by the controller, later). */
export interface PartitionAssignment {
  replicas: string[]
  leader: string | null
  leaderEpoch: number
  isr: string[]
  epoch: number
}

/** Remembers the highest controller epoch seen and refuses anything older. */
export class EpochGuard {
  private highestEpoch = 0

  get highest(): number {
    return this.highestEpoch
  }

  observe(epoch: number): void {
    if (epoch > this.highestEpoch) this.highestEpoch = epoch
  }

  /** Throws STALE_CONTROLLER_EPOCH for a record written under an epoch older than one seen. */
  check(epoch: number, what: string): void {
    if (epoch < this.highestEpoch) {
      throw new LignumError(
        'STALE_CONTROLLER_EPOCH',
        `refusing ${what} written under controller epoch ${epoch}: epoch ${this.highestEpoch} has been seen`,
      )
    }
    this.observe(epoch)
  }
}

export function parseControllerRecord(value: string | null): ControllerRecord | undefined {
  const parsed = parseJson(value) as Partial<ControllerRecord> | undefined
  if (!parsed || typeof parsed.nodeId !== 'string' || !isEpoch(parsed.epoch)) return undefined
  return {nodeId: parsed.nodeId, address: String(parsed.address ?? ''), epoch: parsed.epoch}
}

export function parseNodeRecord(value: string | null): NodeRecord | undefined {
  const parsed = parseJson(value) as Partial<NodeRecord> | undefined
  if (!parsed || typeof parsed.id !== 'string' || !isEpoch(parsed.epoch)) return undefined
  return {id: parsed.id, address: String(parsed.address ?? ''), version: String(parsed.version ?? ''), epoch: parsed.epoch}
}

export function parsePartitionAssignment(value: string | null): PartitionAssignment | undefined {
  const parsed = parseJson(value) as Partial<PartitionAssignment> | undefined
  if (!parsed || !isEpoch(parsed.epoch) || !isEpoch(parsed.leaderEpoch)) return undefined
  if (!isNodeIdList(parsed.replicas) || !isNodeIdList(parsed.isr)) return undefined
  const leader = typeof parsed.leader === 'string' ? parsed.leader : null
  return {replicas: parsed.replicas, leader, leaderEpoch: parsed.leaderEpoch, isr: parsed.isr, epoch: parsed.epoch}
}

export function parseEpochCounter(value: string | null): number {
  const epoch = Number(value ?? 0)
  return isEpoch(epoch) ? epoch : 0
}

/**
 * Writes one controller record: only if `sessionId` still holds the controller lock, and
 * only if the key is still at `expectedModifyIndex` (0: must not exist). Resolves false when
 * Consul refused it (lock lost or a concurrent write), so the caller re-reads and decides.
 */
export async function writeAsController<Record extends {epoch: number}>(
  api: ConsulApi,
  keys: ClusterKeys,
  sessionId: string,
  write: {key: string; value: Record; expectedModifyIndex: number},
): Promise<boolean> {
  const operations: TxnKvOperation[] = [
    {KV: {Verb: 'check-session', Key: keys.controller, Session: sessionId}},
    {KV: {Verb: 'cas', Key: write.key, Value: encodeValue(JSON.stringify(write.value)), Index: write.expectedModifyIndex}},
  ]
  const result = await api.transaction(operations)
  return result.ok
}

/**
 * The operations that take the controller lock and bump the epoch in one transaction, so
 * there is never a controller without a fresh epoch, nor an epoch bumped without the lock.
 */
export function acquireOperations(
  keys: ClusterKeys,
  sessionId: string,
  record: ControllerRecord,
  epochEntry: KvEntry | undefined,
): TxnKvOperation[] {
  return [
    {KV: {Verb: 'lock', Key: keys.controller, Value: encodeValue(JSON.stringify(record)), Session: sessionId}},
    {KV: {Verb: 'cas', Key: keys.controllerEpoch, Value: encodeValue(String(record.epoch)), Index: epochEntry?.modifyIndex ?? 0}},
  ]
}

function isNodeIdList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}

function isEpoch(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function parseJson(value: string | null): unknown {
  if (value === null) return undefined
  try {
    return JSON.parse(value)
  } catch {
    return undefined
  }
}
