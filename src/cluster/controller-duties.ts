/**
 * What the controller does with its role, for now: keep a record of every node it has seen
 * registered (`lignum/<cluster>/nodes/<id>`), so a node that crashed or left stays listed
 * (down) and partition assignments, later, can name replicas that are not up right now.
 *
 * Every write is fenced (controller-state.ts) and carries the epoch; a refused write is not
 * an error, the next snapshot shows why (another controller, or a concurrent change).
 */
import type {ClusterKeys} from './cluster-keys.js'
import type {ConsulApi, KvEntry, ServiceHealth} from './consul-api.js'
import {parseNodeRecord, writeAsController, type NodeRecord} from './controller-state.js'

export interface ControllerTerm {
  sessionId: string
  epoch: number
}

/** Writes a node record for each registered node whose record is missing or out of date. */
export async function recordRegisteredNodes(
  api: ConsulApi,
  keys: ClusterKeys,
  term: ControllerTerm,
  snapshot: {kvEntries: KvEntry[]; services: ServiceHealth[]},
): Promise<number> {
  const entries = new Map(snapshot.kvEntries.map((entry) => [entry.key, entry]))
  let written = 0
  for (const service of snapshot.services) {
    const nodeId = service.meta.nodeId
    if (!nodeId) continue
    const key = keys.node(nodeId)
    const entry = entries.get(key)
    const wanted: NodeRecord = {
      id: nodeId,
      address: service.meta.advertiseAddress ?? `${service.address}:${service.port}`,
      version: service.meta.version ?? '',
      epoch: term.epoch,
    }
    if (recordCurrent(parseNodeRecord(entry?.value ?? null), wanted)) continue
    const accepted = await writeAsController(api, keys, term.sessionId, {key, value: wanted, expectedModifyIndex: entry?.modifyIndex ?? 0})
    if (!accepted) return written
    written += 1
  }
  return written
}

function recordCurrent(current: NodeRecord | undefined, wanted: NodeRecord): boolean {
  return current !== undefined && current.address === wanted.address && current.version === wanted.version
}
