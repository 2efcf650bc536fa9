import {expect} from 'chai'
import fc from 'fast-check'
import {findRecordFault, validateRecords, type RecordFault} from '../../src/format/batch-validator.js'
import {decodeRecordBatch, DECOMPRESSED_BYTES_MAX, encodeRecordBatch, readBatchHeader, type RecordInput} from '../../src/format/record-batch.js'
import {LignumError} from '../../src/errors.js'
import {batchClaimingMaxRecords, batchWithDeltas, gzipBomb, rawBatch, rawRecord, withCrc} from '../helpers/raw-batches.js'

function faultOf(batch: Buffer, origin: 'client' | 'log' = 'client'): RecordFault | null {
  return findRecordFault(batch, 0, readBatchHeader(batch), {origin})
}

function expectFault(batch: Buffer, code: RecordFault['code'], reason: RegExp, origin: 'client' | 'log' = 'client'): void {
  const fault = faultOf(batch, origin)
  expect(fault, 'a fault').to.not.equal(null)
  expect(fault).to.have.property('code', code)
  expect(fault!.reason).to.match(reason)
}

const arbitraryRecord: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(fc.uint8Array({maxLength: 40}).map((bytes) => Buffer.from(bytes)), {nil: null}),
  value: fc.option(fc.uint8Array({maxLength: 300}).map((bytes) => Buffer.from(bytes)), {nil: null}),
  headers: fc.array(fc.record({key: fc.string({maxLength: 10}), value: fc.option(fc.uint8Array({maxLength: 20}).map((b) => Buffer.from(b)), {nil: null})}), {maxLength: 3}),
  timestamp: fc.integer({min: 0, max: 2 ** 45}),
})

