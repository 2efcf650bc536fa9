import {expect} from 'chai'
import {credentials, Metadata, status, type ServiceError} from '@grpc/grpc-js'
import {HealthClient, HealthCheckResponse_ServingStatus} from '../../src/generated/grpc/health/v1/health.js'
import {Acks, LignumClient, type DescribeTopicRequest, type FetchRequest, type FetchResponse, type ProduceRequest, type ProduceResponse, type TopicDescription} from '../../src/generated/lignum/v1/lignum.js'
import {batchPositions, decodeRecordBatch, encodeRecordBatch} from '../../src/format/record-batch.js'
import {startServer, type RunningServer} from '../helpers/server.js'

function call<Response>(invoke: (done: (error: ServiceError | null, response: Response) => void) => unknown): Promise<Response> {
  return new Promise((resolve, reject) => invoke((error, response) => (error ? reject(error) : resolve(response))))
}

function api(client: LignumClient) {
  return {
    produce: (request: ProduceRequest) => call<ProduceResponse>((done) => client.produce(request, done)),
    fetch: (request: FetchRequest) => call<FetchResponse>((done) => client.fetch(request, done)),
    describeTopic: (request: DescribeTopicRequest) => call<TopicDescription>((done) => client.describeTopic(request, done)),
  }
}

describe('gRPC API (lignum serve)', () => {
  let server: RunningServer
  let client: LignumClient
  before(async () => {
    server = await startServer()
    client = new LignumClient(server.grpcAddress, credentials.createInsecure())
  })
  after(async () => {
    client.close()
    expect(await server.stop()).to.equal(0)
  })

  it('produces records one by one and a whole encoded batch, then fetches them decoded', async () => {
    const friendly = await api(client).produce({
      partitions: [{topic: 'grpc', partition: 0, records: [{key: Buffer.from('k'), value: Buffer.from('one'), headers: [{key: 'h', value: Buffer.from('v')}], timestamp: 0n}], recordBatch: Buffer.alloc(0), leaderEpoch: -1}],
      acks: Acks.ACKS_ALL,
      timeoutMs: 0,
      requestId: 7n,
    })
    expect(friendly.requestId).to.equal(7n)
    expect(friendly.results[0]).to.include({topic: 'grpc', partition: 0, baseOffset: 0n, lastOffset: 0n})
    const fast = await api(client).produce({
      partitions: [{topic: 'grpc', partition: 0, records: [], recordBatch: encodeRecordBatch([{key: null, value: Buffer.from('two')}, {key: null, value: Buffer.from('three')}]), leaderEpoch: -1}],
      acks: Acks.ACKS_LEADER,
      timeoutMs: 0,
      requestId: 8n,
    })
    expect(fast.results[0]).to.include({baseOffset: 1n, lastOffset: 2n})
    const fetched = await api(client).fetch({topic: 'grpc', partition: 0, offset: 1n, maxBytes: 0, maxWaitMs: 0, decode: true, replica: 0})
    expect(fetched.records.map((record) => [record.offset, record.value?.toString()])).to.deep.equal([[1n, 'two'], [2n, 'three']])
    expect(fetched.highWatermark).to.equal(3n)
    const first = await api(client).fetch({topic: 'grpc', partition: 0, offset: 0n, maxBytes: 0, maxWaitMs: 0, decode: true, replica: 0})
    expect(first.records[0].key?.toString()).to.equal('k')
    expect(first.records[0].headers).to.deep.equal([{key: 'h', value: Buffer.from('v')}])
  })

  it('answers a request with missing fields with INVALID_ARGUMENT and a message', async () => {
    const noPartitions = await api(client).produce({partitions: [], acks: Acks.ACKS_ALL, timeoutMs: 0, requestId: 0n}).catch((error: ServiceError) => error)
    expect((noPartitions as ServiceError).code).to.equal(status.INVALID_ARGUMENT)
    expect((noPartitions as ServiceError).details).to.match(/^the produce request names no topic-partition/)
    // A partition's failure is its own result, beside the other partitions' offsets.
    const noTopic = await api(client).produce({partitions: [{topic: '', partition: 0, records: [{value: Buffer.from('x'), headers: [], timestamp: 0n}], recordBatch: Buffer.alloc(0), leaderEpoch: -1}], acks: Acks.ACKS_ALL, timeoutMs: 0, requestId: 0n})
    expect(noTopic.results[0].error).to.include({code: 'INVALID_ARGUMENT', retriable: false})
    const corrupt = encodeRecordBatch([{key: null, value: Buffer.from('x')}])
    corrupt[corrupt.length - 1] ^= 0xff
    const badCrc = await api(client).produce({partitions: [{topic: 'grpc', partition: 0, records: [], recordBatch: corrupt, leaderEpoch: -1}], acks: Acks.ACKS_ALL, timeoutMs: 0, requestId: 0n})
    expect(badCrc.results[0].error?.code).to.equal('CORRUPT_RECORD')
    const unknownTopic = await api(client).describeTopic({name: 'missing'}).catch((error: ServiceError) => error)
    expect((unknownTopic as ServiceError).code).to.equal(status.NOT_FOUND)
    const outOfRange = await api(client).fetch({topic: 'grpc', partition: 0, offset: 99n, maxBytes: 0, maxWaitMs: 0, decode: false, replica: 0}).catch((error: ServiceError) => error)
    expect((outOfRange as ServiceError).code).to.equal(status.OUT_OF_RANGE)
    const stillThere = await api(client).describeTopic({name: 'grpc'})
    expect(stillThere.partitions[0].logEndOffset).to.equal(3n)
  })

  it('answers each partition of a unary produce for itself: a failed one does not fail the appended ones', async () => {
    const corrupt = encodeRecordBatch([{key: null, value: Buffer.from('bad')}])
    corrupt[corrupt.length - 1] ^= 0xff
    const response = await api(client).produce({
      partitions: [
        {topic: 'per-partition', partition: 0, records: [], recordBatch: encodeRecordBatch([{key: null, value: Buffer.from('good')}]), leaderEpoch: -1},
        {topic: 'per-partition', partition: 0, records: [], recordBatch: corrupt, leaderEpoch: -1},
        {topic: '__consumer_offsets', partition: 0, records: [{value: Buffer.from('boom'), headers: [], timestamp: 0n}], recordBatch: Buffer.alloc(0), leaderEpoch: -1},
      ],
      acks: Acks.ACKS_ALL,
      timeoutMs: 0,
      requestId: 9n,
    })
    expect(response.results.map((result) => [result.topic, result.baseOffset, result.error?.code])).to.deep.equal([
      ['per-partition', 0n, undefined],
      ['per-partition', -1n, 'CORRUPT_RECORD'],
      ['__consumer_offsets', -1n, 'PERMISSION_DENIED'],
    ])
    expect((await api(client).describeTopic({name: 'per-partition'})).partitions[0].logEndOffset).to.equal(1n)
  })

  it('streams new batches to a subscriber', async () => {
    const stream = client.subscribe({topic: 'grpc', partition: 0, offset: 3n, maxBytes: 0, decode: false, replica: 0})
    const received = new Promise<FetchResponse>((resolve, reject) => {
      stream.once('data', resolve)
      stream.once('error', reject)
    })
    await api(client).produce({partitions: [{topic: 'grpc', partition: 0, records: [{value: Buffer.from('live'), headers: [], timestamp: 0n}], recordBatch: Buffer.alloc(0), leaderEpoch: -1}], acks: Acks.ACKS_ALL, timeoutMs: 0, requestId: 0n})
    const response = await received
    stream.cancel()
    const values = [...batchPositions(response.recordBatches)].flatMap(({position}) => decodeRecordBatch(response.recordBatches, position).records.map((record) => record.value?.toString()))
    expect(values).to.deep.equal(['live'])
  })

  it('pipelines produce requests on ProduceStream and answers each by request id', async () => {
    const stream = client.produceStream()
    const answers: bigint[] = []
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (response: {requestId: bigint}) => answers.push(response.requestId))
      stream.on('end', resolve)
      stream.on('error', reject)
    })
    for (let id = 1n; id <= 20n; id++) {
      stream.write({partitions: [{topic: 'piped', partition: 0, records: [], recordBatch: encodeRecordBatch([{key: null, value: Buffer.from(String(id))}]), leaderEpoch: -1}], acks: Acks.ACKS_ALL, timeoutMs: 0, requestId: id})
    }
    stream.end()
    await done
    expect(answers.sort((a, b) => Number(a - b))).to.deep.equal(Array.from({length: 20}, (_, index) => BigInt(index + 1)))
    const fetched = await api(client).fetch({topic: 'piped', partition: 0, offset: 0n, maxBytes: 0, maxWaitMs: 0, decode: true, replica: 0})
    expect(fetched.records.map((record) => record.value?.toString())).to.deep.equal(Array.from({length: 20}, (_, index) => String(index + 1)))
  })

  it('widens the HTTP/2 receive window for large produce batches (no warning at start)', () => {
    expect(server.logs()).to.not.match(/cannot widen the HTTP\/2 receive window/)
  })

  it('serves the standard health check', async () => {
    const health = new HealthClient(server.grpcAddress, credentials.createInsecure())
    const response = await new Promise<{status: number}>((resolve, reject) => health.check({service: ''}, new Metadata(), (error, answer) => (error ? reject(error) : resolve(answer))))
    health.close()
    expect(response.status).to.equal(HealthCheckResponse_ServingStatus.SERVING)
  })
})

