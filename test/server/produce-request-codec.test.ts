import {expect} from 'chai'
import fc from 'fast-check'
import {encodeProduceRequest} from '../../src/client/produce-request-codec.js'
import {ProducePartition, ProduceRequest} from '../../src/generated/lignum/v1/lignum.js'
import {borrowWithHeadroom} from '../../src/format/headroom.js'
import {decodeProduceRequest} from '../../src/server/produce-request-codec.js'
import {GRPC_FRAME_BYTES} from '../../src/wire/grpc-framing.js'

const partitionArbitrary: fc.Arbitrary<ProducePartition> = fc.record({
  topic: fc.string({maxLength: 249}),
  partition: fc.integer({min: -1, max: 1000}),
  records: fc.constant([]).map((): ProducePartition['records'] => []),
  recordBatch: fc.uint8Array({maxLength: 300}).map((bytes) => Buffer.from(bytes)),
  leaderEpoch: fc.integer({min: -1, max: 1 << 20}),
})

const requestArbitrary: fc.Arbitrary<ProduceRequest> = fc.record({
  partitions: fc.array(partitionArbitrary, {maxLength: 3}),
  acks: fc.constantFrom(0, 1, 2),
  timeoutMs: fc.nat(),
  requestId: fc.bigInt(0n, (1n << 64n) - 1n),
})

/** The batch copied into a buffer with room in front, as the producer encodes it. */
function withRoom(batch: Buffer): Buffer {
  const roomy = borrowWithHeadroom(batch.length)
  batch.copy(roomy)
  return roomy
}

describe('ProduceRequest codecs (no copy of the record batch)', () => {
  it('the fast encoder writes what the generated decoder reads, and the fast decoder reads what the generated encoder writes', () => {
    fc.assert(
      fc.property(requestArbitrary, (request) => {
        expect(ProduceRequest.decode(encodeProduceRequest(request))).to.deep.equal(request)
        expect(decodeProduceRequest(Buffer.from(ProduceRequest.encode(request).finish()))).to.deep.equal(request)
        expect(decodeProduceRequest(encodeProduceRequest(request))).to.deep.equal(request)
      }),
    )
  })

  it('frames a batch with room in front around it, and copies it when the room is gone (a resend)', () => {
    const batch = withRoom(Buffer.from('a record batch'))
    const request = {partitions: [{topic: 'orders', partition: 3, records: [], recordBatch: batch, leaderEpoch: -1}], acks: 2, timeoutMs: 0, requestId: 42n}
    const first = encodeProduceRequest(request)
    expect(first.buffer).to.equal(batch.buffer)
    expect(first.byteOffset).to.be.at.least(GRPC_FRAME_BYTES)
    expect(ProduceRequest.decode(first)).to.deep.equal(request)
    const again = encodeProduceRequest(request)
    expect(again.buffer).to.not.equal(batch.buffer)
    expect(again.equals(first)).to.equal(true)
  })

  it('decodes batches as views of the request, the last one of a partition winning, as protobuf does', () => {
    const request = {partitions: [{topic: 'a', partition: 0, records: [], recordBatch: Buffer.from('one'), leaderEpoch: 1}], acks: 1, timeoutMs: 5, requestId: 1n}
    const bytes = Buffer.from(ProduceRequest.encode(request).finish())
    const decoded = decodeProduceRequest(bytes)
    expect(decoded.partitions[0].recordBatch.buffer).to.equal(bytes.buffer)
    const first = Buffer.from(ProducePartition.encode({...request.partitions[0], recordBatch: Buffer.from('one')}).finish())
    const second = Buffer.from(ProducePartition.encode({...ProducePartition.fromPartial({}), recordBatch: Buffer.from('two')}).finish())
    const merged = Buffer.concat([Buffer.from([0x0a, first.length + second.length]), first, second])
    const partition = decodeProduceRequest(merged).partitions[0]
    expect(partition.topic).to.equal('a')
    expect(partition.recordBatch.toString()).to.equal('two')
  })
})
