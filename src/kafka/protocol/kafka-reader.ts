/**
 * A cursor over one Kafka request body: every read checks the bytes left before it touches
 * them, and a length field is checked against what is left before anything is allocated, so a
 * request that lies about a length costs nothing but the MalformedRequest it gets.
 *
 * The grammar's primitive types, as Kafka's protocol guide names them:
 *
 *   INT8 INT16 INT32 INT64            big-endian, signed
 *   UNSIGNED_VARINT / VARINT          base-128, little-endian groups; VARINT is zigzag
 *   STRING        INT16 length, UTF-8       NULLABLE_STRING: length -1 is null
 *   COMPACT_STRING UNSIGNED_VARINT length+1  COMPACT_NULLABLE_STRING: 0 is null
 *   BYTES         INT32 length              COMPACT_BYTES: UNSIGNED_VARINT length+1
 *   ARRAY         INT32 count (-1 null)     COMPACT_ARRAY: UNSIGNED_VARINT count+1 (0 null)
 *   UUID          16 bytes
 *   TAGGED_FIELDS UNSIGNED_VARINT count, then per field: UNSIGNED_VARINT tag,
 *                 UNSIGNED_VARINT size, size bytes (unknown tags are skipped)
 *
 * Invariant: offset never passes the end of the buffer.
 */
import {MalformedRequest} from './malformed-request.js'

// An UNSIGNED_VARINT of a 32-bit value takes at most 5 groups of 7 bits.
const UNSIGNED_VARINT_BYTES_MAX = 5
// Every count read here (array elements, tagged fields) needs at least one byte per element,
// so a count larger than the bytes left is a lie and is refused before any allocation.
const ELEMENT_BYTES_MIN = 1

export class KafkaReader {
  private offset = 0

  constructor(private readonly buffer: Buffer) {}

  get remainingBytes(): number {
    return this.buffer.length - this.offset
  }

  get positionBytes(): number {
    return this.offset
  }

  int8(): number {
    this.need(1, 'INT8')
    return this.buffer.readInt8(this.offset++)
  }

  boolean(): boolean {
    return this.int8() !== 0
  }

  int16(): number {
    this.need(2, 'INT16')
    const value = this.buffer.readInt16BE(this.offset)
    this.offset += 2
    return value
  }

  int32(): number {
    this.need(4, 'INT32')
    const value = this.buffer.readInt32BE(this.offset)
    this.offset += 4
    return value
  }

  uint32(): number {
    this.need(4, 'UINT32')
    const value = this.buffer.readUInt32BE(this.offset)
    this.offset += 4
    return value
  }

  int64(): bigint {
    this.need(8, 'INT64')
    const value = this.buffer.readBigInt64BE(this.offset)
    this.offset += 8
    return value
  }

