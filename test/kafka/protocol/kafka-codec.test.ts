import {expect} from 'chai'
import fc from 'fast-check'
import {KafkaReader} from '../../../src/kafka/protocol/kafka-reader.js'
import {KafkaWriter} from '../../../src/kafka/protocol/kafka-writer.js'
import {MalformedRequest} from '../../../src/kafka/protocol/malformed-request.js'

describe('kafka protocol codec', () => {
  it('writes the protocol guide\'s encodings byte for byte', () => {
    const bytes = new KafkaWriter()
      .int16(-1)
      .unsignedVarint(300)
      .varint(-1)
      .nullableString('ab')
      .compactNullableString('ab')
      .compactNullableString(null)
      .flexibleArray(true, [1, 2], (writer, value) => writer.int8(value))
      .flexibleArray(false, null, () => {})
      .emptyTaggedFields()
      .toBuffer()
    expect(bytes.toString('hex')).to.equal(['ffff', 'ac02', '01', '00026162', '036162', '00', '030102', 'ffffffff', '00'].join(''))
  })

  it('reads back what it writes, for any values', () => {
    fc.assert(
      fc.property(
        fc.integer({min: 0, max: 0xffffffff}),
        fc.integer({min: -(2 ** 31), max: 2 ** 31 - 1}),
        fc.option(fc.string()),
        fc.option(fc.uint8Array({maxLength: 5000})),
        fc.array(fc.integer({min: -(2 ** 31), max: 2 ** 31 - 1}), {maxLength: 20}),
        fc.boolean(),
        (unsigned, signed, text, bytes, numbers, flexible) => {
          const writer = new KafkaWriter()
            .unsignedVarint(unsigned)
            .varint(signed)
            .flexibleString(flexible, text)
            .flexibleBytes(flexible, bytes === null ? null : Buffer.from(bytes))
            .flexibleArray(flexible, numbers, (w, value) => w.int32(value))
            .int64(BigInt(signed) * 1000n)
          const reader = new KafkaReader(writer.toBuffer())
          expect(reader.unsignedVarint()).to.equal(unsigned)
          expect(reader.varint()).to.equal(signed)
          expect(reader.flexibleNullableString(flexible)).to.equal(text)
          const readBytes = reader.flexibleNullableBytes(flexible)
          expect(readBytes === null ? null : [...readBytes]).to.deep.equal(bytes === null ? null : [...bytes])
          expect(reader.flexibleArray(flexible, (r) => r.int32())).to.deep.equal(numbers)
          expect(reader.int64Number('value')).to.equal(signed * 1000)
          expect(reader.remainingBytes).to.equal(0)
        },
      ),
    )
  })

  it('keeps a large byte field as its own chunk instead of copying it', () => {
    const batch = Buffer.alloc(64 * 1024, 7)
    const chunks = new KafkaWriter().int32(1).flexibleBytes(false, batch).int16(2).chunks()
    expect(chunks.some((chunk) => chunk === batch)).to.equal(true)
    expect(Buffer.concat(chunks).length).to.equal(4 + 4 + batch.length + 2)
  })

  it('refuses a length that claims more bytes than are left, before allocating', () => {
    const lies = [
      new KafkaWriter().int16(1000).toBuffer(), // STRING of 1000 bytes, none there
      new KafkaWriter().int32(0x7fffffff).toBuffer(), // BYTES of 2 GiB
      new KafkaWriter().int32(0x7fffffff).toBuffer(), // ARRAY of 2^31 elements
      new KafkaWriter().unsignedVarint(0xffffffff).toBuffer(), // COMPACT_ARRAY of 2^32 - 2
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // an UNSIGNED_VARINT past 32 bits
    ]
    const reads: ((reader: KafkaReader) => unknown)[] = [
      (r) => r.string(),
      (r) => r.nullableBytes(),
      (r) => r.flexibleArray(false, (e) => e.int8()),
      (r) => r.flexibleArray(true, (e) => e.int8()),
      (r) => r.unsignedVarint(),
    ]
    lies.forEach((bytes, index) => expect(() => reads[index]!(new KafkaReader(bytes))).to.throw(MalformedRequest))
  })

  it('refuses an INT64 Lignum cannot hold as a number', () => {
    const reader = new KafkaReader(new KafkaWriter().int64(2n ** 60n).toBuffer())
    expect(() => reader.int64Number('offset')).to.throw(MalformedRequest, /offset 1152921504606846976/)
  })
})
