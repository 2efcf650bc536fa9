/**
 * FetchResponse to bytes with one copy of its record batches, for Fetch and Subscribe: the
 * batches are nearly all of a response's bytes. The generated encoder copies them into its
 * writer, again when it joins the writer's chunks, and the generated serializer a third time
 * (Buffer.from of the result). Protobuf lets fields come in any order, so the generated code
 * encodes every other field and the batches follow as field 3:
 *
 *   [FetchResponse without record_batches] [0x1a] [varint byte length] [record batches]
 *
 * A response that also carries decoded records (decode=true, small by use) goes through the
 * generated encoder unchanged.
 */
import {FetchResponse} from '../generated/lignum/v1/lignum.js'

// Field 3 (record_batches), wire type 2 (length-delimited): (3 << 3) | 2.
const RECORD_BATCHES_TAG = 0x1a
// A varint carries 7 bits a byte; a uint32 length takes at most 5 bytes.
const VARINT_BYTES_MAX = 5
const NO_BYTES = Buffer.alloc(0)

export function encodeFetchResponse(response: FetchResponse): Buffer {
  const batches = response.recordBatches
  if (batches.length === 0 || response.records.length > 0) return Buffer.from(FetchResponse.encode(response).finish())
  const rest = FetchResponse.encode({...response, recordBatches: NO_BYTES}).finish()
  const output = Buffer.allocUnsafe(rest.length + 1 + VARINT_BYTES_MAX + batches.length)
  output.set(rest, 0)
  let position = rest.length
  output[position++] = RECORD_BATCHES_TAG
  position = writeUnsignedVarint(output, batches.length, position)
  position += batches.copy(output, position)
  return output.subarray(0, position)
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
