/**
 * Heartbeat (key 12), versions 0-4: a member keeps its session; REBALANCE_IN_PROGRESS tells
 * it to rejoin, ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID that it is out of the group.
 *
 *   Request:  group_id STRING, generation_id INT32, member_id STRING,
 *             group_instance_id NULLABLE_STRING (v3+)                 (flexible from v4)
 *   Response: throttle_time_ms INT32 (v1+), error_code INT16          (flexible from v4)
 */
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {groupErrorCodeOf, requireGroupConsume} from '../group-access.js'
import {heartbeat} from '../group-routing.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import {readGroupMemberFields} from '../protocol/group-member-fields.js'

const FIRST_THROTTLE_VERSION = 1
const FIRST_INSTANCE_ID_VERSION = 3

export function heartbeatApi(): KafkaApi<KafkaContext> {
  return {
    key: 12,
    name: 'Heartbeat',
    minVersion: 0,
    maxVersion: 4,
    firstFlexibleVersion: 4,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      const {group, generationId, memberId} = readGroupMemberFields(body, flexible, version >= FIRST_INSTANCE_ID_VERSION)
      if (flexible) body.skipTaggedFields()
      let error: number = KafkaErrorCode.NONE
      try {
        requireGroupConsume(request.context.serving, request.principal, group)
        await heartbeat(request.context.serving, group, {memberId, generationId})
      } catch (caught) {
        error = groupErrorCodeOf(caught)
      }
      if (version >= FIRST_THROTTLE_VERSION) response.int32(0)
      response.int16(error)
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}
