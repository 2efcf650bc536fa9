/**
 * Wires the Kafka listener onto a node: the APIs it serves, over the node's serving context,
 * and the broker ids and addresses Metadata gives out.
 *
 * Standalone only, for now: a cluster's Metadata must name every node's Kafka listener, which
 * the nodes do not register in Consul yet, and a Metadata naming only this node would send
 * every client here for partitions other nodes lead. Asked for in cluster mode, the node
 * refuses to start rather than misroute (refuseKafkaInCluster, its first step).
 */
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import type {ServingContext} from '../server/serving-context.js'
import {fetchApi} from './apis/fetch.js'
import {initProducerIdApi} from './apis/init-producer-id.js'
import {listOffsetsApi} from './apis/list-offsets.js'
import {metadataApi} from './apis/metadata.js'
import {produceApi} from './apis/produce.js'
import {brokerIdOf} from './broker-ids.js'
import type {KafkaApi} from './kafka-api.js'
import type {KafkaBroker, KafkaContext} from './kafka-context.js'
import {KafkaListener} from './kafka-listener.js'
import {servingMetadataTopics} from './metadata-topics.js'

export interface KafkaServingOptions {
  context: ServingContext
  host: string
  port: number
  /** host:port clients reach this listener at; the listen address (or 127.0.0.1 for 0.0.0.0) when unset. */
  advertiseAddress: string | undefined
  requestBytesMax: number
  logger: Logger
}

export async function startKafkaListener(options: KafkaServingOptions): Promise<KafkaListener<KafkaContext>> {
  const {context} = options
  let advertised: KafkaBroker | undefined
  const kafkaContext: KafkaContext = {
    serving: context,
    brokers: () => (advertised ? [advertised] : []),
    brokerIdOf,
  }
  const configured = configuredAdvertisement(options.advertiseAddress)
  const apis: KafkaApi<KafkaContext>[] = [produceApi(), fetchApi(), listOffsetsApi(), metadataApi(servingMetadataTopics(context)), initProducerIdApi()]
  const listener = await KafkaListener.start({host: options.host, port: options.port, apis, context: kafkaContext, logger: options.logger, requestBytesMax: options.requestBytesMax})
  const listening = {host: options.host === '0.0.0.0' ? '127.0.0.1' : options.host, port: listener.port}
  advertised = {nodeId: context.nodeId, brokerId: brokerIdOf(context.nodeId), ...(configured ?? listening)}
  return listener
}

function configuredAdvertisement(advertiseAddress: string | undefined): {host: string; port: number} | undefined {
  if (advertiseAddress) {
    const separator = advertiseAddress.lastIndexOf(':')
    const advertisedPort = Number(advertiseAddress.slice(separator + 1))
    if (separator <= 0 || !Number.isInteger(advertisedPort) || advertisedPort <= 0 || advertisedPort > 65_535) {
      throw new LignumError('CONFIG', `kafkaAdvertiseAddress "${advertiseAddress}" is not host:port, e.g. kafka.example.com:9092`)
    }
    return {host: advertiseAddress.slice(0, separator), port: advertisedPort}
  }
  return undefined
}

/** The first step of a node's start: nothing is touched before a configuration it cannot serve is refused. */
export function refuseKafkaInCluster(config: {kafkaPort: number | undefined; consul: string | undefined}): void {
  if (config.kafkaPort !== undefined && config.consul !== undefined) {
    throw new LignumError('CONFIG', 'the Kafka listener (kafkaPort) serves standalone nodes only in this version: cluster nodes do not yet advertise their Kafka listeners to each other; unset kafkaPort with consul')
  }
}
