/**
 * Produce (key 0), versions 3-11: record batches to partition leaders, byte for byte as the
 * client framed them; the broker checks each batch (CRC, layout, codec, sequence) and assigns
 * its offsets in the header, exactly as for gRPC's fast path.
 *
 *   Request:  transactional_id NULLABLE_STRING, acks INT16, timeout_ms INT32,
 *             topic_data ARRAY[name STRING, partition_data ARRAY[index INT32,
 *               records NULLABLE_BYTES]]                       (flexible from v9)
 *   Response: responses ARRAY[name STRING, partition_responses ARRAY[index INT32,
 *               error_code INT16, base_offset INT64, log_append_time_ms INT64,
 *               log_start_offset INT64 (v5+), record_errors ARRAY[batch_index INT32,
 *               batch_index_error_message NULLABLE_STRING] (v8+),
 *               error_message NULLABLE_STRING (v8+)]],
 *             throttle_time_ms INT32                          (flexible from v9)
 *
 * acks 0 gets no response at all, as in Kafka. Transactions are not served: a request with a
 * transactional_id is refused per partition (Kafka's TRANSACTIONAL_ID_AUTHORIZATION_FAILED
 * would mislead; INVALID_REQUEST says it). v12 (KIP-890) and v13 (topic ids) are not offered.
 */
import {LignumError} from '../../errors.js'
import {requireProduce} from '../../server/authorization.js'
import type {Acks} from '../../broker/broker.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {kafkaErrorCodeOf} from '../kafka-errors.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {KafkaReader} from '../protocol/kafka-reader.js'
import type {KafkaWriter} from '../protocol/kafka-writer.js'

const FIRST_LOG_START_OFFSET_VERSION = 5
const FIRST_ERROR_MESSAGE_VERSION = 8
// Kafka's log_append_time_ms when the topic keeps create time: -1.
const NO_LOG_APPEND_TIME = -1

interface PartitionData {
  index: number
  records: Buffer | null
}

interface TopicData {
  name: string
  partitions: PartitionData[]
}

interface PartitionAnswer {
  index: number
  baseOffset: number
  logStartOffset: number
  error?: unknown
}

export function produceApi(): KafkaApi<KafkaContext> {
  return {
    key: 0,
    name: 'Produce',
    minVersion: 3,
    maxVersion: 11,
    firstFlexibleVersion: 9,
    async handle(request, response) {
      const {body, flexible} = request
      const transactionalId = body.flexibleNullableString(flexible)
      const acks = acksOf(body.int16())
      const timeoutMs = body.int32()
      const topics = body.flexibleArray(flexible, (reader) => readTopicData(reader, flexible))
      if (flexible) body.skipTaggedFields()
      const answers = await Promise.all(topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(topic.partitions.map((partition) => producePartition(request.context, request.principal, topic.name, partition, acks, timeoutMs, transactionalId))),
      })))
      if (acks === 0) return false
      writeProduceResponse(response, request.header.apiVersion, flexible, answers)
      return true
    },
  }
}

function readTopicData(reader: KafkaReader, flexible: boolean): TopicData {
  const name = reader.flexibleString(flexible)
  const partitions = reader.flexibleArray(flexible, (partitionReader) => {
    const index = partitionReader.int32()
    const records = partitionReader.flexibleNullableBytes(flexible)
    if (flexible) partitionReader.skipTaggedFields()
    return {index, records}
  })
  if (flexible) reader.skipTaggedFields()
  return {name, partitions}
}

function acksOf(value: number): Acks | undefined {
  if (value === 0 || value === 1) return value
  if (value === -1) return 'all'
  return undefined
}

async function producePartition(context: KafkaContext, principal: string, topic: string, partition: PartitionData, acks: Acks | undefined, timeoutMs: number, transactionalId: string | null): Promise<PartitionAnswer> {
  try {
    if (acks === undefined) throw new LignumError('INVALID_ARGUMENT', 'acks must be 0, 1 or -1 (all)')
    if (transactionalId !== null) throw new LignumError('INVALID_ARGUMENT', `transactions are not supported (transactional.id "${transactionalId}"); produce without one`)
    if (partition.records === null || partition.records.length === 0) throw new LignumError('INVALID_ARGUMENT', `the produce request for ${topic}/${partition.index} has no records`)
    requireProduce(context.serving, principal, topic)
    const [result] = await context.serving.broker.produce({topic, partition: partition.index, batches: partition.records, acks, timeoutMs})
    if (acks === 0 || result === undefined) return {index: partition.index, baseOffset: -1, logStartOffset: -1}
    if (result.error) return {index: partition.index, baseOffset: -1, logStartOffset: -1, error: result.error}
    return {index: partition.index, baseOffset: result.baseOffset, logStartOffset: logStartOffsetOf(context, topic, partition.index)}
  } catch (error) {
    if (acks === 0) context.serving.logger.warn('kafka acks=0 produce failed', {topic, partition: partition.index, error})
    return {index: partition.index, baseOffset: -1, logStartOffset: -1, error}
  }
}

function logStartOffsetOf(context: KafkaContext, topic: string, index: number): number {
  return context.serving.broker.localPartition(topic, index)?.logStartOffset ?? -1
}

function writeProduceResponse(response: KafkaWriter, version: number, flexible: boolean, answers: {name: string; partitions: PartitionAnswer[]}[]): void {
  response.flexibleArray(flexible, answers, (writer, topic) => {
    writer.flexibleString(flexible, topic.name)
    writer.flexibleArray(flexible, topic.partitions, (partitionWriter, partition) => writePartitionAnswer(partitionWriter, version, flexible, partition))
    if (flexible) writer.emptyTaggedFields()
  })
  response.int32(0)
  if (flexible) response.emptyTaggedFields()
}

function writePartitionAnswer(writer: KafkaWriter, version: number, flexible: boolean, partition: PartitionAnswer): void {
  const errorCode = partition.error === undefined ? KafkaErrorCode.NONE : kafkaErrorCodeOf(partition.error)
  writer.int32(partition.index).int16(errorCode).int64(partition.baseOffset).int64(NO_LOG_APPEND_TIME)
  if (version >= FIRST_LOG_START_OFFSET_VERSION) writer.int64(partition.logStartOffset)
  if (version >= FIRST_ERROR_MESSAGE_VERSION) {
    writer.flexibleArray(flexible, [], () => {})
    writer.flexibleString(flexible, partition.error instanceof Error ? partition.error.message : null)
  }
  if (flexible) writer.emptyTaggedFields()
}
