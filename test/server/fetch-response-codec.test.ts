import {expect} from 'chai'
import fc from 'fast-check'
import {decodeFetchResponse} from '../../src/client/fetch-response-codec.js'
import {FetchResponse} from '../../src/generated/lignum/v1/lignum.js'
import {borrowWithHeadroom} from '../../src/format/headroom.js'
import {encodeFetchResponse} from '../../src/server/fetch-response-codec.js'

const responseArbitrary: fc.Arbitrary<FetchResponse> = fc.record({
  topic: fc.string(),
  partition: fc.nat(1000),
  recordBatches: fc.uint8Array({maxLength: 300}).map((bytes) => Buffer.from(bytes)),
  highWatermark: fc.bigInt(0n, 1n << 60n),
  logStartOffset: fc.bigInt(0n, 1n << 60n),
  nextOffset: fc.bigInt(0n, 1n << 60n),
  records: fc.constant([]).map((): FetchResponse['records'] => []),
})

describe('FetchResponse codecs (one copy of the record batches)', () => {
  it('the fast encoder writes what the generated decoder reads, and the reverse', () => {
    fc.assert(
      fc.property(responseArbitrary, (response) => {
        expect(FetchResponse.decode(encodeFetchResponse(response))).to.deep.equal(response)
        expect(decodeFetchResponse(Buffer.from(FetchResponse.encode(response).finish()))).to.deep.equal(response)
        expect(decodeFetchResponse(encodeFetchResponse(response))).to.deep.equal(response)
      }),
    )
  })

  it('decodes record batches as a view of the message, and keeps decoded records', () => {
    const response = {
      topic: 't', partition: 2, recordBatches: Buffer.from('batches'), highWatermark: 9n, logStartOffset: 1n, nextOffset: 9n,
      records: [{offset: 3n, timestamp: 4n, key: undefined, value: Buffer.from('v'), headers: [{key: 'h', value: Buffer.from('x')}]}],
    }
    const bytes = encodeFetchResponse(response)
    const decoded = decodeFetchResponse(bytes)
    expect(decoded).to.deep.equal(response)
    expect(decoded.recordBatches.buffer).to.equal(bytes.buffer)
  })

  it('takes the last record_batches field when there are several, as protobuf does', () => {
    const first = Buffer.from(FetchResponse.encode({...FetchResponse.fromPartial({}), topic: 'a', recordBatches: Buffer.from('one')}).finish())
    const second = Buffer.from(FetchResponse.encode({...FetchResponse.fromPartial({}), partition: 5, recordBatches: Buffer.from('two')}).finish())
    const decoded = decodeFetchResponse(Buffer.concat([first, second]))
    expect(decoded.topic).to.equal('a')
    expect(decoded.partition).to.equal(5)
    expect(decoded.recordBatches.toString()).to.equal('two')
  })
})

describe('FetchResponse encoder with batches read from the log', () => {
  it('frames the batches in the room in front of them, without a copy', () => {
    const batches = borrowWithHeadroom(1000).fill(7)
    const response = {topic: 'a-topic', partition: 3, recordBatches: batches, highWatermark: 10n, logStartOffset: 0n, nextOffset: 10n, records: []}
    const bytes = encodeFetchResponse(response)
    expect(bytes.buffer).to.equal(batches.buffer)
    expect(FetchResponse.decode(bytes)).to.deep.equal(response)
  })
})
