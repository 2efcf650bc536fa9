/**
 * Readers that subscribe and then read nothing (`consume | sleep`) cost a real `lignum serve` a
 * bounded amount of memory each, while they stall and after they leave: the node stops reading
 * the log for a stream whose responses HTTP/2 has not taken (server/response-queue.ts).
 * Measured as the node's resident set (/proc/<pid>/status), as an operator would see it.
 */
import {expect} from 'chai'
import {readFile} from 'node:fs/promises'
import {credentials, Metadata, type ClientReadableStream, type ServiceError} from '@grpc/grpc-js'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {Acks, LignumClient, type FetchResponse} from '../../src/generated/lignum/v1/lignum.js'
import {serverForSuite} from '../helpers/server.js'

const MiB = 1024 * 1024
const READERS = 6
// Far more than any reader may be sent ahead: each could otherwise pin all of it.
const TOPIC_BYTES = 64 * MiB
const BATCH_VALUE_BYTES = 900 * 1024
// What one stalled reader may cost the node: its queue (4 MiB), the read waiting behind it (the
// clients' 2 MiB), HTTP/2's own buffers, and noise. Before the bound each cost about 32 MiB.
const READER_BYTES_MAX = 12 * MiB
// The node's memory has settled once it has not grown by this much for SETTLED_MS.
const SETTLED_GROWTH_BYTES = 2 * MiB
const SETTLED_MS = 2000
const SETTLE_WAIT_MS_MAX = 15_000

async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status)
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(match[1]) * 1024
}

/** The node's resident set once it stops growing (or after SETTLE_WAIT_MS_MAX). */
async function settledResidentBytes(pid: number): Promise<number> {
  const startedMs = Date.now()
  let last = await residentBytes(pid)
  let stableSinceMs = Date.now()
  while (Date.now() - startedMs < SETTLE_WAIT_MS_MAX) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    const now = await residentBytes(pid)
    if (now - last > SETTLED_GROWTH_BYTES) {
      last = now
      stableSinceMs = Date.now()
    } else if (Date.now() - stableSinceMs >= SETTLED_MS) {
      return now
    }
  }
  return residentBytes(pid)
}

describe('slow subscribers (lignum serve)', function () {
  this.timeout(90_000)
  const suite = serverForSuite()
  // A connection each, as separate consumers have (grpc-js would otherwise share one).
  const connect = () => new LignumClient(suite.server.grpcAddress, credentials.createInsecure(), {'grpc.use_local_subchannel_pool': 1})
  const clients: LignumClient[] = []
  after(() => clients.forEach((client) => client.close()))

  before(async () => {
    const producer = connect()
    clients.push(producer)
    const value = Buffer.alloc(BATCH_VALUE_BYTES, 'v')
    for (let written = 0; written < TOPIC_BYTES; written += BATCH_VALUE_BYTES) {
      await new Promise<void>((resolve, reject) =>
        producer.produce({partitions: [{topic: 'slow', partition: 0, records: [], recordBatch: encodeRecordBatch([{key: null, value}]), leaderEpoch: -1}], acks: Acks.ACKS_LEADER, timeoutMs: 0, requestId: 0n}, (error) => (error ? reject(error) : resolve())),
      )
    }
  })

  /** Subscribes from the start and never reads: grpc-js stops taking data once its buffer is full. */
  const stalledReader = (client: LignumClient, errors: ServiceError[]): ClientReadableStream<FetchResponse> => {
    const stream = client.subscribe({topic: 'slow', partition: 0, offset: 0n, maxBytes: 2 * MiB, decode: false, replica: 0}, new Metadata())
    stream.pause()
    stream.on('error', (error: ServiceError) => errors.push(error))
    return stream
  }

  it('costs the node a bounded amount per stalled reader, and no more once they leave', async () => {
    const pid = suite.server.process.pid!
    // Warm the read path (buffer pool, first reads) with one reader that keeps up.
    const warm = connect()
    clients.push(warm)
    await new Promise<void>((resolve, reject) => {
      const stream = warm.subscribe({topic: 'slow', partition: 0, offset: 0n, maxBytes: 2 * MiB, decode: false, replica: 0})
      stream.on('data', (response: FetchResponse) => {
        if (response.nextOffset * BigInt(BATCH_VALUE_BYTES) >= BigInt(TOPIC_BYTES)) {
          stream.cancel()
          resolve()
        }
      })
      stream.on('error', (error: ServiceError) => (error.code === 1 ? undefined : reject(error)))
    })
    const before = await settledResidentBytes(pid)

    const errors: ServiceError[] = []
    const readers = Array.from({length: READERS}, () => {
      const client = connect()
      clients.push(client)
      return stalledReader(client, errors)
    })
    const during = await settledResidentBytes(pid)
    expect(errors.map((error) => error.details), 'the readers subscribed').to.deep.equal([])

    readers.forEach((stream) => stream.cancel())
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const afterLeaving = await settledResidentBytes(pid)

    const perReaderMiB = (bytes: number) => (bytes - before) / READERS / MiB
    const figures = `node RSS ${(before / MiB).toFixed(0)} MiB before, ${(during / MiB).toFixed(0)} MiB with ${READERS} stalled readers, ${(afterLeaving / MiB).toFixed(0)} MiB after they left`
    expect(perReaderMiB(during), figures).to.be.below(READER_BYTES_MAX / MiB)
    expect(perReaderMiB(afterLeaving), figures).to.be.below(READER_BYTES_MAX / MiB)
    expect(suite.server.process.exitCode).to.equal(null)
  })
})
