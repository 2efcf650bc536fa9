/**
 * The public client against a real node: leaving a `for await` loop ends the node's
 * subscription, and with a group commits the offset after the last record the loop was given,
 * even part-way through a fetched batch, so the next member resumes exactly there.
 */
import {expect} from 'chai'
import {LignumClient} from '../../src/client/index.js'
import {sleep} from '../helpers/consul.js'
import {serverForSuite} from '../helpers/server.js'

// Records in one batch: the loop leaves in the middle of it.
const BATCH_RECORDS = 100
const RECORDS_BEFORE_BREAK = 7
// Longer than a Subscribe poll: a subscription left open would have read the new records by then.
const SETTLE_MS = 1500

async function produceOneBatch(client: LignumClient, topic: string, count: number, first = 0): Promise<void> {
  const producer = client.producer({lingerMs: 50})
  await Promise.all(Array.from({length: count}, (_, index) => producer.send(topic, {value: `record ${first + index}`})))
  await producer.close()
}

async function fetchBytesOf(httpUrl: string, topic: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  const line = text.split('\n').find((entry) => entry.startsWith(`lignum_fetch_bytes_total{topic="${topic}"}`))
  return line === undefined ? 0 : Number(line.split(' ').at(-1))
}

describe('LignumClient: leaving the for-await loop', function () {
  this.timeout(60_000)
  const suite = serverForSuite()
  let client: LignumClient

  before(async () => {
    client = await LignumClient.connect({brokers: suite.server.grpcAddress})
  })
  after(() => client.close())

  it(`commits a group after the last record given (${RECORDS_BEFORE_BREAK} of a ${BATCH_RECORDS}-record batch), and the next loop resumes there`, async () => {
    await client.createTopic('break-commit', 1)
    await produceOneBatch(client, 'break-commit', BATCH_RECORDS)
    const given: number[] = []
    for await (const record of client.consume({topic: 'break-commit', group: 'billing'})) {
      given.push(record.offset)
      if (given.length === RECORDS_BEFORE_BREAK) break
    }
    expect(given).to.deep.equal([...Array(RECORDS_BEFORE_BREAK).keys()])
    expect(await client.fetchOffsets('billing', 'break-commit')).to.deep.equal([{topic: 'break-commit', partition: 0, offset: RECORDS_BEFORE_BREAK}])
    for await (const record of client.consume({topic: 'break-commit', group: 'billing'})) {
      expect(record.offset).to.equal(RECORDS_BEFORE_BREAK)
      expect(record.value?.toString()).to.equal(`record ${RECORDS_BEFORE_BREAK}`)
      break
    }
  })

  it('ends the subscription at the node: records produced after the break are not fetched', async () => {
    await client.createTopic('break-ends', 1)
    await produceOneBatch(client, 'break-ends', 10)
    let given = 0
    for await (const record of client.consume({topic: 'break-ends'})) {
      expect(record.offset).to.equal(given)
      if (++given === 5) break
    }
    await sleep(SETTLE_MS)
    const bytesAfterBreak = await fetchBytesOf(suite.server.httpUrl, 'break-ends')
    expect(bytesAfterBreak).to.be.greaterThan(0)
    await produceOneBatch(client, 'break-ends', 10, 10)
    await sleep(SETTLE_MS)
    expect(await fetchBytesOf(suite.server.httpUrl, 'break-ends')).to.equal(bytesAfterBreak)
  })
})
