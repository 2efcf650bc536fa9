import {CompressionFilter} from '@grpc/grpc-js/build/src/compression-filter.js'
import {BaseServerInterceptingCall} from '@grpc/grpc-js/build/src/server-interceptors.js'
import {expect} from 'chai'
import {FetchResponse} from '../../src/generated/lignum/v1/lignum.js'
import {encodeFetchResponse} from '../../src/server/fetch-response-codec.js'
import {installInPlaceFraming, withFrameRoom} from '../../src/wire/grpc-framing.js'
import {allocateWithHeadroom} from '../../src/log/headroom.js'

/** Frames `value` as grpc-js does for a response, through the hook this module replaces. */
function frameAsGrpcJs(value: unknown, serialize: (value: never) => Buffer): Buffer {
  const prototype = BaseServerInterceptingCall.prototype as unknown as {serializeMessage(this: unknown, value: unknown): Buffer}
  return prototype.serializeMessage.call({handler: {serialize}}, value)
}

describe('gRPC framing', () => {
  before(() => {
    // Fails when a grpc-js update moves the hook: the fast path would be gone silently.
    expect(installInPlaceFraming()).to.equal(true)
  })

  it('frames a response in the room in front of batches read from the log, copying nothing', () => {
    const batches = allocateWithHeadroom(1000).fill(7)
    const response = {topic: 'a-topic', partition: 3, recordBatches: batches, highWatermark: 10n, logStartOffset: 0n, nextOffset: 10n, records: []}
    const framed = frameAsGrpcJs(response, encodeFetchResponse)
    expect(framed.buffer).to.equal(batches.buffer)
    expect(framed[0]).to.equal(0)
    expect(framed.readUInt32BE(1)).to.equal(framed.length - 5)
    expect(FetchResponse.decode(framed.subarray(5))).to.deep.equal(response)
  })

  it('frames any other response by copy, as grpc-js does', () => {
    const message = Buffer.from('plain message')
    const framed = frameAsGrpcJs(message, (value: Buffer) => value)
    expect([...framed.subarray(0, 5)]).to.deep.equal([0, 0, 0, 0, message.length])
    message.fill('x')
    expect(framed.subarray(5).toString()).to.equal('plain message')
  })

  it('frames a request with room in front in place, and any other request by copy', async () => {
    const filter = new CompressionFilter({}, {})
    const roomy = allocateWithHeadroom(6)
    roomy.write('marked')
    const inPlace = await filter.sendMessage(Promise.resolve({message: withFrameRoom(roomy)}))
    expect(inPlace.message.buffer).to.equal(roomy.buffer)
    expect([...inPlace.message.subarray(0, 5)]).to.deep.equal([0, 0, 0, 0, 6])
    expect(inPlace.message.subarray(5).toString()).to.equal('marked')
    const plain = Buffer.from('plain')
    const copied = await filter.sendMessage(Promise.resolve({message: plain}))
    expect([...copied.message.subarray(0, 5)]).to.deep.equal([0, 0, 0, 0, 5])
    plain.fill('x')
    expect(copied.message.subarray(5).toString()).to.equal('plain')
  })
})
