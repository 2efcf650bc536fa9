import {expect} from 'chai'
import {WireClient} from '../../src/client/index.js'
import {serverForSuite} from '../helpers/server.js'

/**
 * Subscribe sends log reads as they are and reuses each read's buffer once it is written, and
 * the client gathers large responses into reused buffers that a reader releases (format/headroom.ts,
 * wire/grpc-framing.ts). A buffer reused too early would send one stream's records on
 * another's, or overwrite records still in flight: more than an HTTP/2 window (16 MiB) to each of
 * two streams at once, one read slowly so that the node's writes wait for it, must arrive whole
 * and in order.
 */
describe('Subscribe with recycled reads', function () {
  this.timeout(60_000)
  const suite = serverForSuite()
  const recordsPerTopic = 20_000
  const valueOf = (topic: string, index: number) => `${topic}:${index}:`.padEnd(1000, String.fromCharCode(97 + (index % 26)))

  before(async () => {
    // Two producers at once: the node gathers their large requests into pooled buffers and
    // reuses each once its batch is in the log.
    const produceTopic = async (topic: string) => {
      const client = await WireClient.connect({brokers: suite.server.grpcAddress, zeroCopy: true})
      try {
        const producer = client.producer({acks: 'all'})
        await Promise.all(Array.from({length: recordsPerTopic}, (_, index) => producer.send(topic, {value: valueOf(topic, index)})))
        await producer.close()
      } finally {
        client.close()
      }
    }
    await Promise.all([produceTopic('left'), produceTopic('right')])
  })

  it('delivers every record intact to two streams, a fast and a slow one, reading tens of megabytes at once', async () => {
    const readAll = async (topic: string, pauseMs: number) => {
      const client = await WireClient.connect({brokers: suite.server.grpcAddress, zeroCopy: true})
      try {
        const values: string[] = []
        for await (const chunk of client.consumeChunks({topic, stopAtEnd: true})) {
          // As the CLI prints: values copied out, then the chunk released for its buffer to be reused.
          // Room for the values and the record framing between them, which is copied too.
          const lines = Buffer.alloc(chunk.count * 1100)
          const {count, position} = chunk.writeValueLines(0, chunk.count, lines, 0, 0x0a)
          expect(count).to.equal(chunk.count)
          chunk.release()
          values.push(...lines.toString('utf8', 0, position).split('\n').slice(0, -1))
          await new Promise((resolve) => setTimeout(resolve, pauseMs))
        }
        return values
      } finally {
        client.close()
      }
    }
    const [left, right] = await Promise.all([readAll('left', 0), readAll('right', 10)])
    for (const [topic, values] of [['left', left], ['right', right]] as const) {
      expect(values.length, topic).to.equal(recordsPerTopic)
      const wrong = values.findIndex((value, index) => value !== valueOf(topic, index))
      expect(wrong, `${topic}: first record that differs`).to.equal(-1)
    }
  })
})
