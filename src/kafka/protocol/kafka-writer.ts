/**
 * Builds one Kafka response body in the primitive types of the protocol guide (see
 * kafka-reader.ts for the grammar). Small fields go into a scratch buffer that doubles as it
 * fills; a large byte field (a fetch's record batches) is kept as its own chunk, not copied,
 * so batches go from the log to the socket untouched. `chunks()` hands the whole body over
 * for one vectored write.
 *
 * A chunk borrowed from the buffer pool (a log read, format/headroom.ts) is named with
 * `recycleOnceWritten`: the connection gives it back once the socket has taken the response,
 * so a consumer's fetches reuse their megabytes instead of leaving them to the collector.
 *
 * Invariant: the sum of the chunks' lengths is `lengthBytes`.
 */
import {assert} from '../../assert.js'

const SCRATCH_BYTES_INITIAL = 256
// Byte fields at least this large are passed through as chunks of their own; smaller ones are
// cheaper to copy than to hand to writev as separate buffers.
const PASS_THROUGH_BYTES_MIN = 4096

export class KafkaWriter {
  private readonly done: Buffer[] = []
  private readonly borrowed: Buffer[] = []
  private scratch = Buffer.allocUnsafe(SCRATCH_BYTES_INITIAL)
  private used = 0
  private doneBytes = 0

  get lengthBytes(): number {
    return this.doneBytes + this.used
  }

  int8(value: number): this {
    this.room(1).writeInt8(value, this.used)
    this.used += 1
    return this
  }

  boolean(value: boolean): this {
    return this.int8(value ? 1 : 0)
  }

  int16(value: number): this {
    this.room(2).writeInt16BE(value, this.used)
    this.used += 2
    return this
  }

  int32(value: number): this {
    this.room(4).writeInt32BE(value, this.used)
    this.used += 4
    return this
  }

  uint32(value: number): this {
    this.room(4).writeUInt32BE(value, this.used)
    this.used += 4
    return this
  }

  int64(value: number | bigint): this {
    this.room(8).writeBigInt64BE(BigInt(value), this.used)
    this.used += 8
    return this
  }

  unsignedVarint(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, `UNSIGNED_VARINT ${value} is a 32-bit unsigned integer`)
    const buffer = this.room(5)
    let rest = value
    while (rest >= 0x80) {
      buffer[this.used++] = (rest % 0x80) | 0x80
      rest = Math.floor(rest / 0x80)
    }
    buffer[this.used++] = rest
    return this
  }

  varint(value: number): this {
    return this.unsignedVarint(value >= 0 ? value * 2 : -value * 2 - 1)
  }

  uuid(value: Buffer): this {
    assert(value.length === 16, 'a UUID is 16 bytes')
    return this.raw(value)
  }

  nullableString(value: string | null): this {
    if (value === null) return this.int16(-1)
    const bytes = Buffer.from(value, 'utf8')
    assert(bytes.length <= 0x7fff, 'a STRING fits an INT16 length')
    return this.int16(bytes.length).raw(bytes)
  }

  compactNullableString(value: string | null): this {
    if (value === null) return this.unsignedVarint(0)
    const bytes = Buffer.from(value, 'utf8')
    return this.unsignedVarint(bytes.length + 1).raw(bytes)
  }

  /** STRING or COMPACT_STRING (nullable or not: the encoding of a present value is the same). */
  flexibleString(flexible: boolean, value: string | null): this {
    return flexible ? this.compactNullableString(value) : this.nullableString(value)
  }

  flexibleBytes(flexible: boolean, value: Buffer | null): this {
    if (flexible) return value === null ? this.unsignedVarint(0) : this.unsignedVarint(value.length + 1).raw(value)
    return value === null ? this.int32(-1) : this.int32(value.length).raw(value)
  }

  /** ARRAY or COMPACT_ARRAY; null writes the null array. */
  flexibleArray<T>(flexible: boolean, elements: readonly T[] | null, element: (writer: KafkaWriter, value: T) => void): this {
    if (elements === null) return flexible ? this.unsignedVarint(0) : this.int32(-1)
    if (flexible) this.unsignedVarint(elements.length + 1)
    else this.int32(elements.length)
    for (const value of elements) element(this, value)
    return this
  }

  /** An empty TAGGED_FIELDS section: Lignum writes no optional tags yet. */
  emptyTaggedFields(): this {
    return this.unsignedVarint(0)
  }

  raw(bytes: Buffer): this {
    if (bytes.length >= PASS_THROUGH_BYTES_MIN) {
      this.flushScratch()
      this.done.push(bytes)
      this.doneBytes += bytes.length
      return this
    }
    bytes.copy(this.room(bytes.length), this.used)
    this.used += bytes.length
    return this
  }

  /**
   * `buffer` (a pooled log read) has no reader left once this response is written: the
   * connection recycles it then. Only for a caller holding the last view of it.
   */
  recycleOnceWritten(buffer: Buffer): this {
    this.borrowed.push(buffer)
    return this
  }

  /** What recycleOnceWritten named, for the connection to give back after the write. */
  recyclable(): readonly Buffer[] {
    return this.borrowed
  }

  /** The body as buffers to write in order. The writer must not be used afterwards. */
  chunks(): Buffer[] {
    this.flushScratch()
    return this.done
  }

  /** The body as one buffer (tests, small responses). */
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks())
  }

  private flushScratch(): void {
    if (this.used === 0) return
    this.done.push(this.scratch.subarray(0, this.used))
    this.doneBytes += this.used
    this.scratch = Buffer.allocUnsafe(Math.max(SCRATCH_BYTES_INITIAL, this.scratch.length - this.used))
    this.used = 0
  }

  private room(length: number): Buffer {
    if (this.used + length > this.scratch.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.used + length))
      this.scratch.copy(grown, 0, 0, this.used)
      this.scratch = grown
    }
    return this.scratch
  }
}
