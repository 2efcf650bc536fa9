import {expect} from 'chai'
import {Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData} from '@grpc/grpc-js'
import {LignumClient} from '../../src/client/index.js'
import {Connection} from '../../src/client/connection.js'
import {LignumService, type MetadataRequest, type MetadataResponse, type ProduceRequest, type ProduceResponse} from '../../src/generated/lignum/v1/lignum.js'
import {serverForSuite} from '../helpers/server.js'

/**
 * A leader that dies mid-stream. A fake node, the client's bootstrap node, says it leads the
 * topic and forwards each batch, in order, to a real node (so the batch is stored, as on a
 * follower that replicated it). After STORED_BEFORE_DEATH batches it dies: the server shuts
 * down without answering the batches it holds. The real node's own metadata names itself the
 * leader. The producer must find that out through the surviving node, send the unanswered
 * batches there with the same producer id and sequences, and have each record acknowledged
 * and stored exactly once.
 */
const FAKE_NODE_ID = 'dying-leader'
const RECORDS = 2_000
const STORED_BEFORE_DEATH = 4

interface DyingLeader {
  address: string
  /** Batches stored on the real node whose answer died with the fake. */
  storedUnanswered: () => number
  answered: () => number
  close: () => void
}

async function startDyingLeader(realAddress: string): Promise<DyingLeader> {
  const real = new Connection(realAddress)
  let dead = false
  let stored = 0
  let answered = 0
  let storedUnanswered = 0
  // Unary forwards could overtake one another; a chain keeps the stream's order.
  let forwarding: Promise<unknown> = Promise.resolve()
  const server = new Server()
  const die = () => {
    dead = true
    server.forceShutdown()
  }
  server.addService(LignumService, {
    metadata(call: ServerUnaryCall<MetadataRequest, MetadataResponse>, callback: sendUnaryData<MetadataResponse>) {
      real.call(real.grpc.metadata, call.request).then((response) => {
        callback(null, {
          ...response,
          node: FAKE_NODE_ID,
          nodes: [{id: FAKE_NODE_ID, address, status: 'up', version: 'fake', damagedReplicas: [], unverifiedReplicas: []}, ...response.nodes],
          topics: response.topics.map((topic) => ({
            ...topic,
            partitions: topic.partitions.map((partition) => ({...partition, leader: FAKE_NODE_ID, replicas: [FAKE_NODE_ID, response.node], isr: [FAKE_NODE_ID, response.node]})),
          })),
        })
      }, (error: Error) => callback(error, null))
    },
    produceStream(call: ServerDuplexStream<ProduceRequest, ProduceResponse>) {
      call.on('data', (request: ProduceRequest) => {
        forwarding = forwarding.then(async () => {
          if (dead) return
          const response = await real.call(real.grpc.produce, request)
          stored++
          if (stored > STORED_BEFORE_DEATH) {
            storedUnanswered++
            return die()
          }
          answered++
          call.write({...response, requestId: request.requestId})
        }).catch(() => {})
      })
      call.on('end', () => call.end())
      call.on('error', () => {})
    },
  })
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))))
  const address = `127.0.0.1:${port}`
  return {
    address,
    storedUnanswered: () => storedUnanswered,
    answered: () => answered,
    close: () => {
      if (!dead) die()
      real.close()
    },
  }
}

async function duplicatesAnswered(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  const line = text.split('\n').find((entry) => entry.startsWith('lignum_produce_duplicates_total '))
  return Number(line?.split(' ')[1] ?? Number.NaN)
}

describe('producer failover (the leader dies mid-stream, another node takes over)', function () {
  this.timeout(60_000)
  const suite = serverForSuite()

  it('re-routes the unanswered batches to the new leader through the surviving node, and stores each record once', async () => {
    const topic = 'failover'
    const setup = await LignumClient.connect({brokers: suite.server.grpcAddress})
    await setup.createTopic(topic, 1)
    setup.close()
    const duplicatesBefore = await duplicatesAnswered(suite.server.httpUrl)
    const fake = await startDyingLeader(suite.server.grpcAddress)
    const client = await LignumClient.connect({brokers: fake.address})
    try {
      const producer = client.producer({acks: 'all', batchBytes: 4096, deliveryTimeoutMs: 10_000})
      const values = Array.from({length: RECORDS}, (_, index) => `failover-${index}`)
      const offsets = (await Promise.all(values.map((value) => producer.send(topic, {value})))).map((metadata) => metadata.offset)
      await producer.close()
      expect(fake.answered(), 'batches the dying leader acknowledged').to.equal(STORED_BEFORE_DEATH)
      expect(fake.storedUnanswered(), 'batches stored but never answered').to.equal(1)
      expect(offsets, 'each record acknowledged once, at its place').to.deep.equal(values.map((_, index) => index))
      expect(producer.stats.recordsAcknowledged).to.equal(RECORDS)
      expect(producer.stats.recordsFailed).to.equal(0)

      const reader = await LignumClient.connect({brokers: suite.server.grpcAddress})
      const read: string[] = []
      for await (const record of reader.consume({topic, stopAtEnd: true})) read.push(record.value?.toString() ?? '')
      reader.close()
      expect(read, 'records on the new leader').to.deep.equal(values)
      // The batch stored before the death was answered from the new leader's producer state.
      expect(await duplicatesAnswered(suite.server.httpUrl) - duplicatesBefore, 'retries answered as duplicates').to.equal(1)
    } finally {
      client.close()
      fake.close()
    }
  })
})
