/**
 * What a node believes the cluster looks like, computed from what it last read from Consul:
 * the KV tree of the cluster (controller lock, epoch, node records) and the health of the
 * registered services. Pure, so every node that has read the same Consul state shows the
 * same view.
 *
 * A node is listed if the controller ever recorded it or it is registered now; it is up while
 * its registration's checks (its own TTL check and the agent's) all pass, down otherwise.
 * The controller is the holder of the lock; a lock nobody holds means no controller.
 */
import type {ClusterKeys} from './cluster-keys.js'
import type {KvEntry, ServiceHealth} from './consul-api.js'
import {INCARNATION_META, replicaHealthFromMeta} from './replica-health.js'
import {parseControllerRecord, parseEpochCounter, parseNodeRecord} from './controller-state.js'
import {KAFKA_ADDRESS_META} from './node-registration.js'

export interface ClusterNodeView {
  id: string
  address: string
  status: 'up' | 'down'
  version: string
  /** host:port of its Kafka listener, when it has one (node-registration.ts's KAFKA_ADDRESS_META). */
  kafkaAddress?: string
  /** Partition ids whose replica on this node its node reports damaged (replica-health.ts); up nodes only. */
  damagedReplicas?: string[]
  /** Partition ids whose replica on this node is not verified since it started. */
  unverifiedReplicas?: string[]
  /** The process the node registered from (replica-health.ts's INCARNATION_META); up nodes only. */
  incarnation?: string
}

export interface ClusterView {
  cluster: string
  controller: string | null
  controllerEpoch: number
  nodes: ClusterNodeView[]
  consulReachable: boolean
}

export interface ConsulSnapshot {
  kvEntries: KvEntry[]
  services: ServiceHealth[]
  consulReachable: boolean
}

export function buildClusterView(keys: ClusterKeys, snapshot: ConsulSnapshot): ClusterView {
  const byKey = new Map(snapshot.kvEntries.map((entry) => [entry.key, entry]))
  const controllerEntry = byKey.get(keys.controller)
  const controllerRecord = parseControllerRecord(controllerEntry?.value ?? null)
  const epochCounter = parseEpochCounter(byKey.get(keys.controllerEpoch)?.value ?? null)
  const held = Boolean(controllerEntry?.session) && controllerRecord !== undefined
  return {
    cluster: keys.cluster,
    controller: held ? controllerRecord!.nodeId : null,
    controllerEpoch: Math.max(epochCounter, controllerRecord?.epoch ?? 0),
    nodes: listNodes(keys, snapshot),
    consulReachable: snapshot.consulReachable,
  }
}

function listNodes(keys: ClusterKeys, snapshot: ConsulSnapshot): ClusterNodeView[] {
  const nodes = new Map<string, ClusterNodeView>()
  for (const entry of snapshot.kvEntries) {
    if (keys.nodeIdOfKey(entry.key) === undefined) continue
    const record = parseNodeRecord(entry.value)
    if (record) nodes.set(record.id, {id: record.id, address: record.address, status: 'down', version: record.version})
  }
  for (const service of snapshot.services) {
    const id = service.meta.nodeId
    if (!id) continue
    nodes.set(id, {
      id,
      address: service.meta.advertiseAddress ?? `${service.address}:${service.port}`,
      status: service.passing ? 'up' : 'down',
      version: service.meta.version ?? '',
      ...(service.meta[KAFKA_ADDRESS_META] ? {kafkaAddress: service.meta[KAFKA_ADDRESS_META]} : {}),
      ...replicaHealthFromMeta(service.meta),
      ...(service.meta[INCARNATION_META] ? {incarnation: service.meta[INCARNATION_META]} : {}),
    })
  }
  return [...nodes.values()].sort((left, right) => left.id.localeCompare(right.id))
}
