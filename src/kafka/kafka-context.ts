/**
 * What the Kafka listener's APIs need from the node: the same serving context the gRPC
 * server uses (broker, catalog, access control), plus the two things only Kafka's clients
 * ask for: a numeric broker id per node and the address each node's Kafka listener
 * advertises, so a client routes to partition leaders from Metadata.
 */
import type {ServingContext} from '../server/serving-context.js'

export interface KafkaBroker {
  nodeId: string
  brokerId: number
  host: string
  port: number
}

export interface KafkaContext {
  serving: ServingContext
  /** Every node whose Kafka listener is known (itself at least), with its broker id. */
  brokers(): KafkaBroker[]
  /** The broker id Metadata gives a Lignum node id (-1 for none). */
  brokerIdOf(nodeId: string): number
}
