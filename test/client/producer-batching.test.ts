import {expect} from 'chai'
import {WireClient, type Producer, type ProducerOptions} from '../../src/client/index.js'
import {serverForSuite} from '../helpers/server.js'

/**
 * With no linger (the default) batches form naturally: what is written in one go leaves
 * together at once, and what arrives while a request is in flight waits for its answer and
 * then leaves together. With a linger, records wait for it (Kafka's linger.ms).
 */
describe('producer batching', function () {
  this.timeout(30_000)
  const suite = serverForSuite()
  const nextTask = () => new Promise((resolve) => setImmediate(resolve))

  /** Runs `use` with a producer of its own client, and returns how many batches it sent. */
  async function batchesSentBy(options: ProducerOptions, use: (producer: Producer) => Promise<void>): Promise<number> {
    const client = await WireClient.connect({brokers: suite.server.grpcAddress})
    try {
      const producer = client.producer(options)
      await use(producer)
      await producer.close()
      return producer.stats.batchesSent
    } finally {
      client.close()
    }
  }

  it('sends records written in one go as one batch', async () => {
    const batches = await batchesSentBy({acks: 'all'}, async (producer) => {
      await producer.send('natural', {value: 'warm-up'})
      await Promise.all(Array.from({length: 10}, (_, index) => producer.send('natural', {value: `one-go-${index}`})))
    })
    expect(batches).to.equal(2)
  })

  it('gathers records that arrive while a request is in flight into the next batch', async () => {
    const batches = await batchesSentBy({acks: 'all'}, async (producer) => {
      await producer.send('gathered', {value: 'warm-up'})
      const first = producer.send('gathered', {value: 'first'})
      // Two tasks on, the first record has left (its request is in flight; its answer takes a
      // round trip through the node); the next ones gather behind it.
      await nextTask()
      await nextTask()
      const later: Promise<unknown>[] = []
      for (let index = 0; index < 5; index++) later.push(producer.send('gathered', {value: `later-${index}`}))
      await Promise.all([first, ...later])
    })
    expect(batches).to.equal(3)
  })

  it('holds a batch for lingerMs when one is set, then sends what gathered together', async () => {
    const batches = await batchesSentBy({acks: 'all', lingerMs: 50}, async (producer) => {
      await producer.prepare('lingered')
      const sends: Promise<unknown>[] = []
      for (let index = 0; index < 5; index++) {
        sends.push(producer.send('lingered', {value: `lingered-${index}`}))
        await nextTask()
      }
      await Promise.all(sends)
    })
    expect(batches).to.equal(1)
  })
})
