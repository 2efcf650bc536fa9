/**
 * ProduceRequest from bytes without copying its record batches, for Produce and ProduceStream:
 * the generated decoder copies each `record_batch` (Buffer.from of a view), and the batches
 * are nearly all of a request. Here each partition's batch becomes a view into the received
 * message (grpc-js hands every message over in a buffer of its own, so nothing else writes
 * there), and the generated decoder reads every other field. As in protobuf, the last
 * occurrence of a partition's record_batch wins.
 */
import {ProducePartition, ProduceRequest} from '../generated/lignum/v1/lignum.js'
import {takeField} from '../wire/protobuf-fields.js'

const PARTITIONS_FIELD = 1
const RECORD_BATCH_FIELD = 4

export function decodeProduceRequest(bytes: Buffer): ProduceRequest {
  const {taken: partitions, rest} = takeField(bytes, PARTITIONS_FIELD)
  const request = ProduceRequest.decode(rest)
  request.partitions = partitions.map(decodeProducePartition)
  return request
}

function decodeProducePartition(bytes: Buffer): ProducePartition {
  const {taken: batches, rest} = takeField(bytes, RECORD_BATCH_FIELD)
  const partition = ProducePartition.decode(rest)
  if (batches.length > 0) partition.recordBatch = batches[batches.length - 1]
  return partition
}
