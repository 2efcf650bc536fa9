import {expect} from 'chai'
import {Writable} from 'node:stream'
import type {KafkaApi} from '../../src/kafka/kafka-api.js'
import {KafkaListener} from '../../src/kafka/kafka-listener.js'
import {KafkaWriter} from '../../src/kafka/protocol/kafka-writer.js'
import {createLogger} from '../../src/logger.js'
import {KafkaWireClient} from './kafka-wire-client.js'

const API_VERSIONS = 18
// A test-only API: answers with the INT32 it is sent, after that many milliseconds.
const ECHO_KEY = 1000

function capturedLogger(): {logger: ReturnType<typeof createLogger>; lines: string[]} {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  return {logger: createLogger({stream, pretty: false, level: 'warn'}), lines}
}

function echoApi(concurrency: {now: number; max: number}): KafkaApi {
  return {
    key: ECHO_KEY,
    name: 'Echo',
    minVersion: 0,
    maxVersion: 0,
    firstFlexibleVersion: Infinity,
    async handle(request, response) {
      const delayMs = request.body.int32()
      concurrency.now++
      concurrency.max = Math.max(concurrency.max, concurrency.now)
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      concurrency.now--
      response.int32(delayMs)
      return true
    },
  }
}

describe('kafka listener', () => {
  let listener: KafkaListener<unknown>
  let client: KafkaWireClient
  let log: ReturnType<typeof capturedLogger>
  const concurrency = {now: 0, max: 0}

  beforeEach(async () => {
    log = capturedLogger()
    concurrency.max = 0
    listener = await KafkaListener.start({host: '127.0.0.1', port: 0, apis: [echoApi(concurrency)], context: {}, logger: log.logger, requestBytesMax: 1024, inFlightRequestsMax: 3})
    client = await KafkaWireClient.connect(listener.port)
  })

  afterEach(async () => {
    client.close()
    await listener.stop()
  })

  it('answers ApiVersions v0 in the v0 layout, listing every API it serves', async () => {
    client.send(API_VERSIONS, 0, 7, Buffer.alloc(0))
    const response = await client.next()
    // correlation 7, error 0, 2 APIs: ApiVersions 0-4 and Echo 0-0 (in key order of registration)
    expect(response?.toString('hex')).to.equal('00000007' + '0000' + '00000002' + '03e800000000' + '001200000004')
  })

  it('answers ApiVersions v3 in the flexible layout with a v0 response header', async () => {
    const body = new KafkaWriter().compactNullableString('kcat').compactNullableString('1.7').emptyTaggedFields().toBuffer()
    client.send(API_VERSIONS, 3, 8, body, true)
    const response = await client.next()
    // correlation 8 (no header tags), error 0, COMPACT_ARRAY of 2 (03), each with its empty tags, throttle 0, tags
    expect(response?.toString('hex')).to.equal('00000008' + '0000' + '03' + '03e8' + '0000' + '0000' + '00' + '0012' + '0000' + '0004' + '00' + '00000000' + '00')
  })

  it('answers a newer ApiVersions than it serves with UNSUPPORTED_VERSION in the v0 layout', async () => {
    client.send(API_VERSIONS, 9, 9, Buffer.from([0x00, 0x00, 0x00]), true)
    const response = await client.next()
    expect(response?.readInt32BE(0)).to.equal(9)
    expect(response?.readInt16BE(4)).to.equal(35)
    expect(response?.readInt32BE(6)).to.equal(2)
  })

  it('answers pipelined requests in the order they came, running at most inFlightRequestsMax at once', async () => {
    const delaysMs = [60, 10, 40, 0, 30, 5, 20]
    delaysMs.forEach((delayMs, index) => client.send(ECHO_KEY, 0, index, new KafkaWriter().int32(delayMs).toBuffer()))
    const answered: number[] = []
    for (const _ of delaysMs) answered.push((await client.next())!.readInt32BE(0))
    expect(answered).to.deep.equal(delaysMs.map((_, index) => index))
    expect(concurrency.max).to.equal(3)
  })

  it('closes a connection whose request is larger than requestBytesMax, from its size alone', async () => {
    const prefix = Buffer.alloc(4)
    prefix.writeInt32BE(1025)
    client.sendRaw(prefix)
    expect(await client.next()).to.equal(null)
    expect(log.lines.join('')).to.match(/a request of 1025 bytes is outside \[10, 1024\]/)
    const other = await KafkaWireClient.connect(listener.port)
    other.send(API_VERSIONS, 0, 1, Buffer.alloc(0))
    expect((await other.next())?.readInt32BE(0)).to.equal(1)
    other.close()
  })

  it('closes a connection that sends a malformed request or an API it does not serve, and keeps serving others', async () => {
    client.send(ECHO_KEY, 0, 1, Buffer.from([0x00])) // Echo's INT32 cut short
    expect(await client.next()).to.equal(null)
    const other = await KafkaWireClient.connect(listener.port)
    other.send(9999, 0, 2, Buffer.alloc(0))
    expect(await other.next()).to.equal(null)
    const lines = log.lines.join('')
    expect(lines).to.match(/malformed request: INT32 at byte 14 needs 4 bytes, only 1 are left/)
    expect(lines).to.match(/API key 9999 is not served/)
    const third = await KafkaWireClient.connect(listener.port)
    third.send(API_VERSIONS, 1, 3, Buffer.alloc(0))
    expect((await third.next())?.readInt32BE(0)).to.equal(3)
    third.close()
  })
})
