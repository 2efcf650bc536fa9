/**
 * How a real `lignum serve` answers what it cannot serve: at once, with the gRPC status of the
 * error table, the Lignum code in trailing metadata and the message alone as details (no
 * "CODE: " prefix for a client to parse back).
 */
import {expect} from 'chai'
import {credentials, Metadata, status, type ClientReadableStream, type ServiceError} from '@grpc/grpc-js'
import {ERROR_CODE_METADATA_KEY, ERROR_HINT_METADATA_KEY, LignumError} from '../../src/errors.js'
import {HealthClient, HealthCheckResponse_ServingStatus} from '../../src/generated/grpc/health/v1/health.js'
import {Acks, LignumClient, type FetchResponse} from '../../src/generated/lignum/v1/lignum.js'
import {Connection} from '../../src/client/connection.js'
import {runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'

// Every refusal below is answered at once; the client's deadline is far longer, so a refusal
// that never comes fails the test by its elapsed time, not by mocha's timeout.
const ANSWER_MS_MAX = 2000
const DEADLINE_MS = 10_000

function unaryError(invoke: (deadline: {deadline: number}, done: (error: ServiceError | null) => void) => unknown): Promise<ServiceError> {
  return new Promise((resolve, reject) => {
    invoke({deadline: Date.now() + DEADLINE_MS}, (error) => (error ? resolve(error) : reject(new Error('the call succeeded'))))
  })
}

/** How a Subscribe stream ends: its error, or an Error saying it sent data or ended cleanly. */
function streamError(stream: ClientReadableStream<FetchResponse>): Promise<ServiceError> {
  return new Promise((resolve, reject) => {
    stream.on('data', () => reject(new Error('the subscription sent data')))
    stream.on('error', resolve)
    stream.on('end', () => reject(new Error('the subscription ended without an error')))
  })
}

function codeSent(error: ServiceError): unknown {
  return error.metadata.get(ERROR_CODE_METADATA_KEY)[0]
}

describe('gRPC errors (lignum serve)', function () {
  this.timeout(30_000)
  const suite = serverForSuite()
  let client: LignumClient
  before(async () => {
    client = new LignumClient(suite.server.grpcAddress, credentials.createInsecure())
    await new Promise<void>((resolve, reject) =>
      client.produce({partitions: [{topic: 'known', partition: 0, records: [{value: Buffer.from('one'), headers: [], timestamp: 0n}], recordBatch: Buffer.alloc(0), leaderEpoch: -1}], acks: Acks.ACKS_ALL, timeoutMs: 0, requestId: 1n}, (error) => (error ? reject(error) : resolve())),
    )
  })
  after(() => client.close())

  it('sends the Lignum code in trailing metadata and the message alone', async () => {
    const error = await unaryError((options, done) => client.describeTopic({name: 'missing'}, new Metadata(), options, done))
    expect(error.code).to.equal(status.NOT_FOUND)
    expect(codeSent(error)).to.equal('UNKNOWN_TOPIC')
    expect(error.details).to.equal('topic "missing" does not exist')
    expect(error.metadata.get(ERROR_HINT_METADATA_KEY)[0]?.toString()).to.equal('list topics with: lignum topics list')
    // The client library rebuilds the same error from it.
    const connection = new Connection(suite.server.grpcAddress)
    const rebuilt = connection.toLignumError(error)
    connection.close()
    expect(rebuilt).to.be.instanceOf(LignumError)
    expect(rebuilt.code).to.equal('UNKNOWN_TOPIC')
    expect(rebuilt.message).to.equal(error.details)
    expect(rebuilt.hint).to.equal('list topics with: lignum topics list')
  })

  const refusedSubscriptions = [
    {what: 'an unknown topic', request: {topic: 'missing', partition: 0, offset: 0n}, grpcStatus: status.NOT_FOUND, code: 'UNKNOWN_TOPIC'},
    {what: 'a missing partition', request: {topic: 'known', partition: 7, offset: 0n}, grpcStatus: status.NOT_FOUND, code: 'NOT_FOUND'},
    {what: 'an offset past the end', request: {topic: 'known', partition: 0, offset: 5n}, grpcStatus: status.OUT_OF_RANGE, code: 'OFFSET_OUT_OF_RANGE'},
    {what: 'a negative partition', request: {topic: 'known', partition: -5, offset: 0n}, grpcStatus: status.INVALID_ARGUMENT, code: 'INVALID_ARGUMENT'},
  ]
  for (const {what, request, grpcStatus, code} of refusedSubscriptions) {
    it(`refuses a subscription to ${what} at once`, async () => {
      const startedMs = Date.now()
      const stream = client.subscribe({...request, maxBytes: 0, decode: false, replica: 0}, {deadline: Date.now() + DEADLINE_MS})
      const error = await streamError(stream)
      expect(Date.now() - startedMs).to.be.below(ANSWER_MS_MAX)
      expect(error.code).to.equal(grpcStatus)
      expect(codeSent(error)).to.equal(code)
    })
  }

  it('refuses a negative partition in Fetch and ListOffsets with INVALID_ARGUMENT', async () => {
    for (const partition of [-1, -5]) {
      const fetched = await unaryError((options, done) => client.fetch({topic: 'known', partition, offset: 0n, maxBytes: 0, maxWaitMs: 0, decode: false, replica: 0}, new Metadata(), options, done))
      expect(fetched.code, `fetch partition ${partition}`).to.equal(status.INVALID_ARGUMENT)
      expect(fetched.details).to.match(/^partition -\d is not a partition number/)
      const listed = await unaryError((options, done) => client.listOffsets({topic: 'known', partition, timestamp: -1n}, new Metadata(), options, done))
      expect(listed.code, `listOffsets partition ${partition}`).to.equal(status.INVALID_ARGUMENT)
    }
  })

  it('consume of an unknown topic prints one line and exits non-zero at once', async () => {
    const startedMs = Date.now()
    const result = await runCli(['consume', '-t', 'missing', '--brokers', suite.server.grpcAddress])
    expect(Date.now() - startedMs).to.be.below(5000)
    expect(result.code).to.equal(3)
    expect(result.stderr.trim().split('\n')).to.deep.equal(['Error: topic "missing" does not exist; list topics with: lignum topics list'])
  })

  describe('health checks', () => {
    let health: HealthClient
    before(() => {
      health = new HealthClient(suite.server.grpcAddress, credentials.createInsecure())
    })
    after(() => health.close())

    it('answers SERVING for the node and for the Lignum service', async () => {
      for (const service of ['', 'lignum.v1.Lignum']) {
        const response = await new Promise<{status: number}>((resolve, reject) => health.check({service}, (error, answer) => (error ? reject(error) : resolve(answer))))
        expect(response.status, `service "${service}"`).to.equal(HealthCheckResponse_ServingStatus.SERVING)
      }
    })

    it('answers NOT_FOUND for a service the node does not serve, as the health protocol says', async () => {
      const error = await unaryError((options, done) => health.check({service: 'no.such.Service'}, new Metadata(), options, done))
      expect(error.code).to.equal(status.NOT_FOUND)
      expect(error.details).to.contain('no.such.Service')
    })

    it('watches an unknown service as SERVICE_UNKNOWN', async () => {
      const stream = health.watch({service: 'no.such.Service'})
      const first = await new Promise<{status: number}>((resolve, reject) => {
        stream.once('data', resolve)
        stream.once('error', reject)
      })
      stream.cancel()
      stream.on('error', () => {})
      expect(first.status).to.equal(HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN)
    })
  })
})
