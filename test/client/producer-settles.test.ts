import {expect} from 'chai'
import {Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData} from '@grpc/grpc-js'
import {LignumClient} from '../../src/client/index.js'
import {LignumService, MetadataResponse, ProducePartitionResult, type MetadataRequest, type ProduceRequest, type ProduceResponse} from '../../src/generated/lignum/v1/lignum.js'

/**
 * Every send settles, whatever the node answers. A fake node leads one partition and refuses
 * every batch with a retriable error, forever; its metadata answers come a little late, so a
 * batch deciding whether to retry (it waits for that refresh) overlaps a batch of the same
 * partition whose delivery timeout is spent (Kafka's and the fault suite's case: a retried batch
 * sent beside fresh ones). Each record must end acknowledged or failed, and
 * flush() and close() must return.
 */
const NODE_ID = 'refusing-leader'
const ROUNDS = 6
const RECORDS_PER_ROUND = 500
const DELIVERY_TIMEOUT_MS = 2_100
// A send settles at the first answer past its delivery timeout: this node answers at once, so
// the margin is a backoff and a metadata refresh, with room for a loaded machine.
const SETTLE_MARGIN_MS = 5_000
// Long enough for the next answers on the stream to be handled while a refresh is out.
const METADATA_DELAY_MS = 50

interface RefusingNode {
  address: string
  refused: () => number
  close: () => void
}

/** `code`: what each batch is refused with; with `leaderless`, metadata names no leader at all. */
async function startRefusingNode(code: string, leaderless = false): Promise<RefusingNode> {
  const server = new Server()
  let refused = 0
  let address = ''
  server.addService(LignumService, {
    metadata(call: ServerUnaryCall<MetadataRequest, MetadataResponse>, callback: sendUnaryData<MetadataResponse>) {
      const partition = {leader: leaderless ? '' : NODE_ID, replicas: [NODE_ID], isr: leaderless ? [] : [NODE_ID]}
      const answer = MetadataResponse.fromPartial({
        cluster: 'fake',
        node: NODE_ID,
        nodes: [{id: NODE_ID, address, status: 'up', version: 'fake'}],
        topics: call.request.topics.map((name) => ({name, partitions: [{partition: 0, ...partition}]})),
      })
      setTimeout(() => callback(null, answer), METADATA_DELAY_MS)
    },
    produceStream(call: ServerDuplexStream<ProduceRequest, ProduceResponse>) {
      call.on('data', (request: ProduceRequest) => {
        refused++
        const results = request.partitions.map((entry) => ProducePartitionResult.fromPartial({topic: entry.topic, partition: entry.partition, error: {code, message: `refused (${code})`, retriable: true}}))
        call.write({requestId: request.requestId, results})
      })
      call.on('end', () => call.end())
      call.on('error', () => {})
    },
  })
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))))
  address = `127.0.0.1:${port}`
  return {address, refused: () => refused, close: () => server.forceShutdown()}
}

describe('producer: every send settles', function () {
  this.timeout(60_000)

  const cases = [
    {name: 'a leader answering NOT_ENOUGH_REPLICAS forever', code: 'NOT_ENOUGH_REPLICAS', leaderless: false},
    {name: 'a leader answering NOT_LEADER forever', code: 'NOT_LEADER', leaderless: false},
    {name: 'metadata naming no leader', code: 'NOT_LEADER', leaderless: true},
  ]
  for (const {name, code, leaderless} of cases) {
    it(`${name}: each record fails once its delivery timeout is spent, and close() returns`, async () => {
      const node = await startRefusingNode(code, leaderless)
      const client = await LignumClient.connect({brokers: node.address})
      try {
        const producer = client.producer({acks: 'all', batchBytes: 1024, deliveryTimeoutMs: DELIVERY_TIMEOUT_MS})
        await producer.prepare('refused')
        const outcomes = {acknowledged: 0, failed: 0}
        let slowestSettleMs = 0
        const send = (index: number) => {
          const sentMs = Date.now()
          return producer.send('refused', {value: `value-${index}`, partition: 0}).then(
            () => outcomes.acknowledged++,
            () => outcomes.failed++,
          ).finally(() => (slowestSettleMs = Math.max(slowestSettleMs, Date.now() - sentMs)))
        }
        // Which batches overlap depends on the jitter of their backoffs: several rounds.
        for (let round = 0; round < ROUNDS; round++) {
          // The first record leaves alone; the rest gather meanwhile, so later flights mix a
          // batch near its delivery timeout with fresher ones.
          const sends = [send(0)]
          await new Promise((resolve) => setTimeout(resolve, 20))
          for (let index = 1; index < RECORDS_PER_ROUND; index++) sends.push(send(index))
          await producer.flush()
          const settled = producer.stats.recordsFailed + producer.stats.recordsAcknowledged
          expect(settled, `records acknowledged or failed once flush() returned, round ${round}`).to.equal((round + 1) * RECORDS_PER_ROUND)
          await Promise.all(sends)
        }
        await producer.close()
        expect(outcomes).to.deep.equal({acknowledged: 0, failed: ROUNDS * RECORDS_PER_ROUND})
        expect(slowestSettleMs, 'the longest a send took to settle, in ms').to.be.at.most(DELIVERY_TIMEOUT_MS + SETTLE_MARGIN_MS)
        if (!leaderless) expect(node.refused(), 'batches refused').to.be.greaterThan(0)
      } finally {
        client.close()
        node.close()
      }
    })
  }
})
