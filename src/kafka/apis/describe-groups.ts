/**
 * DescribeGroups (key 15), versions 0-5: a group's state and members, for
 * `kafka-consumer-groups --describe`.
 *
 *   Request:  groups ARRAY[STRING], include_authorized_operations BOOLEAN (v3+)
 *                                                                     (flexible from v5)
 *   Response: throttle_time_ms INT32 (v1+), groups ARRAY[error_code INT16, group_id STRING,
 *             group_state STRING, protocol_type STRING, protocol_data STRING, members ARRAY[
 *             member_id STRING, group_instance_id NULLABLE_STRING (v4+), client_id STRING,
 *             client_host STRING, member_metadata BYTES, member_assignment BYTES],
 *             authorized_operations INT32 (v3+)]                      (flexible from v5)
 *
 * As gRPC's DescribeGroup: describe on the group (GROUP_AUTHORIZATION_FAILED). A group with
 * neither offsets nor members is state Dead with no error, as Kafka answers before v6. The
 * membership view keeps each member's assignment as topic-partitions, not the bytes it synced,
 * so both byte fields are re-encoded in Kafka's consumer protocol: the assignment exactly, the
 * metadata as a subscription to the topics assigned (what the member subscribed to is not
 * kept). Lignum has no static members: group_instance_id is null. Authorized operations are
 * not computed: INT32 min, Kafka's "not asked for".
 */
import {CONSUMER_PROTOCOL_TYPE, encodeAssignment, encodeSubscription} from '../../format/consumer-protocol.js'
import {LignumError} from '../../errors.js'
import type {DescribeGroupResponse} from '../../generated/lignum/v1/lignum.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {describeOneGroup, groupAdminErrorCodeOf, requireGroupOperation} from '../group-admin-routing.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {KafkaWriter} from '../protocol/kafka-writer.js'

const FIRST_THROTTLE_VERSION = 1
const FIRST_AUTHORIZED_OPERATIONS_VERSION = 3
const FIRST_INSTANCE_ID_VERSION = 4
const AUTHORIZED_OPERATIONS_OMITTED = -2_147_483_648
const DEAD_STATE = 'Dead'

interface DescribedGroup {
  group: string
  error: number
  details: DescribeGroupResponse | undefined
}

export function describeGroupsApi(): KafkaApi<KafkaContext> {
  return {
    key: 15,
    name: 'DescribeGroups',
    minVersion: 0,
    maxVersion: 5,
    firstFlexibleVersion: 5,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      const groups = body.flexibleArray(flexible, (reader) => reader.flexibleString(flexible))
      if (version >= FIRST_AUTHORIZED_OPERATIONS_VERSION) body.boolean()
      if (flexible) body.skipTaggedFields()
      const described: DescribedGroup[] = []
      for (const group of groups) described.push(await describeGroupFor(request.context, request.principal, group))
      if (version >= FIRST_THROTTLE_VERSION) response.int32(0)
      response.flexibleArray(flexible, described, (writer, entry) => writeGroup(writer, version, flexible, entry))
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}

async function describeGroupFor(context: KafkaContext, principal: string, group: string): Promise<DescribedGroup> {
  try {
    requireGroupOperation(context.serving, principal, group, 'describe')
    return {group, error: KafkaErrorCode.NONE, details: await describeOneGroup(context.serving, group)}
  } catch (caught) {
    if (caught instanceof LignumError && caught.code === 'NOT_FOUND') return {group, error: KafkaErrorCode.NONE, details: undefined}
    return {group, error: groupAdminErrorCodeOf(caught), details: undefined}
  }
}

function writeGroup(writer: KafkaWriter, version: number, flexible: boolean, entry: DescribedGroup): void {
  const {details} = entry
  writer.int16(entry.error).flexibleString(flexible, entry.group)
  // An unknown or refused group is Dead with no protocol, as Kafka's coordinator answers it.
  writer.flexibleString(flexible, details?.state ?? DEAD_STATE)
  writer.flexibleString(flexible, details === undefined ? '' : CONSUMER_PROTOCOL_TYPE)
  writer.flexibleString(flexible, details?.protocol ?? '')
  writer.flexibleArray(flexible, details?.members ?? [], (memberWriter, member) => {
    memberWriter.flexibleString(flexible, member.memberId)
    if (version >= FIRST_INSTANCE_ID_VERSION) memberWriter.flexibleString(flexible, null)
    memberWriter.flexibleString(flexible, member.clientId).flexibleString(flexible, member.host)
    const topics = member.assignment.map((entry) => entry.topic)
    memberWriter.flexibleBytes(flexible, encodeSubscription({topics, ownedPartitions: []}))
    memberWriter.flexibleBytes(flexible, encodeAssignment(member.assignment.map((entry) => ({topic: entry.topic, partitions: [...entry.partitions]}))))
    if (flexible) memberWriter.emptyTaggedFields()
  })
  if (version >= FIRST_AUTHORIZED_OPERATIONS_VERSION) writer.int32(AUTHORIZED_OPERATIONS_OMITTED)
  if (flexible) writer.emptyTaggedFields()
}
