/**
 * JoinGroup (key 11), versions 2-9: a consumer joins a group's rebalance round and, once every
 * member has, learns the generation, the chosen assignor and the leader (the leader also every
 * member's subscription) — the classic protocol of broker/consumer-group.ts.
 *
 *   Request:  group_id STRING, session_timeout_ms INT32, rebalance_timeout_ms INT32,
 *             member_id STRING, group_instance_id NULLABLE_STRING (v5+),
 *             protocol_type STRING, protocols ARRAY[name STRING, metadata BYTES],
 *             reason COMPACT_NULLABLE_STRING (v8+)                     (flexible from v6)
 *   Response: throttle_time_ms INT32, error_code INT16, generation_id INT32,
 *             protocol_type NULLABLE_STRING (v7+), protocol_name STRING (nullable v7+),
 *             leader STRING, skip_assignment BOOLEAN (v9+), member_id STRING,
 *             members ARRAY[member_id STRING, group_instance_id NULLABLE_STRING (v5+),
 *             metadata BYTES]                                          (flexible from v6)
 *
 * The coordinator assigns a member id on the first join and answers it at the end of the
 * round, so MEMBER_ID_REQUIRED (v4+, KIP-394) is never sent: it is Kafka's optional extra round
 * trip. Static membership (group_instance_id) is not served: such a member joins as a dynamic
 * one, and its instance id is answered as null. skip_assignment is always false (the leader
 * assigns, KIP-814's server-side assignors are not served). The response waits for the round,
 * up to the member's rebalance timeout, as Kafka's does.
 */
import type {JoinResult} from '../../broker/consumer-group.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {groupErrorCodeOf, requireGroupConsume} from '../group-access.js'
import {joinGroup} from '../group-routing.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {KafkaWriter} from '../protocol/kafka-writer.js'

const FIRST_INSTANCE_ID_VERSION = 5
const FIRST_PROTOCOL_TYPE_VERSION = 7
const FIRST_REASON_VERSION = 8
const FIRST_SKIP_ASSIGNMENT_VERSION = 9

export function joinGroupApi(): KafkaApi<KafkaContext> {
  return {
    key: 11,
    name: 'JoinGroup',
    minVersion: 2,
    maxVersion: 9,
    firstFlexibleVersion: 6,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      const group = body.flexibleString(flexible)
      const sessionTimeoutMs = body.int32()
      const rebalanceTimeoutMs = body.int32()
      const memberId = body.flexibleString(flexible)
      if (version >= FIRST_INSTANCE_ID_VERSION) body.flexibleNullableString(flexible)
      const protocolType = body.flexibleString(flexible)
      const protocols = body.flexibleArray(flexible, (reader) => {
        const name = reader.flexibleString(flexible)
        const metadata = Buffer.from(reader.flexibleBytes(flexible))
        if (flexible) reader.skipTaggedFields()
        return {name, metadata}
      })
      if (version >= FIRST_REASON_VERSION) body.compactNullableString()
      if (flexible) body.skipTaggedFields()
      let answer: {result?: JoinResult; error: number}
      try {
        requireGroupConsume(request.context.serving, request.principal, group)
        const join = {memberId, clientId: request.header.clientId ?? '', host: request.clientHost, protocolType, protocols, sessionTimeoutMs, rebalanceTimeoutMs}
        answer = {result: await joinGroup(request.context.serving, group, join), error: KafkaErrorCode.NONE}
      } catch (error) {
        answer = {error: groupErrorCodeOf(error)}
      }
      writeJoinResponse(response, version, flexible, protocolType, memberId, answer)
      return true
    },
  }
}

function writeJoinResponse(response: KafkaWriter, version: number, flexible: boolean, protocolType: string, askedMemberId: string, answer: {result?: JoinResult; error: number}): void {
  const {result} = answer
  response.int32(0).int16(answer.error).int32(result?.generationId ?? -1)
  if (version >= FIRST_PROTOCOL_TYPE_VERSION) response.flexibleString(flexible, result ? protocolType : null)
  // Before v7 the protocol name is a STRING: a failed join answers it empty.
  response.flexibleString(flexible, result?.protocolName ?? (version >= FIRST_PROTOCOL_TYPE_VERSION ? null : ''))
  response.flexibleString(flexible, result?.leaderId ?? '')
  if (version >= FIRST_SKIP_ASSIGNMENT_VERSION) response.boolean(false)
  response.flexibleString(flexible, result?.memberId ?? askedMemberId)
  response.flexibleArray(flexible, result?.members ?? [], (writer, member) => {
    writer.flexibleString(flexible, member.memberId)
    if (version >= FIRST_INSTANCE_ID_VERSION) writer.flexibleString(flexible, null)
    writer.flexibleBytes(flexible, member.metadata)
    if (flexible) writer.emptyTaggedFields()
  })
  if (flexible) response.emptyTaggedFields()
}
