/**
 * LeaveGroup (key 13), versions 0-5: members leave at once instead of waiting for their
 * sessions to expire, so the rest rebalance without delay.
 *
 *   Request v0-2:  group_id STRING, member_id STRING
 *   Request v3-5:  group_id STRING, members ARRAY[member_id STRING,
 *                  group_instance_id NULLABLE_STRING, reason COMPACT_NULLABLE_STRING (v5+)]
 *                                                                       (flexible from v4)
 *   Response v0-2: throttle_time_ms INT32 (v1+), error_code INT16
 *   Response v3-5: throttle_time_ms INT32, error_code INT16, members ARRAY[member_id STRING,
 *                  group_instance_id NULLABLE_STRING, error_code INT16] (flexible from v4)
 *
 * From v3 each member has its own error; the top-level one is for the group as a whole (its
 * authorization). A member named only by group_instance_id (static membership, not served) is
 * UNKNOWN_MEMBER_ID.
 */
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {groupErrorCodeOf, requireGroupConsume} from '../group-access.js'
import {leaveGroup} from '../group-routing.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'

const FIRST_THROTTLE_VERSION = 1
const FIRST_MEMBERS_VERSION = 3
const FIRST_REASON_VERSION = 5
// A batch of leaves comes from one admin call (the admin client's removeMembersFromConsumerGroup); bounded by the group's size.
const LEAVES_PER_REQUEST_MAX = 1_000

interface Leaving {
  memberId: string
  instanceId: string | null
  error: number
}

export function leaveGroupApi(): KafkaApi<KafkaContext> {
  return {
    key: 13,
    name: 'LeaveGroup',
    minVersion: 0,
    maxVersion: 5,
    firstFlexibleVersion: 4,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      const group = body.flexibleString(flexible)
      const members: Leaving[] =
        version >= FIRST_MEMBERS_VERSION
          ? body.flexibleArray(flexible, (reader) => {
              const memberId = reader.flexibleString(flexible)
              const instanceId = reader.flexibleNullableString(flexible)
              if (version >= FIRST_REASON_VERSION) reader.compactNullableString()
              if (flexible) reader.skipTaggedFields()
              return {memberId, instanceId, error: KafkaErrorCode.NONE}
            })
          : [{memberId: body.flexibleString(flexible), instanceId: null, error: KafkaErrorCode.NONE}]
      if (flexible) body.skipTaggedFields()
      let error: number = KafkaErrorCode.NONE
      try {
        requireGroupConsume(request.context.serving, request.principal, group)
        for (const member of members.slice(0, LEAVES_PER_REQUEST_MAX)) member.error = await leaveOne(request.context, group, member.memberId)
        for (const member of members.slice(LEAVES_PER_REQUEST_MAX)) member.error = KafkaErrorCode.INVALID_REQUEST
      } catch (caught) {
        error = groupErrorCodeOf(caught)
      }
      // Before v3 there is one member: its error is the answer's.
      if (version < FIRST_MEMBERS_VERSION && error === KafkaErrorCode.NONE) error = members[0]!.error
      if (version >= FIRST_THROTTLE_VERSION) response.int32(0)
      response.int16(error)
      if (version >= FIRST_MEMBERS_VERSION) {
        response.flexibleArray(flexible, error === KafkaErrorCode.NONE ? members : [], (writer, member) => {
          writer.flexibleString(flexible, member.memberId).flexibleString(flexible, member.instanceId).int16(member.error)
          if (flexible) writer.emptyTaggedFields()
        })
      }
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}

async function leaveOne(context: KafkaContext, group: string, memberId: string): Promise<number> {
  if (memberId === '') return KafkaErrorCode.UNKNOWN_MEMBER_ID
  try {
    await leaveGroup(context.serving, group, memberId)
    return KafkaErrorCode.NONE
  } catch (error) {
    return groupErrorCodeOf(error)
  }
}
