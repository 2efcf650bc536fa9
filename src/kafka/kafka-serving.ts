/**
 * Wires the Kafka listener onto a node: the APIs it serves, over the node's serving context,
 * and the brokers Metadata names: every up node that registered a Kafka listener (its address
 * travels in its Consul registration), each with its broker id (broker-ids.ts).
 *
 * The listener starts before the node joins its cluster, so that its address can be
 * registered; until the node is ready it closes every connection it accepts (a Kafka client
 * retries), so no request is answered from a node that does not yet know its cluster.
 */
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import type {ServingContext} from '../server/serving-context.js'
import type {ListenerTls} from '../server/tls-listeners.js'
import {fetchApi} from './apis/fetch.js'
import {findCoordinatorApi} from './apis/find-coordinator.js'
import {heartbeatApi} from './apis/heartbeat.js'
import {initProducerIdApi} from './apis/init-producer-id.js'
import {joinGroupApi} from './apis/join-group.js'
import {leaveGroupApi} from './apis/leave-group.js'
import {listOffsetsApi} from './apis/list-offsets.js'
import {metadataApi} from './apis/metadata.js'
import {offsetCommitApi} from './apis/offset-commit.js'
import {offsetFetchApi} from './apis/offset-fetch.js'
import {offsetForLeaderEpochApi} from './apis/offset-for-leader-epoch.js'
import {produceApi} from './apis/produce.js'
import {syncGroupApi} from './apis/sync-group.js'
import {topicAdminApis} from './apis/topic-admin-apis.js'
import {brokerIdOf} from './broker-ids.js'
import {groupAdminApis} from './apis/group-admin-apis.js'
import type {KafkaApi} from './kafka-api.js'
import type {KafkaBroker, KafkaContext} from './kafka-context.js'
import {KafkaListener} from './kafka-listener.js'
import {kafkaListenerTlsOf} from './kafka-tls.js'
import {servingMetadataTopics} from './metadata-topics.js'

export interface KafkaServingOptions {
  context: ServingContext
  host: string
  port: number
  /** host:port clients reach this listener at; the listen address (or 127.0.0.1 for 0.0.0.0) when unset. */
  advertiseAddress: string | undefined
  requestBytesMax: number
  logger: Logger
  /** The node's TLS, which the listener serves too (kafka-tls.ts); plaintext when undefined. */
  tls?: ListenerTls
}

export interface KafkaServing {
  port: number
  /** What this node registers and Metadata names it by. */
  advertisedAddress: string
  stop(): Promise<void>
}

export async function startKafkaListener(options: KafkaServingOptions): Promise<KafkaServing> {
  const {context, logger} = options
  const configured = options.advertiseAddress === undefined ? undefined : parseHostPort(options.advertiseAddress)
  const kafkaContext: KafkaContext = {serving: context, brokers: () => brokersOf(context, logger), brokerIdOf}
  const apis: KafkaApi<KafkaContext>[] = [produceApi(), fetchApi(), listOffsetsApi(), metadataApi(servingMetadataTopics(context)), offsetCommitApi(), offsetFetchApi(), findCoordinatorApi(), joinGroupApi(), heartbeatApi(), leaveGroupApi(), syncGroupApi(), initProducerIdApi(), ...topicAdminApis(), ...groupAdminApis(), offsetForLeaderEpochApi()]
  const listener = await KafkaListener.start({host: options.host, port: options.port, apis, context: kafkaContext, logger, requestBytesMax: options.requestBytesMax, accepting: () => context.ready(), tls: options.tls && kafkaListenerTlsOf(options.tls)})
  const listening = {host: options.host === '0.0.0.0' ? '127.0.0.1' : options.host, port: listener.port}
  const advertised = configured ?? listening
  return {port: listener.port, advertisedAddress: `${advertised.host}:${advertised.port}`, stop: () => listener.stop()}
}

const collisionsLogged = new Set<string>()

/** The up nodes with a Kafka listener; two nodes whose ids give one broker id would misroute clients, so the second is left out and named. */
function brokersOf(context: ServingContext, logger: Logger): KafkaBroker[] {
  const byId = new Map<number, KafkaBroker>()
  for (const node of context.clusterView().nodes) {
    if (node.status !== 'up' || node.kafkaAddress === undefined) continue
    const broker = {nodeId: node.id, brokerId: brokerIdOf(node.id), ...parseHostPort(node.kafkaAddress)}
    const taken = byId.get(broker.brokerId)
    if (taken === undefined) byId.set(broker.brokerId, broker)
    else warnCollisionOnce(logger, taken.nodeId, node.id, broker.brokerId)
  }
  return [...byId.values()]
}

function warnCollisionOnce(logger: Logger, kept: string, left: string, brokerId: number): void {
  const key = `${kept}/${left}`
  if (collisionsLogged.has(key)) return
  collisionsLogged.add(key)
  logger.error(`nodes ${kept} and ${left} both have Kafka broker id ${brokerId} (the number their ids end with); Kafka clients are not told of ${left}: give nodes ids that end in different numbers`)
}

function parseHostPort(address: string): {host: string; port: number} {
  const separator = address.lastIndexOf(':')
  const port = Number(address.slice(separator + 1))
  if (separator <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new LignumError('CONFIG', `kafkaAdvertiseAddress "${address}" is not host:port, e.g. kafka.example.com:9092`)
  }
  return {host: address.slice(0, separator), port}
}
