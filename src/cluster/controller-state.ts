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
import {assert} from '../assert.js'
import {LignumError} from '../errors.js'
import type {ClusterKeys} from './cluster-keys.js'
import {encodeValue, type ConsulApi, type KvEntry, type TxnKvOperation} from './consul-api.js'

// Consul refuses a transaction of more operations than this (txn_max_req_len aside).
export const TXN_OPERATIONS_MAX = 64
// Consul's default limit on one KV value (kv_max_value_size): 512 KiB.
export const VALUE_BYTES_MAX = 512 * 1024

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

/** A partition's assignment, shaped for replication; stored as catalog-records.ts's PartitionState. */
export interface PartitionAssignment {
  replicas: string[]
  leader: string | null
  leaderEpoch: number
  isr: string[]
  epoch: number
  /**
   * The process of the leader's node the leadership was given to (its registration's
   * incarnation): a leader that restarted is a new incarnation, and its old leadership ended.
   * Absent in states written before it was recorded.
   */
  leaderIncarnation?: string
  /**
   * For ISR members, the incarnation each joined the ISR with (isr-incarnations.ts); a member
   * without one (or a state without the map, written before they were recorded) is not checked.
   */
  isrIncarnations?: Record<string, string>
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
  return transactAsController(api, keys, {sessionId}, [casOperation(write.key, write.value, write.expectedModifyIndex)])
}

/** What fences a controller write: its lock's session and, when known, its epoch's index. */
export interface ControllerFence {
  sessionId: string
  epochModifyIndex?: number
}

/**
 * Runs `operations` in one transaction behind the controller checks (the lock is held by the
 * session; the epoch counter is still the one this term set), all or nothing. Resolves false
 * when Consul refused it (lock lost, a newer term, or one check-and-set failed).
 */
export async function transactAsController(
  api: ConsulApi,
  keys: ClusterKeys,
  fence: ControllerFence,
  operations: TxnKvOperation[],
): Promise<boolean> {
  const checks: TxnKvOperation[] = [{KV: {Verb: 'check-session', Key: keys.controller, Session: fence.sessionId}}]
  if (fence.epochModifyIndex !== undefined) {
    checks.push({KV: {Verb: 'check-index', Key: keys.controllerEpoch, Index: fence.epochModifyIndex}})
  }
  const all = [...checks, ...operations]
  assert(all.length <= TXN_OPERATIONS_MAX, `a Consul transaction of ${all.length} operations exceeds Consul's ${TXN_OPERATIONS_MAX}`)
  const result = await api.transaction(all)
  return result.ok
}

/** A check-and-set of one JSON record (index 0: the key must not exist yet). */
export function casOperation(key: string, value: {epoch: number}, expectedModifyIndex: number): TxnKvOperation {
  return {KV: {Verb: 'cas', Key: key, Value: encodeRecord(key, value), Index: expectedModifyIndex}}
}

/** Deletes one key only if it is still at `expectedModifyIndex`. */
export function deleteCasOperation(key: string, expectedModifyIndex: number): TxnKvOperation {
  return {KV: {Verb: 'delete-cas', Key: key, Index: expectedModifyIndex}}
}

export function deleteTreeOperation(prefix: string): TxnKvOperation {
  return {KV: {Verb: 'delete-tree', Key: prefix}}
}

/** JSON, base64 for a transaction; a value Consul would refuse is refused here, with its size. */
export function encodeRecord(key: string, value: unknown): string {
  const text = JSON.stringify(value)
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > VALUE_BYTES_MAX) {
    throw new LignumError('INVALID_ARGUMENT', `the record for ${key} is ${bytes} bytes, over Consul's limit of ${VALUE_BYTES_MAX}: use fewer or shorter settings`)
  }
  return encodeValue(text)
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

export function parseJson(value: string | null): unknown {
  if (value === null) return undefined
  try {
    return JSON.parse(value)
  } catch {
    return undefined
  }
}
