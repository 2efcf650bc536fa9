/**
 * A slow `for await` loop over a topic far larger than the client's read-ahead: the memory the
 * fetched batches hold stays under a named bound the whole time, because the fetch loop waits
 * for the reader (consumer.ts's bounded queue) and the node's stream waits for HTTP/2 window.
 * Without backpressure the client would pull the whole topic (here ~140 MiB) at loopback speed
 * while the loop sleeps.
 */
import {expect} from 'chai'
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'
import {LignumClient} from '../../src/client/index.js'
import {serverForSuite} from '../helpers/server.js'
import {sleep} from '../helpers/consul.js'

setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

const RECORD_BYTES = 8 * 1024
const RECORD_COUNT = 18_000
const FETCH_BYTES = 256 * 1024
// What may be read ahead of the loop: the HTTP/2 window a node may fill before the client
// acknowledges (16 MiB, connection.ts), consumer.ts's queue (4 responses) and grpc-js's stream
// buffer (16 messages) of FETCH_BYTES each, and 8 MiB for the buffer pool and the records in hand.
const READ_AHEAD_BYTES_MAX = 16 * 1024 * 1024 + (4 + 16) * FETCH_BYTES + 8 * 1024 * 1024
// The loop's pace: a pause every PAUSE_EVERY records, slow enough that the node could send the
// whole topic many times over meanwhile.
const PAUSE_EVERY = 200
const PAUSE_MS = 50
const RECORDS_READ_SLOWLY = 4_000

function heldBytes(): number {
  collectGarbage()
  const usage = process.memoryUsage()
  return usage.arrayBuffers
}

describe('consume: backpressure on a slow for-await loop', function () {
  this.timeout(180_000)
  const suite = serverForSuite()

  it(`keeps the fetched batches under ${READ_AHEAD_BYTES_MAX / 1024 / 1024} MiB while reading ${RECORD_COUNT} records of ${RECORD_BYTES / 1024} KiB slowly`, async () => {
    const client = await LignumClient.connect({brokers: suite.server.grpcAddress})
    try {
      await client.createTopic('large', 1)
      const producer = client.producer({acks: 1})
      await producer.prepare('large')
      const value = Buffer.alloc(RECORD_BYTES, 0x61)
      for (let index = 0; index < RECORD_COUNT; index++) {
        producer.write('large', {value})
        if (producer.needsDrain) await producer.drain()
      }
      await producer.close()
      const topicBytes = (await client.describeTopic('large')).partitions[0]!.sizeBytes
      expect(topicBytes).to.be.greaterThan(4 * READ_AHEAD_BYTES_MAX)

      const baseline = heldBytes()
      let read = 0
      let peak = 0
      for await (const record of client.consume({topic: 'large', maxBytes: FETCH_BYTES})) {
        expect(record.offset).to.equal(read)
        read++
        if (read % PAUSE_EVERY === 0) {
          await sleep(PAUSE_MS)
          peak = Math.max(peak, heldBytes() - baseline)
        }
        if (read === RECORDS_READ_SLOWLY) break
      }
      expect(read).to.equal(RECORDS_READ_SLOWLY)
      console.log(`      held at most ${(peak / 1024 / 1024).toFixed(1)} MiB above the baseline of a ${(topicBytes / 1024 / 1024).toFixed(0)} MiB topic`)
      expect(peak).to.be.below(READ_AHEAD_BYTES_MAX)
    } finally {
      client.close()
    }
  })
})
