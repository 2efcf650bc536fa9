/**
 * FetchResponse to bytes with at most one copy of its record batches, for Fetch and Subscribe:
 * the batches are nearly all of a response's bytes. The generated encoder copies them into its
 * writer, again when it joins the writer's chunks, and the generated serializer a third time
 * (Buffer.from of the result). Protobuf lets fields come in any order, so the generated code
 * encodes every other field and the batches follow as field 3:
 *
 *   [FetchResponse without record_batches] [0x1a] [varint byte length] [record batches]
 *
 * Batches read from the log carry free room in front (format/headroom.ts): the prefix, and
 * gRPC's frame header before it, are written there and the batches are not copied at all. A
 * response that also carries decoded records (decode=true, small by use) goes through the
 * generated encoder unchanged.
 */
import {FetchResponse} from '../generated/lignum/v1/lignum.js'
import {messageEndingWithBytesField} from '../wire/grpc-framing.js'

// FetchResponse.record_batches is field 3.
const RECORD_BATCHES_FIELD = 3
const NO_BYTES = Buffer.alloc(0)

export function encodeFetchResponse(response: FetchResponse): Buffer {
  const batches = response.recordBatches
  if (batches.length === 0 || response.records.length > 0) return Buffer.from(FetchResponse.encode(response).finish())
  // Batches read from the log have room in front: the prefix goes there, nothing is copied.
  return messageEndingWithBytesField(FetchResponse.encode({...response, recordBatches: NO_BYTES}).finish(), RECORD_BATCHES_FIELD, batches)
}
