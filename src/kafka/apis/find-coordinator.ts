/**
 * FindCoordinator (key 10), versions 0-4: which broker coordinates a consumer group.
 *
 *   Request v0:    key STRING
 *   Request v1-3:  key STRING, key_type INT8                            (flexible from v3)
 *   Request v4:    key_type INT8, coordinator_keys COMPACT_ARRAY[COMPACT_STRING], TAGGED_FIELDS
 *   Response v0:   error_code INT16, node_id INT32, host STRING, port INT32
 *   Response v1-3: throttle_time_ms INT32, error_code INT16, error_message NULLABLE_STRING,
 *                  node_id INT32, host STRING, port INT32               (flexible from v3)
 *   Response v4:   throttle_time_ms INT32, coordinators COMPACT_ARRAY[key COMPACT_STRING,
 *                  node_id INT32, host COMPACT_STRING, port INT32, error_code INT16,
 *                  error_message COMPACT_NULLABLE_STRING, TAGGED_FIELDS], TAGGED_FIELDS
 *
 * The answer is always THIS node: every node passes a group's requests on to the group's real
 * coordinator in one hop (group-routing.ts), so whichever node a client talks to serves its
 * group correctly, and a client never has to chase a coordinator that moved; NOT_COORDINATOR is
 * only answered when the forwarding itself fails (a client then asks again). key_type 1
 * (transactions) is refused: Lignum serves no transactions. Access is checked where the group
 * is used (JoinGroup, OffsetCommit, ...), not here: naming this node reveals nothing.
 */
import {LignumError} from '../../errors.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {kafkaErrorCodeOf} from '../kafka-errors.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {KafkaWriter} from '../protocol/kafka-writer.js'

const FIRST_KEY_TYPE_VERSION = 1
const FIRST_BATCHED_VERSION = 4
const GROUP_KEY_TYPE = 0
// Kafka's limit on coordinator_keys is the request size; one answer per key, a few bytes each.
const COORDINATOR_KEYS_MAX = 10_000

interface CoordinatorAnswer {
  key: string
  error: number
  message: string | null
  nodeId: number
  host: string
  port: number
}

export function findCoordinatorApi(): KafkaApi<KafkaContext> {
  return {
    key: 10,
    name: 'FindCoordinator',
    minVersion: 0,
    maxVersion: 4,
    firstFlexibleVersion: 3,
    handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      let keys: string[]
      let keyType = GROUP_KEY_TYPE
      if (version >= FIRST_BATCHED_VERSION) {
        keyType = body.int8()
        keys = body.flexibleArray(true, (reader) => reader.compactString())
      } else {
        keys = [body.flexibleString(flexible)]
        if (version >= FIRST_KEY_TYPE_VERSION) keyType = body.int8()
      }
      if (flexible) body.skipTaggedFields()
      const answers = keys.slice(0, COORDINATOR_KEYS_MAX).map((key) => coordinatorOf(request.context, key, keyType))
      if (version >= FIRST_BATCHED_VERSION) writeBatched(response, answers)
      else writeSingle(response, version, flexible, answers[0]!)
      return true
    },
  }
}

function coordinatorOf(context: KafkaContext, key: string, keyType: number): CoordinatorAnswer {
  try {
    if (keyType !== GROUP_KEY_TYPE) throw new LignumError('INVALID_ARGUMENT', `FindCoordinator key_type ${keyType} is not served: Lignum coordinates consumer groups (0) only, no transactions`)
    const self = context.brokers().find((broker) => broker.nodeId === context.serving.nodeId)
    if (self === undefined) throw new LignumError('UNAVAILABLE', `node ${context.serving.nodeId} has not registered its Kafka listener yet; retry`)
    return {key, error: KafkaErrorCode.NONE, message: null, nodeId: self.brokerId, host: self.host, port: self.port}
  } catch (error) {
    const code = error instanceof LignumError && error.code === 'UNAVAILABLE' ? KafkaErrorCode.COORDINATOR_NOT_AVAILABLE : kafkaErrorCodeOf(error)
    return {key, error: code, message: error instanceof Error ? error.message : String(error), nodeId: -1, host: '', port: -1}
  }
}

function writeSingle(response: KafkaWriter, version: number, flexible: boolean, answer: CoordinatorAnswer): void {
  if (version >= FIRST_KEY_TYPE_VERSION) response.int32(0)
  response.int16(answer.error)
  if (version >= FIRST_KEY_TYPE_VERSION) response.flexibleString(flexible, answer.message)
  response.int32(answer.nodeId).flexibleString(flexible, answer.host).int32(answer.port)
  if (flexible) response.emptyTaggedFields()
}

function writeBatched(response: KafkaWriter, answers: CoordinatorAnswer[]): void {
  response.int32(0)
  response.flexibleArray(true, answers, (writer, answer) => {
    writer.compactNullableString(answer.key).int32(answer.nodeId).compactNullableString(answer.host).int32(answer.port).int16(answer.error).compactNullableString(answer.message)
    writer.emptyTaggedFields()
  })
  response.emptyTaggedFields()
}
