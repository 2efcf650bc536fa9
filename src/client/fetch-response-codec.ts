/**
 * FetchResponse from bytes without copying its record batches, for Fetch and Subscribe: the
 * generated decoder copies them (Buffer.from of a view), and they are nearly all of a response.
 * Here `record_batches` (field 3) becomes a view into the received message, and the generated
 * decoder reads every other field from the few bytes around it:
 *
 *   [fields...] [0x1a, varint length, record batches] [fields...]   (any order, as protobuf allows)
 *
 * As in protobuf, the last occurrence of field 3 wins.
 */
import {BinaryReader, WireType} from '@bufbuild/protobuf/wire'
import {FetchResponse} from '../generated/lignum/v1/lignum.js'

const RECORD_BATCHES_FIELD = 3

export function decodeFetchResponse(bytes: Buffer): FetchResponse {
  const reader = new BinaryReader(bytes)
  const otherFields: Buffer[] = []
  let batches: Buffer | undefined
  let otherStart = 0
  while (reader.pos < reader.len) {
    const fieldStart = reader.pos
    const [field, wireType] = reader.tag()
    if (field !== RECORD_BATCHES_FIELD || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, field)
      continue
    }
    const view = reader.bytes()
    batches = Buffer.from(view.buffer, view.byteOffset, view.byteLength)
    otherFields.push(bytes.subarray(otherStart, fieldStart))
    otherStart = reader.pos
  }
  otherFields.push(bytes.subarray(otherStart))
  const response = FetchResponse.decode(otherFields.length === 1 ? otherFields[0] : Buffer.concat(otherFields))
  if (batches) response.recordBatches = batches
  return response
}
