import {expect} from 'chai'
import fc from 'fast-check'
import {crc32c} from '@node-rs/crc32'
import {LignumError} from '../../src/errors.js'
import {
  BATCH_HEADER_BYTES,
  batchPositions,
  decodeRecordBatch,
  encodeRecordBatch,
  isBatchCrcValid,
  readBatchHeader,
  setBaseOffset,
  setPartitionLeaderEpoch,
  type RecordInput,
} from '../../src/format/record-batch.js'
import {referenceCrc32c} from '../log/helpers.js'
import {CODEC_NAMES, type CompressionCodec} from '../../src/format/compression.js'

/** One record, value "a", null key, no headers, timestamp 1000, written out field by field from Kafka's spec. */
function goldenBatch(): Buffer {
  const record = Buffer.from([0x0e, 0x00, 0x00, 0x00, 0x01, 0x02, 0x61, 0x00]) // length 7 (zigzag 14), attrs, tsDelta 0, offsetDelta 0, key -1, value len 1, 'a', 0 headers
  const afterCrc = Buffer.concat([
    Buffer.from([0x00, 0x00]), // attributes: no codec, create time
    Buffer.from([0x00, 0x00, 0x00, 0x00]), // lastOffsetDelta
    Buffer.from([0, 0, 0, 0, 0, 0, 0x03, 0xe8]), // baseTimestamp 1000
    Buffer.from([0, 0, 0, 0, 0, 0, 0x03, 0xe8]), // maxTimestamp 1000
    Buffer.alloc(8, 0xff), // producerId -1
    Buffer.from([0xff, 0xff]), // producerEpoch -1
    Buffer.alloc(4, 0xff), // baseSequence -1
    Buffer.from([0, 0, 0, 1]), // recordCount
    record,
  ])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(referenceCrc32c(afterCrc))
  return Buffer.concat([
    Buffer.alloc(8), // baseOffset 0
    Buffer.from([0, 0, 0, 57]), // batchLength: 69 - 12
    Buffer.alloc(4, 0xff), // partitionLeaderEpoch -1
    Buffer.from([2]), // magic
    crc,
    afterCrc,
  ])
}

const arbitraryRecord: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(fc.uint8Array({maxLength: 40}).map((bytes) => Buffer.from(bytes)), {nil: null}),
  value: fc.option(fc.uint8Array({maxLength: 300}).map((bytes) => Buffer.from(bytes)), {nil: null}),
  headers: fc.array(fc.record({key: fc.string({maxLength: 10}), value: fc.option(fc.uint8Array({maxLength: 20}).map((b) => Buffer.from(b)), {nil: null})}), {maxLength: 3}),
  timestamp: fc.integer({min: 0, max: 2 ** 45}),
})

