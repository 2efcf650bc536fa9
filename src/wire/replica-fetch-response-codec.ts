/**
 * ReplicaFetchResponse to and from bytes without copying its record batches, both halves here
 * because leader and follower are both nodes. Encoding (the leader), as
 * server/fetch-response-codec.ts does for FetchResponse: the generated encoder writes the small
 * fields, the batches follow as field 1, and the prefix (with gRPC's frame header before it)
 * goes into the free room log reads carry in front (format/headroom.ts). A follower's fetch is then sent from the very
 * buffer the log read filled. Decoding (the follower) takes the batches out as a view of the
 * received message, as client/fetch-response-codec.ts does.
 *
 *   [ReplicaFetchResponse without record_batches] [0x0a] [varint byte length] [record batches]
 */
import {ReplicaFetchResponse} from '../generated/lignum/v1/lignum.js'
import {messageEndingWithBytesField} from './grpc-framing.js'
import {takeField} from './protobuf-fields.js'

// ReplicaFetchResponse.record_batches is field 1.
const RECORD_BATCHES_FIELD = 1
const NO_BYTES = Buffer.alloc(0)

export function encodeReplicaFetchResponse(response: ReplicaFetchResponse): Buffer {
  const batches = response.recordBatches
  if (batches.length === 0) return Buffer.from(ReplicaFetchResponse.encode(response).finish())
  return messageEndingWithBytesField(ReplicaFetchResponse.encode({...response, recordBatches: NO_BYTES}).finish(), RECORD_BATCHES_FIELD, batches)
}

/** The follower's half: record_batches becomes a view into the received message (the last occurrence wins, as in protobuf). */
export function decodeReplicaFetchResponse(bytes: Buffer): ReplicaFetchResponse {
  const {taken, rest} = takeField(bytes, RECORD_BATCHES_FIELD)
  const response = ReplicaFetchResponse.decode(rest)
  if (taken.length > 0) response.recordBatches = taken[taken.length - 1]
  return response
}
