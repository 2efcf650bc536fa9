/**
 * OffsetCommit (key 8), versions 2-9: a group's consumed positions, stored by the group's
 * coordinator as gRPC's CommitOffsets stores them.
 *
 *   Request:  group_id STRING, generation_id_or_member_epoch INT32, member_id STRING,
 *             group_instance_id NULLABLE_STRING (v7+), retention_time_ms INT64 (v2-v4),
 *             topics ARRAY[name STRING, partitions ARRAY[partition_index INT32,
 *             committed_offset INT64, committed_leader_epoch INT32 (v6+),
 *             committed_metadata NULLABLE_STRING]]                     (flexible from v8)
 *   Response: throttle_time_ms INT32 (v3+), topics ARRAY[name STRING, partitions ARRAY[
 *             partition_index INT32, error_code INT16]]               (flexible from v8)
 *
 * Fencing is gRPC's: a commit naming a member is stored only for a member of the group's
 * current generation (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS otherwise);
 * an empty member id is a commit without membership, allowed only while the group has no
 * members (Kafka's admin and simple commits). The group needs consume, each topic consume:
 * a topic the principal may not consume answers TOPIC_AUTHORIZATION_FAILED for its partitions
 * and the rest are committed, as Kafka answers. The commit is one write, so the partitions it
 * stores share its outcome. A negative committed_offset (any, as Kafka's "no offset" -1 and
 * the -2 kafkajs sends after OFFSET_OUT_OF_RANGE) forgets the partition's committed offset:
 * OffsetFetch then answers -1 and the client applies its auto.offset.reset, as with Kafka.
 * retention_time_ms is ignored (offsets live until the group is deleted);
 * committed_leader_epoch is not kept. v10 (topic ids) is not offered.
 */
import {LignumError} from '../../errors.js'
import type {CommittedOffset} from '../../broker/group-offsets.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {groupErrorCodeOf, mayConsumeTopic, requireGroupConsume} from '../group-access.js'
import {commitOffsets} from '../group-routing.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {KafkaReader} from '../protocol/kafka-reader.js'
import {readGroupMemberFields} from '../protocol/group-member-fields.js'

const FIRST_THROTTLE_VERSION = 3
const LAST_RETENTION_VERSION = 4
const FIRST_LEADER_EPOCH_VERSION = 6
const FIRST_INSTANCE_ID_VERSION = 7
// Every negative offset means "none"; one value for all, so even -2^63 fits a JS number.
const NO_OFFSET = -1

interface CommitPartition {
  partition: number
  offset: number
  metadata: string
  error: number
}

interface CommitTopic {
  name: string
  partitions: CommitPartition[]
}

export function offsetCommitApi(): KafkaApi<KafkaContext> {
  return {
    key: 8,
    name: 'OffsetCommit',
    minVersion: 2,
    maxVersion: 9,
    firstFlexibleVersion: 8,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      const {group, generationId, memberId} = readGroupMemberFields(body, flexible, version >= FIRST_INSTANCE_ID_VERSION)
      if (version <= LAST_RETENTION_VERSION) body.int64()
      const topics = body.flexibleArray(flexible, (reader) => readTopic(reader, version, flexible))
      if (flexible) body.skipTaggedFields()
      await commitTopics(request.context, request.principal, group, memberId === '' ? undefined : {memberId, generationId}, topics)
      if (version >= FIRST_THROTTLE_VERSION) response.int32(0)
      response.flexibleArray(flexible, topics, (writer, topic) => {
        writer.flexibleString(flexible, topic.name)
        writer.flexibleArray(flexible, topic.partitions, (partitionWriter, partition) => {
          partitionWriter.int32(partition.partition).int16(partition.error)
          if (flexible) partitionWriter.emptyTaggedFields()
        })
        if (flexible) writer.emptyTaggedFields()
      })
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}

function readTopic(reader: KafkaReader, version: number, flexible: boolean): CommitTopic {
  const name = reader.flexibleString(flexible)
  const partitions = reader.flexibleArray(flexible, (partitionReader): CommitPartition => {
    const partition = partitionReader.int32()
    const committed = partitionReader.int64()
    const offset = committed < 0n ? NO_OFFSET : Number(committed)
    if (version >= FIRST_LEADER_EPOCH_VERSION) partitionReader.int32()
    const metadata = partitionReader.flexibleNullableString(flexible) ?? ''
    if (flexible) partitionReader.skipTaggedFields()
    return {partition, offset, metadata, error: KafkaErrorCode.NONE}
  })
  if (flexible) reader.skipTaggedFields()
  return {name, partitions}
}

/** Sets each partition's error: the group's refusal for all, a topic's for its own, else the commit's outcome. */
async function commitTopics(context: KafkaContext, principal: string, group: string, member: {memberId: string; generationId: number} | undefined, topics: CommitTopic[]): Promise<void> {
  const setAll = (partitions: CommitPartition[], error: number) => partitions.forEach((partition) => (partition.error = error))
  try {
    requireGroupConsume(context.serving, principal, group)
  } catch (error) {
    for (const topic of topics) setAll(topic.partitions, groupErrorCodeOf(error))
    return
  }
  const committing: CommitPartition[] = []
  const offsets: CommittedOffset[] = []
  for (const topic of topics) {
    if (!mayConsumeTopic(context.serving, principal, topic.name)) {
      setAll(topic.partitions, KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED)
      continue
    }
    for (const partition of topic.partitions) {
      committing.push(partition)
      offsets.push({topic: topic.name, partition: partition.partition, offset: partition.offset, metadata: partition.metadata})
    }
  }
  if (offsets.length === 0) return
  try {
    if (offsets.some((entry) => !Number.isSafeInteger(entry.offset))) throw new LignumError('INVALID_ARGUMENT', 'a committed offset is outside the range Lignum accepts (0 to 2^53)')
    await commitOffsets(context.serving, group, offsets, member)
  } catch (error) {
    setAll(committing, groupErrorCodeOf(error))
  }
}