describe('gRPC API at shutdown', () => {
  it('ends open subscriptions cleanly when the node stops', async () => {
    const server = await startServer()
    const client = new LignumClient(server.grpcAddress, credentials.createInsecure())
    try {
      await api(client).produce({partitions: [{topic: 'stopping', partition: 0, records: [{value: Buffer.from('x'), headers: [], timestamp: 0n}], recordBatch: Buffer.alloc(0), leaderEpoch: -1}], acks: Acks.ACKS_ALL, timeoutMs: 0, requestId: 0n})
      // From offset 0, its first answer proves the subscription reached the server, which then
      // holds it open at the log end when asked to stop.
      const stream = client.subscribe({topic: 'stopping', partition: 0, offset: 0n, maxBytes: 0, decode: false, replica: 0})
      const firstAnswer = new Promise<void>((resolve) => stream.once('data', () => resolve()))
      const ended = new Promise<string>((resolve) => {
        stream.on('end', () => resolve('end'))
        stream.on('error', (error) => resolve(`error: ${error.message}`))
        stream.on('data', () => {})
      })
      await firstAnswer
      const stopStartedMs = Date.now()
      expect(await server.stop('SIGTERM')).to.equal(0)
      expect(await ended).to.equal('end')
      // Without ending the stream, the server would wait out its 10 s shutdown grace.
      expect(Date.now() - stopStartedMs).to.be.below(5000)
    } finally {
      client.close()
    }
  })
})
