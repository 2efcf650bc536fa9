/**
 * OffsetForLeaderEpoch (key 23), versions 0-4: where a leader epoch ends on the partition
 * leader's log. A consumer asks after a leader change, naming the epoch of the last batch it
 * read, to learn whether the new leader's log still holds everything it consumed (KIP-320).
 *
 *   Request v0-v1:  topics ARRAY[topic STRING, partitions ARRAY[partition INT32,
 *                   leader_epoch INT32]]
 *   Request v2:     partitions[] add current_leader_epoch INT32 before leader_epoch
 *   Request v3:     replica_id INT32 first (-1 a consumer, -2 a debugging client)
 *   Request v4:     v3 flexible (compact types, tagged fields)
 *   Response v0:    topics ARRAY[topic STRING, partitions ARRAY[error_code INT16,
 *                   partition INT32, end_offset INT64]]
 *   Response v1:    partitions[] add leader_epoch INT32 before end_offset
 *   Response v2-v3: throttle_time_ms INT32 first
 *   Response v4:    v3 flexible
 *
 * The answer is the largest epoch at or below the one asked for and where it ends: the next
 * epoch's start, or the log end for the latest (client-leader-epochs.ts). Only the leader
 * answers (NOT_LEADER_OR_FOLLOWER elsewhere), fenced by current_leader_epoch. replica_id is
 * read and not acted on: Lignum's followers ask over gRPC, so every caller is a client.
 */
import {NO_EPOCH} from '../../broker/client-leader-epochs.js'
import {LignumError} from '../../errors.js'
import {topicResource} from '../../server/authorization.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {kafkaErrorCodeOf} from '../kafka-errors.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {KafkaReader} from '../protocol/kafka-reader.js'

const NO_OFFSET = -1
const FIRST_CURRENT_EPOCH_VERSION = 2
const FIRST_REPLICA_ID_VERSION = 3
const FIRST_RESPONSE_EPOCH_VERSION = 1
const FIRST_THROTTLE_VERSION = 2

interface PartitionRequest {
  partition: number
  currentLeaderEpoch: number
  leaderEpoch: number
}

interface PartitionAnswer {
  partition: number
  error: number
  leaderEpoch: number
  endOffset: number
}

export function offsetForLeaderEpochApi(): KafkaApi<KafkaContext> {
  return {
    key: 23,
    name: 'OffsetForLeaderEpoch',
    minVersion: 0,
    maxVersion: 4,
    firstFlexibleVersion: 4,
    handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      if (version >= FIRST_REPLICA_ID_VERSION) body.int32()
      const topics = body.flexibleArray(flexible, (topicReader) => {
        const name = topicReader.flexibleString(flexible)
        const partitions = topicReader.flexibleArray(flexible, (reader) => readPartition(reader, version, flexible))
        if (flexible) topicReader.skipTaggedFields()
        return {name, partitions}
      })
      if (flexible) body.skipTaggedFields()
      if (version >= FIRST_THROTTLE_VERSION) response.int32(0)
      response.flexibleArray(flexible, topics, (writer, topic) => {
        writer.flexibleString(flexible, topic.name)
        const answers = topic.partitions.map((asked) => epochEnd(request.context, request.principal, topic.name, asked))
        writer.flexibleArray(flexible, answers, (partitionWriter, answer) => {
          partitionWriter.int16(answer.error).int32(answer.partition)
          if (version >= FIRST_RESPONSE_EPOCH_VERSION) partitionWriter.int32(answer.leaderEpoch)
          partitionWriter.int64(answer.endOffset)
          if (flexible) partitionWriter.emptyTaggedFields()
        })
        if (flexible) writer.emptyTaggedFields()
      })
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}

function readPartition(reader: KafkaReader, version: number, flexible: boolean): PartitionRequest {
  const partition = reader.int32()
  const currentLeaderEpoch = version >= FIRST_CURRENT_EPOCH_VERSION ? reader.int32() : NO_EPOCH
  const leaderEpoch = reader.int32()
  if (flexible) reader.skipTaggedFields()
  return {partition, currentLeaderEpoch, leaderEpoch}
}

function epochEnd(context: KafkaContext, principal: string, topic: string, asked: PartitionRequest): PartitionAnswer {
  try {
    const {access, broker} = context.serving
    if (access && !access.allows(principal, 'describe', topicResource(topic))) throw new LignumError('PERMISSION_DENIED', `${principal} may not describe topic "${topic}"`)
    const {epoch, endOffset} = broker.endOffsetForEpoch(topic, asked.partition, asked.currentLeaderEpoch, asked.leaderEpoch)
    return {partition: asked.partition, error: KafkaErrorCode.NONE, leaderEpoch: epoch, endOffset}
  } catch (error) {
    return {partition: asked.partition, error: kafkaErrorCodeOf(error), leaderEpoch: NO_EPOCH, endOffset: NO_OFFSET}
  }
}
