/**
 * The cluster status a node answers with, as `lignum cluster status` shows it: the document
 * printed by --json, and its plain-text rendering for pipes.
 */
import type {ClusterStatusResponse} from '../generated/lignum/v1/lignum.js'
import {renderTable, renderTopicPartitions, summarizeTopic, type TopicSummary} from './topic-table.js'

export interface ClusterStatusNode {
  id: string
  address: string
  status: 'up' | 'down'
  version: string
}

export interface ClusterStatus {
  cluster: string
  /** The controller's node id, or null when the cluster has none. */
  controller: string | null
  controllerEpoch: number
  /** The node that answered. */
  node: string
  mode: 'standalone' | 'cluster'
  consulReachable: boolean
  nodes: ClusterStatusNode[]
  /** The topics the answering node holds, with each partition's leader and offsets. */
  topics: TopicSummary[]
}

export function clusterStatusOf(response: ClusterStatusResponse): ClusterStatus {
  return {
    cluster: response.cluster,
    controller: response.controller === '' ? null : response.controller,
    controllerEpoch: Number(response.controllerEpoch),
    node: response.node,
    mode: response.mode === 'standalone' ? 'standalone' : 'cluster',
    consulReachable: response.consulReachable,
    nodes: response.nodes.map((node) => ({
      id: node.id,
      address: node.address,
      status: node.status === 'up' ? 'up' : 'down',
      version: node.version,
    })),
    topics: response.topics.map((topic) => summarizeTopic(topic)),
  }
}

/** One line about the cluster as a whole, then a row per node; the controller is marked. */
export function renderClusterStatusText(status: ClusterStatus): string {
  const rows = status.nodes.map((node) => [node.id, node.address, node.status, node.version, node.id === status.controller ? 'controller' : ''])
  return [
    clusterHeadline(status),
    ...(status.mode === 'cluster' && !status.consulReachable ? [`warning: node ${status.node} cannot reach Consul; this view may be stale`] : []),
    renderTable(['NODE', 'ADDRESS', 'STATUS', 'VERSION', 'ROLE'], rows),
    ...(status.topics.length > 0 ? ['', renderTopicPartitions(...status.topics)] : []),
  ].join('\n')
}

export function clusterHeadline(status: ClusterStatus): string {
  const controller = status.controller === null ? 'no controller' : `controller ${status.controller} (epoch ${status.controllerEpoch})`
  const up = status.nodes.filter((node) => node.status === 'up').length
  return `cluster ${status.cluster} (${status.mode}): ${controller}, ${up}/${status.nodes.length} nodes up, answered by ${status.node}`
}
