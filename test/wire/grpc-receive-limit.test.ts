/**
 * The in-place framing replaces how grpc-js gathers received messages, and with it the check
 * that enforces the receive limit (grpc.max_receive_message_length). Over real connections, with
 * the replacement installed on both sides: a request over the node's limit and a response over
 * the client's limit are each refused with RESOURCE_EXHAUSTED by the transport, and the node
 * goes on serving.
 */
import {expect} from 'chai'
import {credentials, Metadata, status, type ServiceError} from '@grpc/grpc-js'
import {ERROR_CODE_METADATA_KEY} from '../../src/errors.js'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {Acks, LignumClient, type FetchResponse, type ProduceRequest, type ProduceResponse} from '../../src/generated/lignum/v1/lignum.js'
import {installGrpcFraming} from '../../src/wire/grpc-framing.js'
import {serverForSuite} from '../helpers/server.js'

// The node's request limit, small enough for a test to cross it cheaply.
const NODE_REQUEST_BYTES_MAX = 256 * 1024
// The client's response limit: below one fetch of the records the test writes.
const CLIENT_RESPONSE_BYTES_MAX = 64 * 1024
const DEADLINE_MS = 10_000

function produceRequest(value: Buffer, requestId: bigint): ProduceRequest {
  return {partitions: [{topic: 'limits', partition: 0, records: [], recordBatch: encodeRecordBatch([{key: null, value}]), leaderEpoch: -1}], acks: Acks.ACKS_ALL, timeoutMs: 0, requestId}
}

describe('gRPC receive limits with in-place framing', function () {
  this.timeout(30_000)
  const suite = serverForSuite({env: {LIGNUM_REQUEST_BYTES_MAX: String(NODE_REQUEST_BYTES_MAX)}})
  let client: LignumClient
  let limited: LignumClient
  before(() => {
    const warnings: string[] = []
    expect(installGrpcFraming({warn: (message) => warnings.push(message)}), 'the framing is installed in this process').to.equal(true)
    expect(warnings).to.deep.equal([])
    client = new LignumClient(suite.server.grpcAddress, credentials.createInsecure())
    limited = new LignumClient(suite.server.grpcAddress, credentials.createInsecure(), {'grpc.max_receive_message_length': CLIENT_RESPONSE_BYTES_MAX})
  })
  after(() => {
    client.close()
    limited.close()
  })

  const produce = (request: ProduceRequest) =>
    new Promise<ProduceResponse>((resolve, reject) => client.produce(request, new Metadata(), {deadline: Date.now() + DEADLINE_MS}, (error, response) => (error ? reject(error) : resolve(response))))

  const expectRefusedByTransport = (error: unknown, limit: number) => {
    const failure = error as ServiceError
    expect(failure.code, failure.details).to.equal(status.RESOURCE_EXHAUSTED)
    expect(failure.details).to.match(new RegExp(`^Received message larger than max \\(\\d+ vs ${limit}\\)`))
    // grpc-js refused it, not a handler: no Lignum code came with it.
    expect(failure.metadata.get(ERROR_CODE_METADATA_KEY)).to.deep.equal([])
  }

  it('the node installed the framing (it warns when it cannot)', () => {
    expect(suite.server.logs()).to.not.match(/framed by copy/)
  })

  it('the node refuses a request over its limit, and goes on serving', async () => {
    const refused = await produce(produceRequest(Buffer.alloc(NODE_REQUEST_BYTES_MAX + 1, 1), 1n)).then(() => undefined, (error: unknown) => error)
    expect(refused, 'the oversized request was accepted').to.not.equal(undefined)
    expectRefusedByTransport(refused, NODE_REQUEST_BYTES_MAX)
    const accepted = await produce(produceRequest(Buffer.alloc(NODE_REQUEST_BYTES_MAX / 2, 2), 2n))
    expect(accepted.results[0]).to.include({baseOffset: 0n, lastOffset: 0n})
    expect(suite.server.process.exitCode).to.equal(null)
  })

  it('the client refuses a response over its limit, and the node goes on serving', async () => {
    const fetchWith = (reader: LignumClient) =>
      new Promise<FetchResponse>((resolve, reject) =>
        reader.fetch({topic: 'limits', partition: 0, offset: 0n, maxBytes: 0, maxWaitMs: 0, decode: false, replica: 0}, new Metadata(), {deadline: Date.now() + DEADLINE_MS}, (error, response) => (error ? reject(error) : resolve(response))),
      )
    const refused = await fetchWith(limited).then(() => undefined, (error: unknown) => error)
    expect(refused, 'the oversized response was taken').to.not.equal(undefined)
    expectRefusedByTransport(refused, CLIENT_RESPONSE_BYTES_MAX)
    const fetched = await fetchWith(client)
    expect(fetched.recordBatches.length).to.be.greaterThan(CLIENT_RESPONSE_BYTES_MAX)
    expect(suite.server.process.exitCode).to.equal(null)
  })
})
