import {expect} from 'chai'
import fc from 'fast-check'
import {ReplicaFetchResponse} from '../../src/generated/lignum/v1/lignum.js'
import {borrowWithHeadroom} from '../../src/format/headroom.js'
import {decodeReplicaFetchResponse, encodeReplicaFetchResponse} from '../../src/wire/replica-fetch-response-codec.js'

const responseArbitrary: fc.Arbitrary<ReplicaFetchResponse> = fc.record({
  recordBatches: fc.uint8Array({maxLength: 300}).map((bytes) => Buffer.from(bytes)),
  highWatermark: fc.bigInt(-1n, 1n << 60n),
  logStartOffset: fc.bigInt(-1n, 1n << 60n),
  logEndOffset: fc.bigInt(-1n, 1n << 60n),
  error: fc.option(fc.record({code: fc.constantFrom('FENCED_LEADER_EPOCH', 'NOT_LEADER'), message: fc.string(), retriable: fc.boolean(), hint: fc.string()}), {nil: undefined}),
})

describe('ReplicaFetchResponse codecs (the batches never copied)', () => {
  it('the fast encoder writes what the generated decoder reads, and the reverse', () => {
    fc.assert(
      fc.property(responseArbitrary, (response) => {
        expect(ReplicaFetchResponse.decode(encodeReplicaFetchResponse(response))).to.deep.equal(response)
        expect(decodeReplicaFetchResponse(Buffer.from(ReplicaFetchResponse.encode(response).finish()))).to.deep.equal(response)
        expect(decodeReplicaFetchResponse(encodeReplicaFetchResponse(response))).to.deep.equal(response)
      }),
    )
  })

  it('frames batches read from the log in the room in front of them, and the follower decodes them as a view', () => {
    const batches = borrowWithHeadroom(1000).fill(7)
    const response = {recordBatches: batches, highWatermark: 10n, logStartOffset: 0n, logEndOffset: 10n, error: undefined}
    const bytes = encodeReplicaFetchResponse(response)
    expect(bytes.buffer).to.equal(batches.buffer)
    const decoded = decodeReplicaFetchResponse(bytes)
    expect(decoded).to.deep.equal(response)
    expect(decoded.recordBatches.buffer).to.equal(bytes.buffer)
  })
})
