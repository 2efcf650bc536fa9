/**
 * ProduceRequest to bytes without copying its record batch, for Produce and ProduceStream: the
 * batch is nearly all of a request, and the generated encoder copies it into its writer, again
 * when it joins the writer's chunks, and the generated serializer a third time. Protobuf lets
 * fields come in any order, so the generated code encodes every small field and the batch
 * follows, last in its partition, which comes last in the request:
 *
 *   [request's other fields] [0x0a, varint length] [partition's other fields] [0x22, varint length] [batch]
 *
 * The producer encodes batches with room in front (format/headroom.ts): the prefix, and gRPC's
 * frame header before it, are written there. Without room (a batch sent again after a
 * reconnect: the room went to the first send) the batch is copied once. Requests with several
 * partitions or with records one by one go through the generated encoder unchanged.
 */
import {ProducePartition, ProduceRequest} from '../generated/lignum/v1/lignum.js'
import {messageEndingWith} from '../wire/grpc-framing.js'
import {fieldPrefixBytes, writeFieldPrefix} from '../wire/protobuf-fields.js'

const PARTITIONS_FIELD = 1
const RECORD_BATCH_FIELD = 4
const NO_BYTES = Buffer.alloc(0)

export function encodeProduceRequest(request: ProduceRequest): Buffer {
  const [partition] = request.partitions
  if (request.partitions.length !== 1 || partition.records.length > 0 || partition.recordBatch.length === 0) return Buffer.from(ProduceRequest.encode(request).finish())
  const batch = partition.recordBatch
  const requestRest = ProduceRequest.encode({...request, partitions: []}).finish()
  const partitionRest = ProducePartition.encode({...partition, recordBatch: NO_BYTES}).finish()
  const partitionBytes = partitionRest.length + fieldPrefixBytes(batch.length) + batch.length
  const prefixBytes = requestRest.length + fieldPrefixBytes(partitionBytes) + partitionRest.length + fieldPrefixBytes(batch.length)
  const output = messageEndingWith(batch, prefixBytes)
  output.set(requestRest, 0)
  const position = writeFieldPrefix(output, requestRest.length, PARTITIONS_FIELD, partitionBytes)
  output.set(partitionRest, position)
  writeFieldPrefix(output, position + partitionRest.length, RECORD_BATCH_FIELD, batch.length)
  return output
}