  /** An INT64 that Lignum keeps as a number (offsets, timestamps, ids below 2^53); refused otherwise. */
  int64Number(what: string): number {
    const value = this.int64()
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new MalformedRequest(`${what} ${value} is outside the range Lignum accepts (±2^53)`)
    }
    return Number(value)
  }

  unsignedVarint(): number {
    let value = 0
    for (let shift = 0, groups = 0; groups < UNSIGNED_VARINT_BYTES_MAX; shift += 7, groups++) {
      this.need(1, 'UNSIGNED_VARINT')
      const byte = this.buffer[this.offset++]!
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) break
        return value
      }
    }
    throw new MalformedRequest(`an UNSIGNED_VARINT at byte ${this.offset} is longer than 32 bits`)
  }

  varint(): number {
    const zigzag = this.unsignedVarint()
    return zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2
  }

  uuid(): Buffer {
    return this.take(16, 'UUID')
  }

  string(): string {
    const value = this.nullableString()
    if (value === null) throw new MalformedRequest(`a STRING at byte ${this.offset - 2} is null`)
    return value
  }

  nullableString(): string | null {
    const length = this.int16()
    if (length === -1) return null
    if (length < 0) throw new MalformedRequest(`a STRING length ${length} is negative`)
    return this.take(length, 'STRING').toString('utf8')
  }

  compactString(): string {
    const value = this.compactNullableString()
    if (value === null) throw new MalformedRequest(`a COMPACT_STRING at byte ${this.offset - 1} is null`)
    return value
  }

  compactNullableString(): string | null {
    const lengthPlusOne = this.unsignedVarint()
    if (lengthPlusOne === 0) return null
    return this.take(lengthPlusOne - 1, 'COMPACT_STRING').toString('utf8')
  }

  /** STRING or COMPACT_STRING, as the version in use is flexible or not. */
  flexibleString(flexible: boolean): string {
    return flexible ? this.compactString() : this.string()
  }

  flexibleNullableString(flexible: boolean): string | null {
    return flexible ? this.compactNullableString() : this.nullableString()
  }

  /** The bytes of a BYTES or NULLABLE_BYTES field, a view into the request (not copied). */
  nullableBytes(): Buffer | null {
    const length = this.int32()
    if (length === -1) return null
    if (length < 0) throw new MalformedRequest(`a BYTES length ${length} is negative`)
    return this.take(length, 'BYTES')
  }

  compactNullableBytes(): Buffer | null {
    const lengthPlusOne = this.unsignedVarint()
    if (lengthPlusOne === 0) return null
    return this.take(lengthPlusOne - 1, 'COMPACT_BYTES')
  }

  flexibleNullableBytes(flexible: boolean): Buffer | null {
    return flexible ? this.compactNullableBytes() : this.nullableBytes()
  }

  flexibleBytes(flexible: boolean): Buffer {
    const value = this.flexibleNullableBytes(flexible)
    if (value === null) throw new MalformedRequest(`a BYTES field at byte ${this.offset} is null`)
    return value
  }

  /** ARRAY or COMPACT_ARRAY of elements read by `element`; null stays null. */
  flexibleNullableArray<T>(flexible: boolean, element: (reader: KafkaReader) => T): T[] | null {
    const count = flexible ? this.unsignedVarint() - 1 : this.int32()
    if (count === -1) return null
    if (count < 0) throw new MalformedRequest(`an ARRAY count ${count} is negative`)
    if (count * ELEMENT_BYTES_MIN > this.remainingBytes) {
      throw new MalformedRequest(`an ARRAY claims ${count} elements but only ${this.remainingBytes} bytes are left`)
    }
    const elements: T[] = []
    for (let index = 0; index < count; index++) elements.push(element(this))
    return elements
  }

  flexibleArray<T>(flexible: boolean, element: (reader: KafkaReader) => T): T[] {
    return this.flexibleNullableArray(flexible, element) ?? []
  }

  /** Skips a TAGGED_FIELDS section: Lignum reads none of the optional tags yet. */
  skipTaggedFields(): void {
    const count = this.unsignedVarint()
    if (count * ELEMENT_BYTES_MIN > this.remainingBytes) {
      throw new MalformedRequest(`TAGGED_FIELDS claims ${count} fields but only ${this.remainingBytes} bytes are left`)
    }
    for (let index = 0; index < count; index++) {
      this.unsignedVarint()
      this.take(this.unsignedVarint(), 'tagged field')
    }
  }

  /** The rest of the buffer, a view (not copied). */
  rest(): Buffer {
    return this.take(this.remainingBytes, 'rest')
  }

  private take(length: number, what: string): Buffer {
    this.need(length, what)
    const slice = this.buffer.subarray(this.offset, this.offset + length)
    this.offset += length
    return slice
  }

  private need(length: number, what: string): void {
    if (length > this.remainingBytes) {
      throw new MalformedRequest(`${what} at byte ${this.offset} needs ${length} bytes, only ${this.remainingBytes} are left`)
    }
  }
}
