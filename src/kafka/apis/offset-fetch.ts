/**
 * OffsetFetch (key 9), versions 1-7: a group's committed offsets, where a consumer resumes.
 *
 *   Request:  group_id STRING, topics ARRAY[name STRING, partition_indexes ARRAY[INT32]]
 *             (nullable from v2: null is every topic the group has offsets for),
 *             require_stable BOOLEAN (v7+)                            (flexible from v6)
 *   Response: throttle_time_ms INT32 (v3+), topics ARRAY[name STRING, partitions ARRAY[
 *             partition_index INT32, committed_offset INT64, committed_leader_epoch INT32 (v5+),
 *             metadata NULLABLE_STRING, error_code INT16]], error_code INT16 (v2+)
 *                                                                     (flexible from v6)
 *
 * As gRPC's FetchOffsets: the group needs consume (GROUP_AUTHORIZATION_FAILED, the top-level
 * error from v2, each partition's before); only topics the principal may describe are shown —
 * left out of an all-topics answer, TOPIC_AUTHORIZATION_FAILED for one asked by name. A
 * partition with no commit is offset -1 with empty metadata, as in Kafka. require_stable is
 * always met: Lignum has no transactions, so no commit is ever pending. The leader epoch is
 * not kept: -1. v8+ (several groups per request) are not offered.
 */
import type {CommittedOffset} from '../../broker/group-offsets.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {groupErrorCodeOf, mayDescribeTopic, requireGroupConsume} from '../group-access.js'
import {fetchOffsets} from '../group-routing.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {KafkaWriter} from '../protocol/kafka-writer.js'

const FIRST_TOP_LEVEL_ERROR_VERSION = 2
const FIRST_THROTTLE_VERSION = 3
const FIRST_LEADER_EPOCH_VERSION = 5
const FIRST_REQUIRE_STABLE_VERSION = 7
const NO_OFFSET = -1
const NO_LEADER_EPOCH = -1

interface FetchedPartition {
  partition: number
  offset: number
  metadata: string
  error: number
}

interface FetchedTopic {
  name: string
  partitions: FetchedPartition[]
}

export function offsetFetchApi(): KafkaApi<KafkaContext> {
  return {
    key: 9,
    name: 'OffsetFetch',
    minVersion: 1,
    maxVersion: 7,
    firstFlexibleVersion: 6,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      const group = body.flexibleString(flexible)
      const asked = body.flexibleNullableArray(flexible, (reader) => {
        const name = reader.flexibleString(flexible)
        const partitions = reader.flexibleArray(flexible, (partitionReader) => partitionReader.int32())
        if (flexible) reader.skipTaggedFields()
        return {name, partitions}
      })
      if (version >= FIRST_REQUIRE_STABLE_VERSION) body.boolean()
      if (flexible) body.skipTaggedFields()
      let error: number = KafkaErrorCode.NONE
      let topics: FetchedTopic[] = []
      try {
        requireGroupConsume(request.context.serving, request.principal, group)
        const committed = await fetchOffsets(request.context.serving, group)
        const visible = (topic: string) => mayDescribeTopic(request.context.serving, request.principal, topic)
        topics = asked === null ? everyVisibleTopic(committed, visible) : askedTopics(committed, asked, visible)
      } catch (caught) {
        error = groupErrorCodeOf(caught)
        // Before v2 there is no top-level error: each asked partition carries it.
        if (version < FIRST_TOP_LEVEL_ERROR_VERSION) topics = (asked ?? []).map(({name, partitions}) => ({name, partitions: partitions.map((partition) => ({partition, offset: NO_OFFSET, metadata: '', error}))}))
      }
      writeFetchResponse(response, version, flexible, topics, error)
      return true
    },
  }
}

function everyVisibleTopic(committed: CommittedOffset[], visible: (topic: string) => boolean): FetchedTopic[] {
  const byTopic = new Map<string, FetchedPartition[]>()
  for (const entry of committed) {
    if (!visible(entry.topic)) continue
    const partitions = byTopic.get(entry.topic) ?? []
    partitions.push({partition: entry.partition, offset: entry.offset, metadata: entry.metadata, error: KafkaErrorCode.NONE})
    byTopic.set(entry.topic, partitions)
  }
  return [...byTopic].map(([name, partitions]) => ({name, partitions: partitions.sort((a, b) => a.partition - b.partition)}))
}

function askedTopics(committed: CommittedOffset[], asked: {name: string; partitions: number[]}[], visible: (topic: string) => boolean): FetchedTopic[] {
  const byKey = new Map(committed.map((entry) => [`${entry.topic}\u0000${entry.partition}`, entry]))
  return asked.map(({name, partitions}) => ({
    name,
    partitions: partitions.map((partition): FetchedPartition => {
      if (!visible(name)) return {partition, offset: NO_OFFSET, metadata: '', error: KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED}
      const entry = byKey.get(`${name}\u0000${partition}`)
      return entry ? {partition, offset: entry.offset, metadata: entry.metadata, error: KafkaErrorCode.NONE} : {partition, offset: NO_OFFSET, metadata: '', error: KafkaErrorCode.NONE}
    }),
  }))
}

function writeFetchResponse(response: KafkaWriter, version: number, flexible: boolean, topics: FetchedTopic[], error: number): void {
  if (version >= FIRST_THROTTLE_VERSION) response.int32(0)
  response.flexibleArray(flexible, topics, (writer, topic) => {
    writer.flexibleString(flexible, topic.name)
    writer.flexibleArray(flexible, topic.partitions, (partitionWriter, partition) => {
      partitionWriter.int32(partition.partition).int64(partition.offset)
      if (version >= FIRST_LEADER_EPOCH_VERSION) partitionWriter.int32(NO_LEADER_EPOCH)
      partitionWriter.flexibleString(flexible, partition.metadata).int16(partition.error)
      if (flexible) partitionWriter.emptyTaggedFields()
    })
    if (flexible) writer.emptyTaggedFields()
  })
  if (version >= FIRST_TOP_LEVEL_ERROR_VERSION) response.int16(error)
  if (flexible) response.emptyTaggedFields()
}
