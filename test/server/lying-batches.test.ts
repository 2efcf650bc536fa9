import {expect} from 'chai'
import {readdir} from 'node:fs/promises'
import path from 'node:path'
import {credentials, type ServiceError} from '@grpc/grpc-js'
import {Acks, LignumClient, type DescribeTopicRequest, type FetchRequest, type FetchResponse, type ProduceRequest, type ProduceResponse, type TopicDescription} from '../../src/generated/lignum/v1/lignum.js'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {batchClaimingMaxRecords, batchWithDeltas, gzipBomb, rawBatch, rawRecord} from '../helpers/raw-batches.js'
import {startServer, type RunningServer} from '../helpers/server.js'

function call<Response>(invoke: (done: (error: ServiceError | null, response: Response) => void) => unknown): Promise<Response> {
  return new Promise((resolve, reject) => invoke((error, response) => (error ? reject(error) : resolve(response))))
}

describe('lying record batches sent to a real server (gRPC ProduceRequest batches)', () => {
  const topic = 'lies'
  let server: RunningServer
  let client: LignumClient

  const produce = (request: ProduceRequest) => call<ProduceResponse>((done) => client.produce(request, done))
  const fetch = (request: FetchRequest) => call<FetchResponse>((done) => client.fetch(request, done))
  const describeTopic = (request: DescribeTopicRequest) => call<TopicDescription>((done) => client.describeTopic(request, done))
  const produceBatch = (recordBatch: Buffer) => produce({partitions: [{topic, partition: 0, records: [], recordBatch, leaderEpoch: -1}], acks: Acks.ACKS_ALL, timeoutMs: 0, requestId: 1n})
  const logEndOffset = async () => (await describeTopic({name: topic})).partitions[0].logEndOffset
  const values = async () => (await fetch({topic, partition: 0, offset: 0n, maxBytes: 0, maxWaitMs: 0, decode: true, replica: 0})).records.map((record) => [Number(record.offset), record.value?.toString()])

  async function expectRefused(batch: Buffer, code: 'CORRUPT_RECORD' | 'INVALID_RECORD', message: RegExp): Promise<void> {
    const [result] = (await produceBatch(batch)).results
    expect(result.error, 'the produce is refused').to.not.equal(undefined)
    expect(result.error!.code).to.equal(code)
    expect(result.error!.retriable).to.equal(false)
    expect(result.error!.message).to.match(message)
  }

  before(async () => {
    server = await startServer()
    client = new LignumClient(server.grpcAddress, credentials.createInsecure())
    await produceBatch(encodeRecordBatch([{key: null, value: Buffer.from('good-0')}, {key: null, value: Buffer.from('good-1')}]))
  })
  after(async () => {
    client.close()
    expect(await server.stop()).to.equal(0)
  })

  it('refuses offset deltas 0,0,0 / 2,1,0 / 0,1,7: the log end stays and consumers read the good data', async () => {
    await expectRefused(batchWithDeltas([0, 0, 0]), 'INVALID_RECORD', /offset delta 0 in record 1/)
    await expectRefused(batchWithDeltas([2, 1, 0]), 'INVALID_RECORD', /offset delta 2 in record 0/)
    await expectRefused(batchWithDeltas([0, 1, 7]), 'INVALID_RECORD', /offset delta 7 in record 2/)
    expect(await logEndOffset()).to.equal(2n)
    expect(await values()).to.deep.equal([[0, 'good-0'], [1, 'good-1']])
  })

  it('refuses records that do not parse, so no consumer is left stuck on them', async () => {
    await expectRefused(rawBatch(Buffer.from('garbage where records belong'), {timestampDeltaMax: 0, count: 1}), 'CORRUPT_RECORD', /malformed record 0/)
    const cut = rawRecord({offsetDelta: 0, value: Buffer.from('value')})
    await expectRefused(rawBatch(cut.subarray(0, cut.length - 2), {timestampDeltaMax: 0, count: 1}), 'CORRUPT_RECORD', /malformed record 0/)
    expect(await logEndOffset()).to.equal(2n)
    expect(await values()).to.deep.equal([[0, 'good-0'], [1, 'good-1']])
  })

  it('refuses a lying maxTimestamp and a control batch', async () => {
    const records = Buffer.concat([rawRecord({offsetDelta: 0}), rawRecord({offsetDelta: 1, timestampDelta: 1000})])
    await expectRefused(rawBatch(records, {timestampDeltaMax: 1000, count: 2}, {maxTimestamp: 1_700_000_000_000}), 'INVALID_RECORD', /later than its maxTimestamp/)
    await expectRefused(rawBatch(records, {timestampDeltaMax: 1000, count: 2}, {maxTimestamp: 9_000_000_000_000}), 'INVALID_RECORD', /says maxTimestamp 9000000000000/)
    await expectRefused(batchWithDeltas([0], {attributes: 0x20}), 'INVALID_RECORD', /control batch/)
    expect(await logEndOffset()).to.equal(2n)
  })

  it('refuses a gzip batch that inflates to 1 GiB and stays up', async () => {
    const bomb = gzipBomb()
    await expectRefused(bomb, 'CORRUPT_RECORD', /inflates past \d+ bytes.*decompression bomb/)
    expect(await logEndOffset()).to.equal(2n)
    expect(await values()).to.deep.equal([[0, 'good-0'], [1, 'good-1']])
  })

  it('refuses 300 71-byte batches claiming 2^31-1 records without moving the log end or making segments', async () => {
    for (let request = 0; request < 300; request++) await expectRefused(batchClaimingMaxRecords(), 'CORRUPT_RECORD', /claims 2147483647 records/)
    expect(await logEndOffset()).to.equal(2n)
    const files = await readdir(path.join(server.dataDir, `${topic}-0`))
    expect(files.filter((name) => name.endsWith('.log'))).to.deep.equal(['00000000000000000000.log'])
    const after = await produceBatch(encodeRecordBatch([{key: null, value: Buffer.from('good-2')}]))
    expect(after.results[0].baseOffset).to.equal(2n)
    expect(await values()).to.deep.equal([[0, 'good-0'], [1, 'good-1'], [2, 'good-2']])
  })
})
