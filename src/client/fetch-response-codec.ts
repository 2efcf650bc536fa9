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
import {FetchResponse} from '../generated/lignum/v1/lignum.js'
import {takeField} from '../wire/protobuf-fields.js'

const RECORD_BATCHES_FIELD = 3

export function decodeFetchResponse(bytes: Buffer): FetchResponse {
  const {taken, rest} = takeField(bytes, RECORD_BATCHES_FIELD)
  const response = FetchResponse.decode(rest)
  if (taken.length > 0) response.recordBatches = taken[taken.length - 1]
  return response
}