describe('record batch (Kafka message format v2)', () => {
  it('uses CRC-32C (Castagnoli), checked against the standard test vector', () => {
    expect(crc32c(Buffer.from('123456789')) >>> 0).to.equal(0xe3069283)
    expect(referenceCrc32c(Buffer.from('123456789'))).to.equal(0xe3069283)
  })

  it('encodes a one-record batch byte for byte as the spec lays it out', () => {
    const encoded = encodeRecordBatch([{key: null, value: Buffer.from('a'), timestamp: 1000}])
    expect(encoded.toString('hex')).to.equal(goldenBatch().toString('hex'))
    expect(encoded.length).to.equal(BATCH_HEADER_BYTES + 8)
  })

  it('decodes the golden bytes', () => {
    const {header, records} = decodeRecordBatch(goldenBatch())
    expect(header).to.include({baseOffset: 0, batchLength: 57, magic: 2, compression: 'none', timestampType: 'create', recordCount: 1, lastOffset: 0, sizeBytes: 69, producerId: -1, producerEpoch: -1, baseSequence: -1, partitionLeaderEpoch: -1})
    expect(records).to.deep.equal([{offset: 0, timestamp: 1000, key: null, value: Buffer.from('a'), headers: []}])
  })

  it('round-trips keys, values, nulls, headers and timestamps out of order', () => {
    const input: RecordInput[] = [
      {key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [{key: 'h', value: Buffer.from('x')}, {key: 'ü', value: null}], timestamp: 5000},
      {key: null, value: null, timestamp: 4000},
      {key: Buffer.alloc(0), value: Buffer.alloc(300, 7), timestamp: 2 ** 42},
    ]
    const encoded = encodeRecordBatch(input, {baseOffset: 40, producerId: 9, producerEpoch: 2, baseSequence: 17, partitionLeaderEpoch: 3})
    const {header, records} = decodeRecordBatch(encoded)
    expect(header).to.include({baseOffset: 40, lastOffset: 42, baseTimestamp: 5000, maxTimestamp: 2 ** 42, producerId: 9, producerEpoch: 2, baseSequence: 17, partitionLeaderEpoch: 3})
    expect(records.map((r) => r.offset)).to.deep.equal([40, 41, 42])
    expect(records.map((r) => r.timestamp)).to.deep.equal([5000, 4000, 2 ** 42])
    expect(records[0].headers).to.deep.equal([{key: 'h', value: Buffer.from('x')}, {key: 'ü', value: null}])
    expect(records[1]).to.include({key: null, value: null})
    expect(records[2].key).to.deep.equal(Buffer.alloc(0))
  })

  it('round-trips gzip with codec id 1 in the attributes', () => {
    const input = Array.from({length: 50}, (_, index) => ({key: null, value: Buffer.from(`value ${index}`), timestamp: 1000 + index}))
    const encoded = encodeRecordBatch(input, {compression: 'gzip'})
    expect(encoded.readInt16BE(21) & 7).to.equal(1)
    const {header, records} = decodeRecordBatch(encoded)
    expect(header.compression).to.equal('gzip')
    expect(records.map((r) => r.value?.toString())).to.deep.equal(input.map((r) => r.value.toString()))
  })

  it('round-trips any records (property)', () => {
    fc.assert(
      fc.property(fc.array(arbitraryRecord, {minLength: 1, maxLength: 20}), fc.constantFrom<CompressionCodec>(...CODEC_NAMES), (input, compression) => {
        const {records} = decodeRecordBatch(encodeRecordBatch(input, {compression}))
        expect(records.map((r) => ({key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp}))).to.deep.equal(input.map((r) => ({key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp})))
      }),
      {numRuns: 200},
    )
  })

  it('names the codec it cannot decode instead of returning garbage', () => {
    const encoded = encodeRecordBatch([{key: null, value: Buffer.from('x')}])
    for (const [id, name] of [[5, 'codec id 5'], [6, 'codec id 6'], [7, 'codec id 7']] as const) {
      const copy = Buffer.from(encoded)
      copy.writeInt16BE(id, 21)
      copy.writeUInt32BE(crc32c(copy.subarray(21)) >>> 0, 17)
      expect(() => decodeRecordBatch(copy)).to.throw(LignumError, name).with.property('code', 'UNSUPPORTED_CODEC')
    }
  })

  it('rejects a flipped byte by CRC and a cut batch by length', () => {
    const encoded = encodeRecordBatch([{key: null, value: Buffer.from('hello')}])
    const flipped = Buffer.from(encoded)
    flipped[flipped.length - 3] ^= 0x01
    expect(isBatchCrcValid(flipped)).to.equal(false)
    expect(() => decodeRecordBatch(flipped)).to.throw(LignumError, /CRC/).with.property('code', 'CORRUPT_RECORD')
    expect(() => decodeRecordBatch(encoded.subarray(0, encoded.length - 1))).to.throw(LignumError, /cut short/)
    expect(() => readBatchHeader(encoded.subarray(0, 30))).to.throw(LignumError).with.property('code', 'CORRUPT_RECORD')
    const badMagic = Buffer.from(encoded)
    badMagic[16] = 1
    expect(() => readBatchHeader(badMagic)).to.throw(LignumError, /magic 1/)
  })

  it('rewrites base offset and leader epoch outside the CRC', () => {
    const encoded = encodeRecordBatch([{key: null, value: Buffer.from('a')}, {key: null, value: Buffer.from('b')}])
    setBaseOffset(encoded, 2 ** 40)
    setPartitionLeaderEpoch(encoded, 7)
    expect(isBatchCrcValid(encoded)).to.equal(true)
    const {header, records} = decodeRecordBatch(encoded)
    expect(header).to.include({baseOffset: 2 ** 40, lastOffset: 2 ** 40 + 1, partitionLeaderEpoch: 7})
    expect(records[1].offset).to.equal(2 ** 40 + 1)
  })

  it('walks whole batches in a concatenation and stops before a partial one', () => {
    const first = encodeRecordBatch([{key: null, value: Buffer.from('a')}])
    const second = encodeRecordBatch([{key: null, value: Buffer.from('bb')}], {baseOffset: 1})
    const joined = Buffer.concat([first, second, second.subarray(0, 20)])
    expect([...batchPositions(joined)].map((entry) => entry.position)).to.deep.equal([0, first.length])
  })

  it('refuses an empty batch', () => {
    expect(() => encodeRecordBatch([])).to.throw(LignumError).with.property('code', 'INVALID_ARGUMENT')
  })
})
