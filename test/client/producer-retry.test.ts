import {expect} from 'chai'
import net from 'node:net'
import {LignumClient} from '../../src/client/index.js'
import {LignumError} from '../../src/errors.js'
import {serverForSuite} from '../helpers/server.js'

/**
 * A loopback TCP proxy that cuts its first connection once `cutAfterBytes` have gone from the
 * client to the server, and a moment later (so the server has appended what it received),
 * before the answer gets back: a lost acknowledgement. Later connections pass untouched.
 */
async function startLossyProxy(target: string, cutAfterBytes: number): Promise<{address: string; cuts: () => number; close: () => void}> {
  const [host, port] = target.split(':')
  let cuts = 0
  let connections = 0
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), host)
    const first = connections++ === 0
    let forwarded = 0
    client.on('data', (chunk) => {
      upstream.write(chunk)
      forwarded += chunk.length
      if (first && forwarded >= cutAfterBytes && cuts === 0) {
        cuts++
        client.pause()
        upstream.pause()
        setTimeout(() => {
          client.destroy()
          upstream.destroy()
        }, 300)
      }
    })
    upstream.on('data', (chunk) => {
      if (!(first && cuts > 0)) client.write(chunk)
    })
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as net.AddressInfo
  return {address: `127.0.0.1:${address.port}`, cuts: () => cuts, close: () => server.close()}
}

/** The server's count of resent batches it answered with their first offsets (from /metrics). */
async function duplicatesAnswered(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  const line = text.split('\n').find((entry) => entry.startsWith('lignum_produce_duplicates_total '))
  expect(line, 'lignum_produce_duplicates_total in /metrics').to.not.equal(undefined)
  return Number(line!.split(' ')[1])
}

describe('producer retries (against lignum serve)', function () {
  this.timeout(60_000)
  const suite = serverForSuite()

  it('does not duplicate records when an acknowledgement is lost and the batch is resent', async () => {
    const setup = await LignumClient.connect({brokers: suite.server.grpcAddress})
    await setup.createTopic('retried', 1)
    setup.close()
    const duplicatesBefore = await duplicatesAnswered(suite.server.httpUrl)
    const proxy = await startLossyProxy(suite.server.grpcAddress, 64 * 1024)
    const client = await LignumClient.connect({brokers: proxy.address})
    try {
      const producer = client.producer({acks: 'all', batchBytes: 16 * 1024, lingerMs: 1})
      const values = Array.from({length: 5000}, (_, index) => `value-${index}`)
      const sends = values.map((value) => producer.send('retried', {value}))
      const offsets = (await Promise.all(sends)).map((metadata) => metadata.offset)
      await producer.close()
      expect(proxy.cuts(), 'the proxy cut a connection').to.equal(1)
      expect(offsets).to.deep.equal(values.map((_, index) => index))
      const reader = await LignumClient.connect({brokers: suite.server.grpcAddress})
      const read: string[] = []
      for await (const record of reader.consume({topic: 'retried', stopAtEnd: true})) read.push(record.value?.toString() ?? '')
      reader.close()
      expect(read).to.deep.equal(values)
      // The resent batches were answered from producer state, not appended and then hidden.
      expect(await duplicatesAnswered(suite.server.httpUrl), 'batches the server answered as retries').to.be.greaterThan(duplicatesBefore)
    } finally {
      client.close()
      proxy.close()
    }
  })

  it('keeps producing to a partition after one of its batches failed (a new epoch starts past the gap)', async () => {
    const client = await LignumClient.connect({brokers: suite.server.grpcAddress})
    try {
      const producer = client.producer({acks: 'all'})
      expect((await producer.send('gap', {value: 'first'})).offset).to.equal(0)
      // Over the server's 1 MiB batch limit: refused before it is appended, leaving a sequence gap.
      const refused = await producer.send('gap', {value: Buffer.alloc(2 * 1024 * 1024)}).catch((error: unknown) => error)
      expect((refused as LignumError).code).to.equal('RECORD_TOO_LARGE')
      expect((await producer.send('gap', {value: 'after'})).offset).to.equal(1)
      await producer.close()
    } finally {
      client.close()
    }
  })

  it('refuses to send once its client is closed, with a message instead of a crash', async () => {
    const client = await LignumClient.connect({brokers: suite.server.grpcAddress})
    const producer = client.producer({acks: 'all'})
    await producer.send('after-close', {value: 'before'})
    client.close()
    const refused = await producer.send('after-close', {value: 'after'}).catch((error: Error) => error)
    expect(refused).to.be.instanceOf(LignumError)
    expect((refused as LignumError).message).to.match(/client is closed/)
  })
})
