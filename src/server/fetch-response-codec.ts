/**
 * FetchResponse to bytes with at most one copy of its record batches, for Fetch and Subscribe:
 * the batches are nearly all of a response's bytes. The generated encoder copies them into its
 * writer, again when it joins the writer's chunks, and the generated serializer a third time
 * (Buffer.from of the result). Protobuf lets fields come in any order, so the generated code
 * encodes every other field and the batches follow as field 3:
 *
 *   [FetchResponse without record_batches] [0x1a] [varint byte length] [record batches]
 *
 * Batches read from the log carry free room in front (log/read-headroom.ts): the prefix, and
 * gRPC's frame header before it, are written there and the batches are not copied at all. A response that also carries decoded
 * records (decode=true, small by use) goes through the generated encoder unchanged.
 */
import {FetchResponse} from '../generated/lignum/v1/lignum.js'
import {claimHeadroom} from '../log/read-headroom.js'
import {GRPC_FRAME_BYTES, withFrameRoom} from './grpc-framing.js'

// Field 3 (record_batches), wire type 2 (length-delimited): (3 << 3) | 2.
const RECORD_BATCHES_TAG = 0x1a
const NO_BYTES = Buffer.alloc(0)

export function encodeFetchResponse(response: FetchResponse): Buffer {
  const batches = response.recordBatches
  if (batches.length === 0 || response.records.length > 0) return Buffer.from(FetchResponse.encode(response).finish())
  const rest = FetchResponse.encode({...response, recordBatches: NO_BYTES}).finish()
  const prefixBytes = rest.length + 1 + unsignedVarintBytes(batches.length)
  // Batches read from the log have room in front: write the prefix there, leave room for
  // gRPC's frame header before it (grpc-framing.ts), and copy nothing.
  const inPlace = claimHeadroom(batches, GRPC_FRAME_BYTES + prefixBytes)?.subarray(GRPC_FRAME_BYTES)
  const output = inPlace ? withFrameRoom(inPlace) : Buffer.allocUnsafe(prefixBytes + batches.length)
  output.set(rest, 0)
  output[rest.length] = RECORD_BATCHES_TAG
  writeUnsignedVarint(output, batches.length, rest.length + 1)
  if (!inPlace) batches.copy(output, prefixBytes)
  return output
}

function unsignedVarintBytes(value: number): number {
  let bytes = 1
  for (let rest = value >>> 7; rest > 0; rest >>>= 7) bytes++
  return bytes
}

function writeUnsignedVarint(buffer: Buffer, value: number, position: number): number {
  let rest = value
  while (rest >= 0x80) {
    buffer[position++] = (rest & 0x7f) | 0x80
    rest >>>= 7
  }
  buffer[position++] = rest
  return position
}
