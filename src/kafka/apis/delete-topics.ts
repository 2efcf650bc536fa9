/**
 * DeleteTopics (key 20), versions 1-6: topics removed by name through the same path as gRPC's
 * DeleteTopic, with the same right (delete on the topic).
 *
 *   Request:  v1-v5: topic_names ARRAY[STRING]; v6: topics ARRAY[name NULLABLE_STRING,
 *             topic_id UUID]; then timeout_ms INT32                      (flexible from v4)
 *   Response: throttle_time_ms INT32, responses ARRAY[name STRING (v6: NULLABLE),
 *             topic_id UUID (v6+), error_code INT16, error_message NULLABLE_STRING (v5+)]
 *                                                                        (flexible from v4)
 *
 * Lignum's topics have no ids, so a v6 entry naming only an id is UNKNOWN_TOPIC_ID.
 */
import {topicResource, requireAllowed} from '../../server/authorization.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import {kafkaErrorCodeOf} from '../kafka-errors.js'

const ZERO_UUID = Buffer.alloc(16)
const UNKNOWN_TOPIC_ID = 100

interface DeleteAnswer {
  name: string | null
  error: number
  message: string | null
}

export function deleteTopicsApi(): KafkaApi<KafkaContext> {
  return {
    key: 20,
    name: 'DeleteTopics',
    minVersion: 1,
    maxVersion: 6,
    firstFlexibleVersion: 4,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      const names = version >= 6
        ? body.flexibleArray(flexible, (reader) => {
          const name = reader.compactNullableString()
          reader.uuid()
          reader.skipTaggedFields()
          return name
        })
        : body.flexibleArray(flexible, (reader) => reader.flexibleString(flexible))
      body.int32()
      if (flexible) body.skipTaggedFields()
      const answers: DeleteAnswer[] = []
      for (const name of names) answers.push(await deleteTopic(request.context, request.principal, name))
      response.int32(0)
      response.flexibleArray(flexible, answers, (writer, answer) => {
        writer.flexibleString(flexible, answer.name)
        if (version >= 6) writer.uuid(ZERO_UUID)
        writer.int16(answer.error)
        if (version >= 5) writer.flexibleString(flexible, answer.message)
        if (flexible) writer.emptyTaggedFields()
      })
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}

async function deleteTopic(context: KafkaContext, principal: string, name: string | null): Promise<DeleteAnswer> {
  if (name === null) return {name, error: UNKNOWN_TOPIC_ID, message: 'Lignum topics have no ids: delete by name'}
  try {
    const {serving} = context
    requireAllowed(serving.access, principal, 'delete', topicResource(name))
    if (serving.clusterTopics) await serving.clusterTopics.deleteTopic(name)
    else await serving.broker.deleteTopic(name)
    return {name, error: KafkaErrorCode.NONE, message: null}
  } catch (error) {
    return {name, error: kafkaErrorCodeOf(error), message: error instanceof Error ? error.message : String(error)}
  }
}