describe('record batch validator (what a leader checks before it stores a batch)', () => {
  it('accepts every batch the encoder writes, plain and gzip', () => {
    fc.assert(
      fc.property(fc.array(arbitraryRecord, {minLength: 1, maxLength: 30}), fc.constantFrom('none' as const, 'gzip' as const), (records, compression) => {
        const batch = encodeRecordBatch(records, {compression, baseOffset: 12})
        expect(faultOf(batch)).to.equal(null)
        expect(faultOf(batch, 'log')).to.equal(null)
      }),
    )
  })

  it('refuses offset deltas that are not exactly 0..n-1 (0,0,0 / 2,1,0 / 0,1,7)', () => {
    expectFault(batchWithDeltas([0, 0, 0]), 'INVALID_RECORD', /offset delta 0 in record 1; the deltas must be exactly 0 to 2/)
    expectFault(batchWithDeltas([2, 1, 0]), 'INVALID_RECORD', /offset delta 2 in record 0/)
    expectFault(batchWithDeltas([0, 1, 7]), 'INVALID_RECORD', /offset delta 7 in record 2/)
    expectFault(batchWithDeltas([0, 1, 7], {recordCount: 3, lastOffsetDelta: 7}), 'INVALID_RECORD', /holds 3 records but its last offset delta is 7/)
    expect(faultOf(batchWithDeltas([0, 1, 2]))).to.equal(null)
    // The same lies in gzip.
    expectFault(batchWithDeltas([0, 0, 0], {gzip: true}), 'INVALID_RECORD', /offset delta 0 in record 1/)
  })

  it('refuses a record count that disagrees with the records', () => {
    const twoRecords = Buffer.concat([0, 1].map((offsetDelta) => rawRecord({offsetDelta, value: Buffer.from('a longer value')})))
    expectFault(rawBatch(twoRecords, {timestampDeltaMax: 0, count: 3}), 'CORRUPT_RECORD', /claims 3 records but its records end after 2/)
    expectFault(batchWithDeltas([0, 1, 2], {recordCount: 2, lastOffsetDelta: 1}), 'CORRUPT_RECORD', /bytes after its last record \(record 1\)/)
    expectFault(batchWithDeltas([0, 1, 2], {lastOffsetDelta: 3}), 'INVALID_RECORD', /holds 3 records but its last offset delta is 3/)
    expectFault(rawBatch(Buffer.alloc(0), {timestampDeltaMax: 0, count: 0}, {lastOffsetDelta: 0}), 'INVALID_RECORD', /holds no records/)
  })

  it('refuses a 71-byte batch claiming 2^31-1 records at once, allocating nothing', () => {
    const batch = batchClaimingMaxRecords()
    expect(batch.length).to.equal(71)
    const before = process.memoryUsage().arrayBuffers
    const started = process.hrtime.bigint()
    expectFault(batch, 'CORRUPT_RECORD', /claims 2147483647 records, more than its 10 bytes of records can hold/)
    expect(Number(process.hrtime.bigint() - started) / 1e6).to.be.below(50)
    expect(process.memoryUsage().arrayBuffers - before).to.be.below(1024 * 1024)
  })

  it('refuses records that do not parse, naming the record and the field', () => {
    const good = rawRecord({offsetDelta: 0, key: Buffer.from('key'), value: Buffer.from('value'), headers: [{key: Buffer.from('h'), value: Buffer.from('v')}]})
    const one = {timestampDeltaMax: 0, count: 1}
    // The length says one byte more than the fields take (the batch ends with the record).
    const longer = Buffer.concat([good, Buffer.from([0])])
    longer[0] += 2
    expectFault(rawBatch(longer, one), 'CORRUPT_RECORD', /record 0: it says it is \d+ bytes but its fields end 1 bytes sooner/)
    // A value longer than the record.
    const valueTooLong = Buffer.from(good)
    valueTooLong[valueTooLong.indexOf('value') - 1] = 0x7e // zigzag 63
    expectFault(rawBatch(valueTooLong, one), 'CORRUPT_RECORD', /record 0: its value of 63 bytes does not fit in the record/)
    // A null header key.
    const nullHeaderKey = rawRecord({offsetDelta: 0, headers: [{key: null, value: null}]})
    expectFault(rawBatch(nullHeaderKey, one), 'CORRUPT_RECORD', /header 0 has a key of length -1/)
    // A header count the bytes cannot hold.
    const manyHeaders = rawRecord({offsetDelta: 0, value: null})
    manyHeaders[manyHeaders.length - 1] = 0x7e
    expectFault(rawBatch(manyHeaders, one), 'CORRUPT_RECORD', /header count of 63 does not fit/)
    // A varint that never ends.
    const endless = Buffer.concat([Buffer.from([0x20, 0]), Buffer.alloc(16, 0xff)])
    expectFault(rawBatch(endless, one), 'CORRUPT_RECORD', /timestamp delta is a varint longer than 10 bytes/)
    // A length that runs past the records.
    expectFault(rawBatch(Buffer.from([0x7e, 0, 0, 0, 1, 1, 0]), one), 'CORRUPT_RECORD', /record 0: its length of 63 bytes does not fit/)
    // Garbage where records should be.
    expectFault(rawBatch(Buffer.from('not records at all'), one), 'CORRUPT_RECORD', /malformed record 0/)
    // Bytes after the last record.
    expectFault(rawBatch(Buffer.concat([good, Buffer.from([1, 2, 3])]), one), 'CORRUPT_RECORD', /3 bytes after its last record/)
    expect(faultOf(rawBatch(good, one))).to.equal(null)
  })

  it('refuses a maxTimestamp that lies about the records', () => {
    const records = Buffer.concat([rawRecord({offsetDelta: 0, timestampDelta: 0}), rawRecord({offsetDelta: 1, timestampDelta: 5000})])
    const deltas = {timestampDeltaMax: 5000, count: 2}
    const base = 1_700_000_000_000
    expect(faultOf(rawBatch(records, deltas, {baseTimestamp: base}))).to.equal(null)
    expectFault(rawBatch(records, deltas, {baseTimestamp: base, maxTimestamp: base + 10}), 'INVALID_RECORD', /a record with timestamp 1700000005000, later than its maxTimestamp 1700000000010/)
    expectFault(rawBatch(records, deltas, {baseTimestamp: base, maxTimestamp: base + 10 ** 12}), 'INVALID_RECORD', /says maxTimestamp 2700000000000 but its latest record has timestamp 1700000005000/)
    // LogAppendTime: the log's clock, at or after every record.
    expect(faultOf(rawBatch(records, deltas, {baseTimestamp: base, maxTimestamp: base + 10 ** 6, attributes: 0x08}))).to.equal(null)
    expectFault(rawBatch(records, deltas, {baseTimestamp: base, maxTimestamp: base, attributes: 0x08}), 'INVALID_RECORD', /later than its maxTimestamp/)
  })

  it('refuses a gzip batch that inflates past the bound (a decompression bomb), and reads one within it', () => {
    const started = Date.now()
    const bomb = gzipBomb()
    expect(bomb.length).to.be.below(1024 * 1024)
    expectFault(bomb, 'CORRUPT_RECORD', new RegExp(`cannot be checked: gzip record batch at offset 0 inflates past ${DECOMPRESSED_BYTES_MAX} bytes.*decompression bomb`))
    expect(Date.now() - started).to.be.below(10_000)
    expectFault(rawBatch(Buffer.from('x'.repeat(100)), {timestampDeltaMax: 0, count: 1}, {gzip: true}), 'CORRUPT_RECORD', /malformed record 0/)
    const notGzip = rawBatch(rawRecord({offsetDelta: 0}), {timestampDeltaMax: 0, count: 1})
    notGzip.writeInt16BE(1, 21)
    expectFault(withCrc(notGzip), 'CORRUPT_RECORD', /does not decompress/)
  })

  it('refuses a codec it cannot read as UNSUPPORTED_CODEC, since its records cannot be checked', () => {
    const unknown = rawBatch(rawRecord({offsetDelta: 0}), {timestampDeltaMax: 0, count: 1})
    unknown.writeInt16BE(6, 21)
    expectFault(withCrc(unknown), 'UNSUPPORTED_CODEC', /codec id 6/)
  })

  it('refuses control batches from a client; a log may hold them, and batches thinned by compaction', () => {
    const control = batchWithDeltas([0], {attributes: 0x30})
    expectFault(control, 'INVALID_RECORD', /control batch.*clients may not write control batches/)
    expect(faultOf(control, 'log')).to.equal(null)
    const compacted = batchWithDeltas([0, 3, 4], {lastOffsetDelta: 6})
    expectFault(compacted, 'INVALID_RECORD', /holds 3 records but its last offset delta is 6/)
    expect(faultOf(compacted, 'log')).to.equal(null)
    expectFault(batchWithDeltas([0, 3, 3], {lastOffsetDelta: 6}), 'INVALID_RECORD', /offset delta 3 in record 2 after 3/, 'log')
    expectFault(batchWithDeltas([0, 3, 9], {lastOffsetDelta: 6}), 'INVALID_RECORD', /offset delta 9 in record 2/, 'log')
    // Compaction may leave an empty batch (no records, no bytes) whatever its codec.
    const emptied = rawBatch(Buffer.alloc(0), {timestampDeltaMax: 0, count: 0}, {lastOffsetDelta: 4, attributes: 0})
    emptied.writeInt16BE(1, 21)
    expect(faultOf(withCrc(emptied), 'log')).to.equal(null)
    expectFault(emptied, 'INVALID_RECORD', /holds no records/)
    // What a log may hold is only wider there: the other lies are faults in a log too.
    expectFault(batchWithDeltas([0, 0, 0]), 'INVALID_RECORD', /offset delta 0 in record 1/, 'log')
    expectFault(batchClaimingMaxRecords(), 'CORRUPT_RECORD', /claims 2147483647 records/, 'log')
  })

  it('throws the fault as a LignumError naming the batch', () => {
    const batch = batchWithDeltas([0, 0])
    const error = (() => {
      try {
        validateRecords(batch, 0, readBatchHeader(batch), {origin: 'client', where: 'the batch at byte 0', prefix: 'append rejected: '})
      } catch (caught) {
        return caught
      }
    })()
    expect(error).to.be.instanceOf(LignumError).with.property('code', 'INVALID_RECORD')
    expect((error as Error).message).to.equal('append rejected: the batch at byte 0 has offset delta 0 in record 1; the deltas must be exactly 0 to 1 in order')
  })

  it('accepts only batches that decode to exactly their count of dense offsets (fuzzed records)', () => {
    fc.assert(
      fc.property(fc.array(arbitraryRecord, {minLength: 1, maxLength: 8}), fc.array(fc.tuple(fc.nat(), fc.integer({min: 0, max: 255})), {minLength: 1, maxLength: 4}), (records, flips) => {
        const batch = encodeRecordBatch(records, {baseOffset: 100})
        for (const [at, byte] of flips) batch[61 + (at % (batch.length - 61))] = byte
        withCrc(batch)
        const header = readBatchHeader(batch)
        if (faultOf(batch) !== null) return
        const decoded = decodeRecordBatch(batch).records
        expect(decoded.map((record) => record.offset)).to.deep.equal(Array.from({length: header.recordCount}, (_, index) => 100 + index))
        expect(Math.max(...decoded.map((record) => record.timestamp))).to.equal(header.maxTimestamp)
      }),
      {numRuns: 500},
    )
  })
})
