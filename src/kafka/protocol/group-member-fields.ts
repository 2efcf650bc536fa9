/**
 * The fields Heartbeat, SyncGroup and OffsetCommit requests open with, in this order:
 * group_id STRING, generation_id INT32, member_id STRING, then group_instance_id
 * NULLABLE_STRING from the version each API added it (static membership, which Lignum does not
 * serve: the instance id is read past, never used).
 */
import type {KafkaReader} from './kafka-reader.js'

export interface GroupMemberFields {
  group: string
  generationId: number
  memberId: string
}

export function readGroupMemberFields(body: KafkaReader, flexible: boolean, hasInstanceId: boolean): GroupMemberFields {
  const group = body.flexibleString(flexible)
  const generationId = body.int32()
  const memberId = body.flexibleString(flexible)
  if (hasInstanceId) body.flexibleNullableString(flexible)
  return {group, generationId, memberId}
}
