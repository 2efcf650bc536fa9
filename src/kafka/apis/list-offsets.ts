/**
 * ListOffsets (key 2), versions 1-6: where a partition starts, where it ends, or the first
 * offset at or after a time.
 *
 *   Request:  replica_id INT32, isolation_level INT8 (v2+), topics ARRAY[name STRING,
 *             partitions ARRAY[partition_index INT32, current_leader_epoch INT32 (v4+),
 *             timestamp INT64]]                                          (flexible from v6)
 *   Response: throttle_time_ms INT32 (v2+), topics ARRAY[name STRING, partitions ARRAY[
 *             partition_index INT32, error_code INT16, timestamp INT64, offset INT64,
 *             leader_epoch INT32 (v4+)]]                                 (flexible from v6)
 *
 * timestamp -1 is the end (the high watermark: what a consumer can read), -2 the start. For a
 * time, the answer's timestamp is the one asked for, not the found record's own (which is at or
 * after it): Lignum's time index finds the offset without reading the record. A time past the
 * last record is offset -1, Kafka's "none". v7+ add the max-timestamp and tiered specs, which
 * Lignum does not serve.
 *
 * leader_epoch is the log's, as Kafka gives it: the latest epoch for the end, the epoch the
 * offset was written in otherwise (-1 when the log holds none), so a consumer that starts there
 * validates its position against the same history OffsetForLeaderEpoch answers from.
 * current_leader_epoch (v4+) fences a client whose metadata is stale (client-leader-epochs.ts).
 */
import {NO_EPOCH} from '../../broker/client-leader-epochs.js'
import {LignumError} from '../../errors.js'
import {topicResource} from '../../server/authorization.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {kafkaErrorCodeOf} from '../kafka-errors.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'

const LATEST = -1
const EARLIEST = -2
const UNKNOWN = -1

interface PartitionAnswer {
  partition: number
  error: number
  timestamp: number
  offset: number
  leaderEpoch: number
}

export function listOffsetsApi(): KafkaApi<KafkaContext> {
  return {
    key: 2,
    name: 'ListOffsets',
    minVersion: 1,
    maxVersion: 6,
    firstFlexibleVersion: 6,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      body.int32()
      if (version >= 2) body.int8()
      const topics = body.flexibleArray(flexible, (topicReader) => {
        const name = topicReader.flexibleString(flexible)
        const partitions = topicReader.flexibleArray(flexible, (reader) => {
          const partition = reader.int32()
          const currentLeaderEpoch = version >= 4 ? reader.int32() : NO_EPOCH
          const timestamp = reader.int64Number('timestamp')
          if (flexible) reader.skipTaggedFields()
          return {partition, currentLeaderEpoch, timestamp}
        })
        if (flexible) topicReader.skipTaggedFields()
        return {name, partitions}
      })
      if (flexible) body.skipTaggedFields()
      const answers = await Promise.all(topics.map(async ({name, partitions}) => ({name, partitions: await Promise.all(partitions.map((asked) => listOffset(request.context, request.principal, name, asked)))})))
      if (version >= 2) response.int32(0)
      response.flexibleArray(flexible, answers, (writer, topic) => {
        writer.flexibleString(flexible, topic.name)
        writer.flexibleArray(flexible, topic.partitions, (partitionWriter, answer) => {
          partitionWriter.int32(answer.partition).int16(answer.error).int64(answer.timestamp).int64(answer.offset)
          if (version >= 4) partitionWriter.int32(answer.leaderEpoch)
          if (flexible) partitionWriter.emptyTaggedFields()
        })
        if (flexible) writer.emptyTaggedFields()
      })
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}

async function listOffset(context: KafkaContext, principal: string, topic: string, {partition, currentLeaderEpoch, timestamp}: {partition: number; currentLeaderEpoch: number; timestamp: number}): Promise<PartitionAnswer> {
  try {
    const {access, broker} = context.serving
    if (access && !access.allows(principal, 'describe', topicResource(topic))) throw new LignumError('PERMISSION_DENIED', `${principal} may not describe topic "${topic}"`)
    if (timestamp < EARLIEST) throw new LignumError('INVALID_ARGUMENT', `ListOffsets timestamp ${timestamp} is not served; use -1 (latest), -2 (earliest) or a time`)
    const offset = await broker.listOffset(topic, partition, timestamp, currentLeaderEpoch)
    const leaderEpoch = broker.listedOffsetEpoch(topic, partition, timestamp, offset)
    if (timestamp === LATEST || timestamp === EARLIEST) return {partition, error: KafkaErrorCode.NONE, timestamp: UNKNOWN, offset, leaderEpoch}
    const pastTheEnd = offset >= (broker.localPartition(topic, partition)?.highWatermark ?? offset)
    return pastTheEnd ? {partition, error: KafkaErrorCode.NONE, timestamp: UNKNOWN, offset: UNKNOWN, leaderEpoch: UNKNOWN} : {partition, error: KafkaErrorCode.NONE, timestamp, offset, leaderEpoch}
  } catch (error) {
    return {partition, error: kafkaErrorCodeOf(error), timestamp: UNKNOWN, offset: UNKNOWN, leaderEpoch: -1}
  }
}
