import {expect} from 'chai'
import {Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData} from '@grpc/grpc-js'
import {LignumClient} from '../../src/client/index.js'
import {Connection} from '../../src/client/connection.js'
import {LignumService, type InitProducerIdRequest, type InitProducerIdResponse, type MetadataRequest, type MetadataResponse, type ProduceRequest, type ProduceResponse} from '../../src/generated/lignum/v1/lignum.js'
import {serverForSuite} from '../helpers/server.js'

/**
 * A leader elected while a refused batch waits out its backoff. A fake node, the client's
 * bootstrap node, names itself the topic's leader and refuses every batch with NOT_LEADER; the
 * first metadata request it answers after its first refusal still names itself (the refresh
 * the producer makes when the batch fails), and every later one names the real node (the
 * election has happened meanwhile). A producer that sends its retry to the leader known when
 * the retry leaves reaches the real node at once; one that used the metadata read when the
 * batch failed is refused a second time, a whole backoff later, which is what made the
 * failover time one to two backoffs longer than the election.
 */
const FAKE_NODE_ID = 'stale-leader'

interface StaleLeader {
  address: string
  refusals: () => number
  close: () => void
}

async function startStaleLeader(realAddress: string): Promise<StaleLeader> {
  const real = new Connection(realAddress)
  let refusals = 0
  let elected = false
  const server = new Server()
  server.addService(LignumService, {
    metadata(call: ServerUnaryCall<MetadataRequest, MetadataResponse>, callback: sendUnaryData<MetadataResponse>) {
      real.call(real.grpc.metadata, call.request).then((response) => {
        const nodes = [{id: FAKE_NODE_ID, address, status: 'up', version: 'fake', damagedReplicas: [], unverifiedReplicas: []}, ...response.nodes]
        if (elected) return callback(null, {...response, node: FAKE_NODE_ID, nodes})
        // This answer still names the fake; every one after it, the real node.
        if (refusals > 0) elected = true
        callback(null, {
          ...response,
          node: FAKE_NODE_ID,
          nodes,
          topics: response.topics.map((topic) => ({
            ...topic,
            partitions: topic.partitions.map((partition) => ({...partition, leader: FAKE_NODE_ID, replicas: [FAKE_NODE_ID, response.node], isr: [FAKE_NODE_ID, response.node]})),
          })),
        })
      }, (error: Error) => callback(error, null))
    },
    initProducerId(call: ServerUnaryCall<InitProducerIdRequest, InitProducerIdResponse>, callback: sendUnaryData<InitProducerIdResponse>) {
      real.call(real.grpc.initProducerId, call.request).then((response) => callback(null, response), (error: Error) => callback(error, null))
    },
    produceStream(call: ServerDuplexStream<ProduceRequest, ProduceResponse>) {
      call.on('data', (request: ProduceRequest) => {
        refusals++
        call.write({
          requestId: request.requestId,
          results: request.partitions.map((partition) => ({
            topic: partition.topic, partition: partition.partition, baseOffset: -1n, lastOffset: -1n,
            error: {code: 'NOT_LEADER', message: `${FAKE_NODE_ID} no longer leads this partition`, retriable: true, hint: ''},
          })),
        })
      })
      call.on('end', () => call.end())
      call.on('error', () => {})
    },
  })
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))))
  const address = `127.0.0.1:${port}`
  return {
    address,
    refusals: () => refusals,
    close: () => {
      server.forceShutdown()
      real.close()
    },
  }
}

describe('producer retry after a leader change during its backoff', function () {
  this.timeout(60_000)
  const suite = serverForSuite()

  it('sends the retry to the leader known when it leaves, not the one known when the batch failed', async () => {
    const topic = 'elected-during-backoff'
    const setup = await LignumClient.connect({brokers: suite.server.grpcAddress})
    await setup.createTopic(topic, 1)
    setup.close()
    const fake = await startStaleLeader(suite.server.grpcAddress)
    const client = await LignumClient.connect({brokers: fake.address})
    try {
      const producer = client.producer({acks: 'all', deliveryTimeoutMs: 10_000})
      const metadata = await producer.send(topic, {value: 'after the election'})
      await producer.close()
      expect(fake.refusals(), 'batches the old leader refused').to.equal(1)
      expect(metadata.offset).to.equal(0)
    } finally {
      client.close()
      fake.close()
    }
  })
})
