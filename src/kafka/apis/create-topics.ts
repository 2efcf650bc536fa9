/**
 * CreateTopics (key 19), versions 2-7: topics made through the same path as gRPC's CreateTopic
 * (the cluster's catalog through the controller, or the standalone broker), with the same right
 * (create on the cluster or the topic).
 *
 *   Request:  topics ARRAY[name STRING, num_partitions INT32, replication_factor INT16,
 *             assignments ARRAY[partition_index INT32, broker_ids ARRAY[INT32]],
 *             configs ARRAY[name STRING, value NULLABLE_STRING]], timeout_ms INT32,
 *             validate_only BOOLEAN                                       (flexible from v5)
 *   Response: throttle_time_ms INT32, topics ARRAY[name STRING, topic_id UUID (v7+),
 *             error_code INT16, error_message NULLABLE_STRING, num_partitions INT32 (v5+),
 *             replication_factor INT16 (v5+), configs NULLABLE ARRAY (v5+)]  (flexible from v5)
 *
 * Each topic is answered on its own: one refused topic does not refuse the others. -1
 * partitions or replication factor is the node's default. Manual replica assignments are
 * refused: Lignum places replicas itself. validate_only checks everything creation would
 * (rights, arguments, configs, that the topic does not exist) and creates nothing. The
 * configs answered are an empty array (Kafka's admin client refuses null); DescribeConfigs answers them.
 */
import {LignumError} from '../../errors.js'
import type {TopicConfig, TopicDescription} from '../../generated/lignum/v1/lignum.js'
import {requireCreateTopic} from '../../server/authorization.js'
import {settingsFromWire, topicToWire} from '../../server/convert.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {KafkaReader} from '../protocol/kafka-reader.js'
import {kafkaErrorCodeOf} from '../kafka-errors.js'
import {topicConfigFromKafka} from '../topic-configs.js'

const DEFAULT = -1
const ZERO_UUID = Buffer.alloc(16)

interface TopicRequest {
  name: string
  partitions: number
  replicationFactor: number
  assignments: number
  configs: {name: string; value: string | null}[]
}

interface TopicAnswer {
  name: string
  error: number
  message: string | null
  partitions: number
  replicationFactor: number
}

export function createTopicsApi(): KafkaApi<KafkaContext> {
  return {
    key: 19,
    name: 'CreateTopics',
    minVersion: 2,
    maxVersion: 7,
    firstFlexibleVersion: 5,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      const topics = body.flexibleArray(flexible, (reader) => readTopic(reader, flexible))
      body.int32()
      const validateOnly = body.boolean()
      if (flexible) body.skipTaggedFields()
      const answers: TopicAnswer[] = []
      // One at a time: two creations of one name in a request must not race each other.
      for (const topic of topics) answers.push(await createTopic(request.context, request.principal, topic, validateOnly))
      response.int32(0)
      response.flexibleArray(flexible, answers, (writer, answer) => {
        writer.flexibleString(flexible, answer.name)
        if (version >= 7) writer.uuid(ZERO_UUID)
        writer.int16(answer.error).flexibleString(flexible, answer.message)
        if (version >= 5) writer.int32(answer.partitions).int16(answer.replicationFactor).flexibleArray(flexible, [], () => {})
        if (flexible) writer.emptyTaggedFields()
      })
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}

function readTopic(reader: KafkaReader, flexible: boolean): TopicRequest {
  const name = reader.flexibleString(flexible)
  const partitions = reader.int32()
  const replicationFactor = reader.int16()
  const assignments = reader.flexibleArray(flexible, (assignment) => {
    assignment.int32()
    assignment.flexibleArray(flexible, (id) => id.int32())
    if (flexible) assignment.skipTaggedFields()
  }).length
  const configs = reader.flexibleArray(flexible, (config) => {
    const entry = {name: config.flexibleString(flexible), value: config.flexibleNullableString(flexible)}
    if (flexible) config.skipTaggedFields()
    return entry
  })
  if (flexible) reader.skipTaggedFields()
  return {name, partitions, replicationFactor, assignments, configs}
}

async function createTopic(context: KafkaContext, principal: string, topic: TopicRequest, validateOnly: boolean): Promise<TopicAnswer> {
  const refused = (error: number, message: string): TopicAnswer => ({name: topic.name, error, message, partitions: DEFAULT, replicationFactor: DEFAULT})
  try {
    const {serving} = context
    requireCreateTopic(serving.access, principal, topic.name)
    if (topic.assignments > 0) return refused(KafkaErrorCode.INVALID_REQUEST, `topic "${topic.name}": manual replica assignments are not served; give a partition count and replication factor instead`)
    if (topic.partitions === 0 || topic.partitions < DEFAULT) return refused(KafkaErrorCode.INVALID_PARTITIONS, `topic "${topic.name}": ${topic.partitions} partitions; give at least 1 (or -1 for the default)`)
    const replicationFactorMax = serving.clusterTopics ? Number.MAX_SAFE_INTEGER : 1
    if (topic.replicationFactor === 0 || topic.replicationFactor < DEFAULT || topic.replicationFactor > replicationFactorMax) {
      return refused(KafkaErrorCode.INVALID_REPLICATION_FACTOR, `topic "${topic.name}": replication factor ${topic.replicationFactor} is not served here; a standalone node holds 1 replica, a cluster at least 1 (or -1 for the default)`)
    }
    const {config, minInsyncReplicas} = topicConfigFromKafka(topic.configs)
    settingsFromWire(config)
    if (!serving.clusterTopics && minInsyncReplicas !== undefined && minInsyncReplicas !== 1) throw new LignumError('CONFIG', `topic "${topic.name}": min.insync.replicas=${minInsyncReplicas} needs a cluster; a standalone node has 1 replica`)
    if (await exists(context, topic.name)) return refused(KafkaErrorCode.TOPIC_ALREADY_EXISTS, `topic "${topic.name}" already exists`)
    const partitions = topic.partitions === DEFAULT ? undefined : topic.partitions
    const replicationFactor = topic.replicationFactor === DEFAULT ? undefined : topic.replicationFactor
    if (validateOnly) return {name: topic.name, error: KafkaErrorCode.NONE, message: null, partitions: topic.partitions, replicationFactor: topic.replicationFactor}
    const created = serving.clusterTopics
      ? await serving.clusterTopics.createTopic({name: topic.name, partitions: partitions ?? 1, replicationFactor, minInsyncReplicas, config})
      : await createStandalone(context, topic.name, partitions, config)
    return {name: topic.name, error: KafkaErrorCode.NONE, message: null, partitions: created.partitions.length, replicationFactor: created.partitions[0]?.replicas.length ?? 1}
  } catch (error) {
    return refused(kafkaErrorCodeOf(error), error instanceof Error ? error.message : String(error))
  }
}

async function createStandalone(context: KafkaContext, name: string, partitions: number | undefined, config: TopicConfig): Promise<TopicDescription> {
  const {broker, nodeId} = context.serving
  await broker.createTopic(name, {partitions, settings: settingsFromWire(config)})
  return topicToWire(broker.describeTopic(name), nodeId)
}

async function exists(context: KafkaContext, name: string): Promise<boolean> {
  try {
    if (context.serving.clusterTopics) await context.serving.clusterTopics.describeTopic(name)
    else context.serving.broker.describeTopic(name)
    return true
  } catch (error) {
    if (error instanceof LignumError && (error.code === 'UNKNOWN_TOPIC' || error.code === 'NOT_FOUND')) return false
    throw error
  }
}
