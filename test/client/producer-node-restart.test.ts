import {expect} from 'chai'
import {LignumClient} from '../../src/client/index.js'
import {LignumError} from '../../src/errors.js'
import {ServeProcess} from '../cluster/serve-process.js'

/**
 * A node down for longer than the delivery timeout, then back on its address: the producer's
 * memory of the outage must not fail new sends untried. A real `lignum serve` is killed with
 * SIGKILL, a send fails while it is down, and once the outage is older than the delivery
 * timeout it is restarted; the next send must be tried, and acknowledged.
 */
const DELIVERY_TIMEOUT_MS = 4_000
const TOPIC = 'restarted'

describe('producer: a node back after an outage longer than the delivery timeout', function () {
  this.timeout(120_000)
  let node: ServeProcess | undefined

  after(async () => {
    await node?.destroy()
  })

  it('sends to it again: a new send is acknowledged, not failed on the old outage', async () => {
    node = await ServeProcess.start({cluster: 'standalone', nodeId: 'restarted-node', sessionTtlMs: 10_000, lockDelayMs: 1_000})
    const client = await LignumClient.connect({brokers: node.address})
    try {
      await client.createTopic(TOPIC, 1)
      const producer = client.producer({acks: 'all', deliveryTimeoutMs: DELIVERY_TIMEOUT_MS})
      expect((await producer.send(TOPIC, {value: 'before'})).offset).to.equal(0)

      await node.killHard()
      const outageStartedMs = Date.now()
      const whileDown = await producer.send(TOPIC, {value: 'while-down'}).then(() => undefined, (error: unknown) => error)
      expect(whileDown, 'a send while the node is down fails').to.be.instanceOf(LignumError)
      // The outage must be older than the delivery timeout before the node comes back.
      const outageLeftMs = DELIVERY_TIMEOUT_MS + 500 - (Date.now() - outageStartedMs)
      if (outageLeftMs > 0) await new Promise((resolve) => setTimeout(resolve, outageLeftMs))
      node = await node.restart()

      const after = await producer.send(TOPIC, {value: 'after'})
      expect(after.offset, 'the send after the restart is acknowledged').to.equal(1)
      await producer.close()
    } finally {
      client.close()
    }
  })
})
