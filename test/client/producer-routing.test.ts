import {expect} from 'chai'
import {Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData} from '@grpc/grpc-js'
import {LignumClient} from '../../src/client/index.js'
import {Connection} from '../../src/client/connection.js'
import {LignumService, type MetadataRequest, type MetadataResponse, type ProduceRequest, type ProduceResponse} from '../../src/generated/lignum/v1/lignum.js'
import {serverForSuite} from '../helpers/server.js'

/**
 * Errors carried in produce answers, with a real node holding the data. A fake node stands in
 * front of it and forwards each batch to it (so the batch is stored, as on a follower that
 * replicated it), then answers for itself:
 * - "moved": NOT_LEADER, and from then on it describes the real node as the leader. The
 *   producer must refresh its metadata and send the same batches (same producer id and
 *   sequences) to the real node, and get each record stored once.
 * - "slow": REQUEST_TIMED_OUT for the first batches (acks=all not met in time), the real answer
 *   after. The producer must resend them to the same leader, which answers from its producer
 *   state instead of appending them twice.
 */
const TOPIC = 'moved'
const FAKE_NODE_ID = 'old-leader'
const RECORDS = 2_000

interface FakeLeader {
  address: string
  refused: () => number
  close: () => void
}

// How many answers the "slow" fake turns into timeouts.
const TIMED_OUT_ANSWERS = 3

async function startFakeLeader(realAddress: string, mode: 'moved' | 'slow'): Promise<FakeLeader> {
  const real = new Connection(realAddress)
  let leaderMoved = false
  let refused = 0
  const server = new Server()
  server.addService(LignumService, {
    metadata(call: ServerUnaryCall<MetadataRequest, MetadataResponse>, callback: sendUnaryData<MetadataResponse>) {
      real.call(real.grpc.metadata, call.request).then((response) => {
        const realNode = response.node
        callback(null, {
          ...response,
          node: FAKE_NODE_ID,
          nodes: [{id: FAKE_NODE_ID, address, status: 'up', version: 'fake', damagedReplicas: [], unverifiedReplicas: []}, ...response.nodes],
          topics: response.topics.map((topic) => ({
            ...topic,
            partitions: topic.partitions.map((partition) => ({...partition, leader: leaderMoved ? realNode : FAKE_NODE_ID, replicas: [FAKE_NODE_ID, realNode], isr: [FAKE_NODE_ID, realNode]})),
          })),
        })
      }, (error: Error) => callback(error, null))
    },
    produceStream(call: ServerDuplexStream<ProduceRequest, ProduceResponse>) {
      call.on('data', (request: ProduceRequest) => {
        real.call(real.grpc.produce, request).then((stored) => {
          if (mode === 'slow' && refused >= TIMED_OUT_ANSWERS) return call.write({...stored, requestId: request.requestId})
          // The batch is stored; this node answers as a leader that just lost its role, or whose followers were slow.
          leaderMoved = mode === 'moved'
          refused++
          const error = mode === 'moved' ? {code: 'NOT_LEADER', message: 'leadership moved', retriable: true, hint: ''} : {code: 'REQUEST_TIMED_OUT', message: 'not replicated in time', retriable: true, hint: ''}
          call.write({requestId: request.requestId, results: stored.results.map((result) => ({...result, baseOffset: -1n, lastOffset: -1n, error}))})
        }, (error: Error) => call.destroy(error))
      })
      call.on('end', () => call.end())
      call.on('error', () => {})
    },
  })
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))))
  const address = `127.0.0.1:${port}`
  return {
    address,
    refused: () => refused,
    close: () => {
      server.forceShutdown()
      real.close()
    },
  }
}

async function duplicatesAnswered(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  const line = text.split('\n').find((entry) => entry.startsWith('lignum_produce_duplicates_total '))
  return Number(line?.split(' ')[1] ?? Number.NaN)
}

describe('producer routing (a fake first leader, a real new one)', function () {
  this.timeout(60_000)
  const suite = serverForSuite()

  /** Sends RECORDS through a fake leader of `mode`; checks offsets, what the real node holds, and its duplicate count. */
  async function produceThroughFake(topic: string, mode: 'moved' | 'slow'): Promise<void> {
    const setup = await LignumClient.connect({brokers: suite.server.grpcAddress})
    await setup.createTopic(topic, 1)
    setup.close()
    const duplicatesBefore = await duplicatesAnswered(suite.server.httpUrl)
    const fake = await startFakeLeader(suite.server.grpcAddress, mode)
    const client = await LignumClient.connect({brokers: fake.address})
    try {
      const producer = client.producer({acks: 'all', batchBytes: 4096, deliveryTimeoutMs: 10_000})
      const values = Array.from({length: RECORDS}, (_, index) => `${mode}-${index}`)
      const offsets = (await Promise.all(values.map((value) => producer.send(topic, {value})))).map((metadata) => metadata.offset)
      await producer.close()
      expect(fake.refused(), 'batches answered with an error').to.be.greaterThan(0)
      expect(offsets).to.deep.equal(values.map((_, index) => index))

      const reader = await LignumClient.connect({brokers: suite.server.grpcAddress})
      const read: string[] = []
      for await (const record of reader.consume({topic, stopAtEnd: true})) read.push(record.value?.toString() ?? '')
      reader.close()
      expect(read, 'records on the real node').to.deep.equal(values)
      // The refused batches the real node already held were answered from its producer state.
      expect(await duplicatesAnswered(suite.server.httpUrl) - duplicatesBefore, 'retries answered as duplicates').to.equal(fake.refused())
    } finally {
      client.close()
      fake.close()
    }
  }

  it('retries batches refused NOT_LEADER in the response on the new leader, and stores each record once', async () => {
    await produceThroughFake(TOPIC, 'moved')
  })

  it('retries batches answered REQUEST_TIMED_OUT on the same leader, and stores each record once', async () => {
    await produceThroughFake('timed-out', 'slow')
  })
})
