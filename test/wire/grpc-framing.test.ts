import {CompressionFilter} from '@grpc/grpc-js/build/src/compression-filter.js'
import {BaseServerInterceptingCall} from '@grpc/grpc-js/build/src/server-interceptors.js'
import {StreamDecoder} from '@grpc/grpc-js/build/src/stream-decoder.js'
import {expect} from 'chai'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {repoRoot} from '../helpers/cli.js'
import {FetchResponse} from '../../src/generated/lignum/v1/lignum.js'
import {encodeFetchResponse} from '../../src/server/fetch-response-codec.js'
import {installGrpcFraming, messageEndingWith, missingGrpcParts} from '../../src/wire/grpc-framing.js'
import {borrowWithHeadroom, recycleBuffer} from '../../src/format/headroom.js'

/** Frames `value` as grpc-js does for a response, through the hook this module replaces. */
function frameAsGrpcJs(value: unknown, serialize: (value: never) => Buffer): Buffer {
  const prototype = BaseServerInterceptingCall.prototype as unknown as {serializeMessage(this: unknown, value: unknown): Buffer}
  return prototype.serializeMessage.call({handler: {serialize}}, value)
}

describe('gRPC framing', () => {
  before(() => {
    // Fails when a grpc-js update moves a hook: the fast path would be gone (with a warning).
    expect(missingGrpcParts()).to.deep.equal([])
    const warnings: string[] = []
    expect(installGrpcFraming({warn: (message) => warnings.push(message)})).to.equal(true)
    expect(warnings).to.deep.equal([])
  })

  it('runs on the grpc-js version package.json pins exactly: the hooks were written against it', async () => {
    const manifest = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {dependencies: Record<string, string>}
    const installed = JSON.parse(await readFile(path.join(repoRoot, 'node_modules', '@grpc', 'grpc-js', 'package.json'), 'utf8')) as {version: string}
    expect(manifest.dependencies['@grpc/grpc-js']).to.equal(installed.version)
  })

  it('frames a response in the room in front of batches read from the log, copying nothing', () => {
    const batches = borrowWithHeadroom(1000).fill(7)
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
    const roomy = borrowWithHeadroom(6)
    roomy.write('marked')
    const inPlace = await filter.sendMessage(Promise.resolve({message: messageEndingWith(roomy, 0)}))
    expect(inPlace.message.buffer).to.equal(roomy.buffer)
    expect([...inPlace.message.subarray(0, 5)]).to.deep.equal([0, 0, 0, 0, 6])
    expect(inPlace.message.subarray(5).toString()).to.equal('marked')
    const plain = Buffer.from('plain')
    const copied = await filter.sendMessage(Promise.resolve({message: plain}))
    expect([...copied.message.subarray(0, 5)]).to.deep.equal([0, 0, 0, 0, 5])
    plain.fill('x')
    expect(copied.message.subarray(5).toString()).to.equal('plain')
  })

  describe('gathering received messages', () => {
    const frame = (message: Buffer) => {
      const header = Buffer.alloc(5)
      header.writeUInt32BE(message.length, 1)
      return Buffer.concat([header, message])
    }
    const messages = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(300 * 1024, 7), Buffer.from('last')]
    const stream = Buffer.concat(messages.map(frame))

    it('hands on whole frames however the stream is cut, large ones in pooled buffers', () => {
      for (const cut of [1, 2, 4, 5, 6, 7, 4096, 16 * 1024, stream.length]) {
        const decoder = new StreamDecoder(-1)
        const received: Buffer[] = []
        for (let position = 0; position < stream.length; position += cut) received.push(...decoder.write(stream.subarray(position, position + cut)))
        expect(received.map((framed) => framed.subarray(5)), `cut every ${cut} bytes`).to.deep.equal(messages)
        expect(received.map((framed) => framed.readUInt32BE(1))).to.deep.equal(messages.map((message) => message.length))
      }
      const [, , large] = new StreamDecoder(-1).write(stream)
      recycleBuffer(large)
      expect(borrowWithHeadroom(large.length).buffer).to.equal(large.buffer)
    })

    it('refuses a message over the limit as grpc-js does', () => {
      const decoder = new StreamDecoder(100)
      expect(() => decoder.write(frame(Buffer.alloc(101)))).to.throw('Received message larger than max (101 vs 100)')
    })
  })
})
