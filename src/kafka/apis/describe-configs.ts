/**
 * DescribeConfigs (key 32), versions 1-4: a topic's settings by Kafka's config names
 * (topic-configs.ts), with the right to describe the topic. A broker resource is answered with
 * no configs: Lignum's node settings are not Kafka's.
 *
 *   Request:  resources ARRAY[resource_type INT8, resource_name STRING,
 *             configuration_keys NULLABLE ARRAY[STRING]], include_synonyms BOOLEAN,
 *             include_documentation BOOLEAN (v3+)                         (flexible from v4)
 *   Response: throttle_time_ms INT32, results ARRAY[error_code INT16, error_message
 *             NULLABLE_STRING, resource_type INT8, resource_name STRING, configs ARRAY[
 *             name STRING, value NULLABLE_STRING, read_only BOOLEAN, config_source INT8,
 *             is_sensitive BOOLEAN, synonyms ARRAY[name, value, source], config_type INT8
 *             (v3+), documentation NULLABLE_STRING (v3+)]]                (flexible from v4)
 *
 * Only settings the topic was given are answered (source DYNAMIC_TOPIC_CONFIG); the rest are
 * the node's defaults, which Kafka's names do not describe faithfully.
 */
import {LignumError} from '../../errors.js'
import type {TopicDescription} from '../../generated/lignum/v1/lignum.js'
import {requireAllowed, topicResource} from '../../server/authorization.js'
import {topicToWire} from '../../server/convert.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import {kafkaErrorCodeOf} from '../kafka-errors.js'
import {kafkaConfigsOf, type KafkaConfigEntry} from '../topic-configs.js'

const RESOURCE_TOPIC = 2
const RESOURCE_BROKER = 4
const SOURCE_DYNAMIC_TOPIC_CONFIG = 1
const CONFIG_TYPE_STRING = 2

interface Resource {
  type: number
  name: string
  keys: string[] | null
}

interface ResourceAnswer extends Resource {
  error: number
  message: string | null
  configs: KafkaConfigEntry[]
}

export function describeConfigsApi(): KafkaApi<KafkaContext> {
  return {
    key: 32,
    name: 'DescribeConfigs',
    minVersion: 1,
    maxVersion: 4,
    firstFlexibleVersion: 4,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      const resources = body.flexibleArray(flexible, (reader): Resource => {
        const resource = {type: reader.int8(), name: reader.flexibleString(flexible), keys: reader.flexibleNullableArray(flexible, (key) => key.flexibleString(flexible))}
        if (flexible) reader.skipTaggedFields()
        return resource
      })
      body.boolean()
      if (version >= 3) body.boolean()
      if (flexible) body.skipTaggedFields()
      const answers = await Promise.all(resources.map((resource) => describeResource(request.context, request.principal, resource)))
      response.int32(0)
      response.flexibleArray(flexible, answers, (writer, answer) => {
        writer.int16(answer.error).flexibleString(flexible, answer.message).int8(answer.type).flexibleString(flexible, answer.name)
        writer.flexibleArray(flexible, answer.configs, (entryWriter, entry) => {
          entryWriter.flexibleString(flexible, entry.name).flexibleString(flexible, entry.value).boolean(false).int8(SOURCE_DYNAMIC_TOPIC_CONFIG).boolean(false)
          entryWriter.flexibleArray(flexible, [], () => {})
          if (version >= 3) entryWriter.int8(CONFIG_TYPE_STRING).flexibleString(flexible, null)
          if (flexible) entryWriter.emptyTaggedFields()
        })
        if (flexible) writer.emptyTaggedFields()
      })
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}

async function describeResource(context: KafkaContext, principal: string, resource: Resource): Promise<ResourceAnswer> {
  const answer = (configs: KafkaConfigEntry[]): ResourceAnswer => ({...resource, error: KafkaErrorCode.NONE, message: null, configs: resource.keys === null ? configs : configs.filter((entry) => resource.keys!.includes(entry.name))})
  try {
    if (resource.type === RESOURCE_BROKER) return answer([])
    if (resource.type !== RESOURCE_TOPIC) throw new LignumError('INVALID_ARGUMENT', `config resource type ${resource.type} is not served; ask for a topic (2) or broker (4)`)
    requireAllowed(context.serving.access, principal, 'describe', topicResource(resource.name))
    return answer(kafkaConfigsOf(await describeTopic(context, resource.name)))
  } catch (error) {
    return {...resource, error: kafkaErrorCodeOf(error), message: error instanceof Error ? error.message : String(error), configs: []}
  }
}

async function describeTopic(context: KafkaContext, name: string): Promise<TopicDescription> {
  const {serving} = context
  return serving.clusterTopics ? serving.clusterTopics.describeTopic(name) : topicToWire(serving.broker.describeTopic(name), serving.nodeId)
}
