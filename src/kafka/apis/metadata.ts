/**
 * Metadata (key 3), versions 0-12: the brokers, the controller and, per topic, who leads
 * each partition, so a client sends produce and fetch requests to leaders.
 *
 *   Request v0:     topics ARRAY[name STRING]  (empty: every topic)
 *   Request v1-v3:  topics nullable ARRAY (null: every topic, empty: none)
 *   Request v4-v7:  v1, then allow_auto_topic_creation BOOLEAN
 *   Request v8:     v4, then include_cluster_authorized_operations BOOLEAN,
 *                   include_topic_authorized_operations BOOLEAN
 *   Request v9:     v8 flexible (compact types, tagged fields)
 *   Request v10:    topics[] = topic_id UUID, name COMPACT_NULLABLE_STRING
 *   Request v11-12: v10 without include_cluster_authorized_operations
 *
 *   Response:       throttle_time_ms INT32 (v3+),
 *                   brokers ARRAY[node_id INT32, host STRING, port INT32, rack NULLABLE_STRING (v1+)],
 *                   cluster_id NULLABLE_STRING (v2+), controller_id INT32 (v1+),
 *                   topics ARRAY[error_code INT16, name STRING, topic_id UUID (v10+),
 *                     is_internal BOOLEAN (v1+),
 *                     partitions ARRAY[error_code INT16, partition_index INT32, leader_id INT32,
 *                       leader_epoch INT32 (v7+), replica_nodes ARRAY[INT32],
 *                       isr_nodes ARRAY[INT32], offline_replicas ARRAY[INT32] (v5+)],
 *                     topic_authorized_operations INT32 (v8+)],
 *                   cluster_authorized_operations INT32 (v8-v10)
 *
 * Lignum has no topic ids: topic_id is the zero UUID, which Kafka's clients read as "none";
 * that is also why Fetch is served only up to the last version that names topics. A topic
 * asked for by id alone is UNKNOWN_TOPIC_OR_PARTITION. Authorized operations are not
 * computed (Kafka's "not requested" value, INT32_MIN).
 */
import type {TopicDescription} from '../../generated/lignum/v1/lignum.js'
import {LignumError} from '../../errors.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {kafkaErrorCodeOf} from '../kafka-errors.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {KafkaReader} from '../protocol/kafka-reader.js'
import type {KafkaWriter} from '../protocol/kafka-writer.js'

const ZERO_UUID = Buffer.alloc(16)
// Kafka's value for "authorized operations were not asked for".
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648

interface MetadataRequest {
  /** null: every topic. */
  topics: string[] | null
  allowAutoTopicCreation: boolean
}

export interface MetadataTopicsSource {
  /** The topics asked for (every one the principal may describe when null), auto-created when allowed. */
  metadataTopics(principal: string, names: string[] | null, allowAutoTopicCreation: boolean): Promise<TopicAnswer[]>
}

export type TopicAnswer = {name: string; description?: TopicDescription; error?: LignumError}

export function metadataApi(topics: MetadataTopicsSource): KafkaApi<KafkaContext> {
  return {
    key: 3,
    name: 'Metadata',
    minVersion: 0,
    maxVersion: 12,
    firstFlexibleVersion: 9,
    async handle(request, response) {
      const version = request.header.apiVersion
      const parsed = readMetadataRequest(request.body, version, request.flexible)
      const answers = await topics.metadataTopics(request.principal, parsed.topics, parsed.allowAutoTopicCreation)
      writeMetadataResponse(response, version, request.flexible, request.context, answers)
      return true
    },
  }
}

function readMetadataRequest(body: KafkaReader, version: number, flexible: boolean): MetadataRequest {
  const topics = body.flexibleNullableArray(flexible, (reader) => {
    if (version >= 10) reader.uuid()
    const name = version >= 10 ? reader.compactNullableString() : reader.flexibleString(flexible)
    if (flexible) reader.skipTaggedFields()
    return name ?? ''
  })
  const allowAutoTopicCreation = version >= 4 ? body.boolean() : true
  if (version >= 8 && version <= 10) body.boolean()
  if (version >= 8) body.boolean()
  if (flexible) body.skipTaggedFields()
  // v0 spelled "every topic" as an empty array.
  return {topics: version === 0 && topics?.length === 0 ? null : topics, allowAutoTopicCreation}
}

function writeMetadataResponse(response: KafkaWriter, version: number, flexible: boolean, context: KafkaContext, answers: TopicAnswer[]): void {
  if (version >= 3) response.int32(0)
  response.flexibleArray(flexible, context.brokers(), (writer, broker) => {
    writer.int32(broker.brokerId).flexibleString(flexible, broker.host).int32(broker.port)
    if (version >= 1) writer.flexibleString(flexible, null)
    if (flexible) writer.emptyTaggedFields()
  })
  const view = context.serving.clusterView()
  if (version >= 2) response.flexibleString(flexible, view.cluster)
  if (version >= 1) response.int32(view.controller === null ? -1 : context.brokerIdOf(view.controller))
  response.flexibleArray(flexible, answers, (writer, answer) => writeTopic(writer, version, flexible, context, answer))
  if (version >= 8 && version <= 10) response.int32(AUTHORIZED_OPERATIONS_OMITTED)
  if (flexible) response.emptyTaggedFields()
}

function writeTopic(writer: KafkaWriter, version: number, flexible: boolean, context: KafkaContext, answer: TopicAnswer): void {
  writer.int16(answer.error ? kafkaErrorCodeOf(answer.error) : KafkaErrorCode.NONE)
  writer.flexibleString(flexible, answer.name)
  if (version >= 10) writer.uuid(ZERO_UUID)
  if (version >= 1) writer.boolean(answer.description?.internal ?? false)
  writer.flexibleArray(flexible, answer.description?.partitions ?? [], (partitionWriter, partition) => {
    const leaderId = partition.leader === '' ? -1 : context.brokerIdOf(partition.leader)
    const brokerIds = (nodes: string[]) => nodes.map((node) => context.brokerIdOf(node))
    const online = partition.state === 'online' && leaderId !== -1
    partitionWriter.int16(online ? KafkaErrorCode.NONE : KafkaErrorCode.LEADER_NOT_AVAILABLE).int32(partition.partition).int32(leaderId)
    if (version >= 7) partitionWriter.int32(partition.leaderEpoch)
    partitionWriter.flexibleArray(flexible, brokerIds(partition.replicas), (w, id) => w.int32(id))
    partitionWriter.flexibleArray(flexible, brokerIds(partition.isr), (w, id) => w.int32(id))
    if (version >= 5) partitionWriter.flexibleArray(flexible, [], (w, id: number) => w.int32(id))
    if (flexible) partitionWriter.emptyTaggedFields()
  })
  if (version >= 8) writer.int32(AUTHORIZED_OPERATIONS_OMITTED)
  if (flexible) writer.emptyTaggedFields()
}
