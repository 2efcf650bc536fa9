/**
 * What the transports need from the node they serve: the broker, metrics, logging, and how
 * the node sees its cluster (itself alone when standalone). Declared here so the servers
 * depend on an interface, not on how the node is wired.
 */
import type {Broker} from '../broker/broker.js'
import type {Logger} from '../logger.js'
import type {Metrics} from './metrics.js'

export interface ClusterNodeStatus {
  id: string
  address: string
  status: 'up' | 'down'
  version: string
}

export interface ClusterStatusView {
  mode: 'standalone' | 'cluster'
  cluster: string
  controller: string | null
  controllerEpoch: number
  nodes: ClusterNodeStatus[]
  consulReachable: boolean
}

export interface ServingContext {
  broker: Broker
  metrics: Metrics
  logger: Logger
  nodeId: string
  /** host:port clients reach this node's gRPC at. */
  advertisedAddress: string
  version: string
  requestBytesMax: number
  /** Aborted when the node begins to stop: long polls and subscriptions end early. */
  shutdownSignal: AbortSignal
  clusterView(): ClusterStatusView
  /** False while the node cannot serve (starting, stopping, or its cluster unreachable). */
  ready(): boolean
}
