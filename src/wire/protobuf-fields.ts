/**
 * Hand-written protobuf around a message's large `bytes` fields (record batches). Protobuf lets
 * a message's fields come in any order, so a codec can encode every small field with the
 * generated code and append the large one last, behind a prefix written here; and decode by
 * taking the large field out as a view and handing the small rest to the generated decoder.
 * Either way the generated code never copies megabytes (it copies `bytes` fields in and out).
 */
import {BinaryReader, WireType} from '@bufbuild/protobuf/wire'

/** Wire type 2: a varint byte length, then that many bytes (strings, bytes, messages). */
const LENGTH_DELIMITED = 2

/** The tag byte of a length-delimited field numbered below 16 (one byte, as all ours are). */
function lengthDelimitedTag(fieldNumber: number): number {
  if (fieldNumber < 1 || fieldNumber > 15) throw new RangeError(`field ${fieldNumber} needs a tag longer than one byte`)
  return (fieldNumber << 3) | LENGTH_DELIMITED
}

/** Bytes taken by the tag and length in front of a length-delimited field of `length` bytes. */
export function fieldPrefixBytes(length: number): number {
  return 1 + unsignedVarintBytes(length)
}

/** Writes a field's tag and length at `position`; returns the position after them. */
export function writeFieldPrefix(buffer: Buffer, position: number, fieldNumber: number, length: number): number {
  buffer[position] = lengthDelimitedTag(fieldNumber)
  return writeUnsignedVarint(buffer, length, position + 1)
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

export interface SplitFields {
  /** The fields taken out, each a view of the message's bytes, in the order they came. */
  taken: Buffer[]
  /** Every other field, in order: for the generated decoder. */
  rest: Buffer
}

/** Takes the occurrences of length-delimited field `fieldNumber` out of `bytes` without copying them. */
export function takeField(bytes: Buffer, fieldNumber: number): SplitFields {
  const reader = new BinaryReader(bytes)
  const taken: Buffer[] = []
  const restParts: Buffer[] = []
  let restStart = 0
  while (reader.pos < reader.len) {
    const fieldStart = reader.pos
    const [field, wireType] = reader.tag()
    if (field !== fieldNumber || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, field)
      continue
    }
    const view = reader.bytes()
    taken.push(Buffer.from(view.buffer, view.byteOffset, view.byteLength))
    restParts.push(bytes.subarray(restStart, fieldStart))
    restStart = reader.pos
  }
  restParts.push(bytes.subarray(restStart))
  return {taken, rest: restParts.length === 1 ? restParts[0] : Buffer.concat(restParts)}
}
