import {expect} from 'chai'
import fc from 'fast-check'
import {LignumError} from '../../src/errors.js'
import {decodeRecordBatch, decodeRecordsAt, encodeRecordBatch, scanRecordBatch, type RecordInput} from '../../src/format/record-batch.js'

const bytes = fc.option(fc.uint8Array({maxLength: 40}).map((array) => Buffer.from(array)), {nil: null})
const recordArbitrary: fc.Arbitrary<RecordInput> = fc.record({
  key: bytes,
  value: bytes,
  headers: fc.array(fc.record({key: fc.string({maxLength: 5}), value: bytes}), {maxLength: 2}),
  timestamp: fc.integer({min: 0, max: 2_000_000_000_000}),
})

describe('batch layout (values and offsets without record objects)', () => {
  it('agrees with decodeRecordBatch on offsets, values and whole records', () => {
    fc.assert(
      fc.property(fc.array(recordArbitrary, {minLength: 1, maxLength: 20}), fc.nat(1_000_000), fc.constantFrom('none' as const, 'gzip' as const), (records, baseOffset, compression) => {
        const batch = encodeRecordBatch(records, {baseOffset, compression})
        const decoded = decodeRecordBatch(batch).records
        const layout = scanRecordBatch(batch)
        expect(layout.count).to.equal(decoded.length)
        decoded.forEach((record, index) => {
          expect(layout.header.baseOffset + layout.offsetDeltas[index]).to.equal(record.offset)
          const length = layout.valueLengths[index]
          expect(length === -1 ? null : layout.data.subarray(layout.valueStarts[index], layout.valueStarts[index] + length)).to.deep.equal(record.value)
        })
        const first = Math.floor(decoded.length / 2)
        expect(decodeRecordsAt(layout, first, decoded.length - first)).to.deep.equal(decoded.slice(first))
      }),
    )
  })

  it('refuses what decodeRecordBatch refuses: a flipped byte fails the CRC', () => {
    const batch = encodeRecordBatch([{key: null, value: Buffer.from('value')}])
    batch[batch.length - 2] ^= 0xff
    expect(() => scanRecordBatch(batch)).to.throw(LignumError, /CRC/)
  })
})
