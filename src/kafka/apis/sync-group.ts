/**
 * SyncGroup (key 14), versions 0-5: the leader hands in the assignment it computed, every
 * member receives its own part of it (consumer-protocol bytes the coordinator never reads).
 *
 *   Request:  group_id STRING, generation_id INT32, member_id STRING,
 *             group_instance_id NULLABLE_STRING (v3+), protocol_type NULLABLE_STRING (v5+),
 *             protocol_name NULLABLE_STRING (v5+),
 *             assignments ARRAY[member_id STRING, assignment BYTES]   (flexible from v4)
 *   Response: throttle_time_ms INT32 (v1+), error_code INT16,
 *             protocol_type NULLABLE_STRING (v5+), protocol_name NULLABLE_STRING (v5+),
 *             assignment BYTES                                        (flexible from v4)
 *
 * v5's protocol_type and protocol_name are answered null, which a client reads as "not
 * checked": the coordinator already refused an inconsistent protocol at JoinGroup. A follower
 * waits for the leader's sync; the group bounds that wait by its rebalance timeout, and in
 * cluster mode the hop to the coordinator by SYNC_WAIT_MS.
 */
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {groupErrorCodeOf, requireGroupConsume} from '../group-access.js'
import {syncGroup} from '../group-routing.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import {readGroupMemberFields} from '../protocol/group-member-fields.js'

const FIRST_THROTTLE_VERSION = 1
const FIRST_INSTANCE_ID_VERSION = 3
const FIRST_PROTOCOL_VERSION = 5
/** Kafka clients' request.timeout.ms default: a SyncGroup is not waited for longer than that. */
const SYNC_WAIT_MS = 30_000

export function syncGroupApi(): KafkaApi<KafkaContext> {
  return {
    key: 14,
    name: 'SyncGroup',
    minVersion: 0,
    maxVersion: 5,
    firstFlexibleVersion: 4,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      const {group, generationId, memberId} = readGroupMemberFields(body, flexible, version >= FIRST_INSTANCE_ID_VERSION)
      if (version >= FIRST_PROTOCOL_VERSION) {
        body.flexibleNullableString(flexible)
        body.flexibleNullableString(flexible)
      }
      const assignments = body.flexibleArray(flexible, (reader) => {
        const member = reader.flexibleString(flexible)
        const assignment = Buffer.from(reader.flexibleBytes(flexible))
        if (flexible) reader.skipTaggedFields()
        return [member, assignment] as const
      })
      if (flexible) body.skipTaggedFields()
      let error: number = KafkaErrorCode.NONE
      let assignment: Buffer = Buffer.alloc(0)
      try {
        requireGroupConsume(request.context.serving, request.principal, group)
        assignment = await syncGroup(request.context.serving, group, {memberId, generationId}, new Map(assignments), SYNC_WAIT_MS)
      } catch (caught) {
        error = groupErrorCodeOf(caught)
      }
      if (version >= FIRST_THROTTLE_VERSION) response.int32(0)
      response.int16(error)
      if (version >= FIRST_PROTOCOL_VERSION) response.flexibleString(flexible, null).flexibleString(flexible, null)
      response.flexibleBytes(flexible, assignment)
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}
