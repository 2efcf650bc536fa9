/**
 * The connection gives pooled buffers a response named (recycleOnceWritten) back to the pool
 * only after the socket has taken the response: the client receives every byte as it was, and
 * the next borrower of that size gets the same memory back instead of a fresh allocation.
 */
import {expect} from 'chai'
import {borrowWithHeadroom} from '../../src/format/headroom.js'
import type {KafkaApi} from '../../src/kafka/kafka-api.js'
import {KafkaListener} from '../../src/kafka/kafka-listener.js'
import {createLogger} from '../../src/logger.js'
import {KafkaWireClient} from './kafka-wire-client.js'

// A test-only API: answers with one pooled buffer of the size it is sent, filled with one byte value.
const LEND_KEY = 1001
// Large enough to be pooled (format/headroom.ts pools from 64 KiB) and passed as its own chunk.
const LENT_BYTES = 256 * 1024

function lendingApi(lent: Buffer[], recycle: boolean): KafkaApi {
  return {
    key: LEND_KEY,
    name: 'Lend',
    minVersion: 0,
    maxVersion: 0,
    firstFlexibleVersion: Infinity,
    handle(request, response) {
      const fill = request.body.int8()
      const buffer = borrowWithHeadroom(LENT_BYTES).fill(fill)
      lent.push(buffer)
      response.raw(buffer)
      if (recycle) response.recycleOnceWritten(buffer)
      return true
    },
  }
}

async function lendTwice(recycle: boolean): Promise<{lent: Buffer[]; answers: Buffer[]}> {
  const lent: Buffer[] = []
  const listener = await KafkaListener.start({host: '127.0.0.1', port: 0, apis: [lendingApi(lent, recycle)], context: {}, logger: createLogger({level: 'error'})})
  const client = await KafkaWireClient.connect(listener.port)
  try {
    const answers: Buffer[] = []
    for (const [index, fill] of [0x41, 0x42].entries()) {
      client.send(LEND_KEY, 0, index, Buffer.from([fill]))
      answers.push(Buffer.from((await client.next())!))
    }
    return {lent, answers}
  } finally {
    client.close()
    await listener.stop()
  }
}

describe('kafka connection: pooled buffers in responses', () => {
  it('recycles a named buffer once its response is written, and the client gets every byte as it was', async () => {
    const {lent, answers} = await lendTwice(true)
    // The second request borrowed the first one's memory: it came back after the first write.
    expect(lent[1]!.buffer).to.equal(lent[0]!.buffer)
    for (const [index, fill] of [0x41, 0x42].entries()) {
      const body = answers[index]!.subarray(4)
      expect(answers[index]!.readInt32BE(0)).to.equal(index)
      expect(body.length).to.equal(LENT_BYTES)
      expect(body.every((byte) => byte === fill)).to.equal(true)
    }
  })

  it('leaves a buffer not named to the collector', async () => {
    const {lent} = await lendTwice(false)
    expect(lent[1]!.buffer).to.not.equal(lent[0]!.buffer)
  })
})
