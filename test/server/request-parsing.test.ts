/**
 * Raw bytes over a real gRPC connection to a real `lignum serve`: a request whose protobuf does
 * not parse is answered INVALID_ARGUMENT (the client's mistake), for every kind of call, and the
 * node goes on serving. A ProduceStream request naming no partition gets an answer too.
 */
import {expect} from 'chai'
import {credentials, makeGenericClientConstructor, Metadata, status, type Client, type ServiceError} from '@grpc/grpc-js'
import {ERROR_CODE_METADATA_KEY} from '../../src/errors.js'
import {Acks, ProduceRequest, ProduceResponse} from '../../src/generated/lignum/v1/lignum.js'
import {serverForSuite} from '../helpers/server.js'

const identity = (bytes: Buffer) => bytes

/** A client that sends and receives bytes as they are, so a test can send what no encoder would. */
const RawClient = makeGenericClientConstructor({}, 'raw')

// Field 1, length-delimited, claiming four billion bytes: no decoder can read past the end.
const TRUNCATED = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])
// Field 1 with wire type 7, which protobuf does not have.
const BAD_WIRE_TYPE = Buffer.from([0x0f, 0x01])
// The calls answer at once; a deadline far longer catches a call that is never answered.
const DEADLINE_MS = 10_000

describe('unparseable requests (lignum serve)', function () {
  this.timeout(30_000)
  const suite = serverForSuite()
  let raw: Client
  before(() => {
    raw = new RawClient(suite.server.grpcAddress, credentials.createInsecure())
  })
  after(() => raw.close())

  const unary = (path: string, bytes: Buffer) =>
    new Promise<ServiceError>((resolve, reject) => {
      raw.makeUnaryRequest(path, identity, identity, bytes, new Metadata(), {deadline: Date.now() + DEADLINE_MS}, (error) => (error ? resolve(error) : reject(new Error(`${path} succeeded`))))
    })

  const serverStream = (path: string, bytes: Buffer) =>
    new Promise<ServiceError>((resolve, reject) => {
      const stream = raw.makeServerStreamRequest(path, identity, identity, bytes, new Metadata(), {deadline: Date.now() + DEADLINE_MS})
      stream.on('data', () => reject(new Error(`${path} sent data`)))
      stream.on('error', resolve)
      stream.on('end', () => reject(new Error(`${path} ended without an error`)))
    })

  const expectInvalidArgument = (error: ServiceError, what: string) => {
    expect(error.code, `${what}: ${error.details}`).to.equal(status.INVALID_ARGUMENT)
    expect(error.metadata.get(ERROR_CODE_METADATA_KEY), what).to.deep.equal(['INVALID_ARGUMENT'])
    expect(error.details, what).to.match(/is not valid protobuf/)
  }

  for (const [name, bytes] of [['truncated', TRUNCATED], ['with a wire type protobuf lacks', BAD_WIRE_TYPE]] as const) {
    it(`answers INVALID_ARGUMENT to unary requests ${name}`, async () => {
      for (const path of ['/lignum.v1.Lignum/Produce', '/lignum.v1.Lignum/Fetch', '/lignum.v1.Lignum/CreateTopic', '/lignum.v1.Lignum/ListOffsets', '/grpc.health.v1.Health/Check']) {
        expectInvalidArgument(await unary(path, bytes), path)
      }
    })

    it(`answers INVALID_ARGUMENT to a Subscribe request ${name}`, async () => {
      expectInvalidArgument(await serverStream('/lignum.v1.Lignum/Subscribe', bytes), 'Subscribe')
    })
  }

  it('answers INVALID_ARGUMENT on a ProduceStream carrying bytes that do not parse', async () => {
    const stream = raw.makeBidiStreamRequest('/lignum.v1.Lignum/ProduceStream', identity, identity, new Metadata(), {deadline: Date.now() + DEADLINE_MS})
    const ended = new Promise<ServiceError>((resolve, reject) => {
      stream.on('data', () => reject(new Error('ProduceStream answered a message')))
      stream.on('error', resolve)
      stream.on('end', () => reject(new Error('ProduceStream ended without an error')))
    })
    stream.write(TRUNCATED)
    expectInvalidArgument(await ended, 'ProduceStream')
  })

  it('answers a ProduceStream request naming no partition with an error result for its id', async () => {
    const stream = raw.makeBidiStreamRequest('/lignum.v1.Lignum/ProduceStream', identity, identity, new Metadata(), {deadline: Date.now() + DEADLINE_MS})
    const answered = new Promise<ProduceResponse>((resolve, reject) => {
      stream.once('data', (bytes: Buffer) => resolve(ProduceResponse.decode(bytes)))
      stream.on('error', reject)
    })
    stream.write(Buffer.from(ProduceRequest.encode({partitions: [], acks: Acks.ACKS_ALL, timeoutMs: 0, requestId: 42n}).finish()))
    const response = await answered
    stream.end()
    expect(response.requestId).to.equal(42n)
    expect(response.results).to.have.length(1)
    expect(response.results[0].error).to.include({code: 'INVALID_ARGUMENT', retriable: false})
    expect(response.results[0].error?.message).to.match(/names no topic-partition/)
  })

  it('goes on serving after them', async () => {
    const ok = await new Promise<Buffer>((resolve, reject) =>
      raw.makeUnaryRequest('/grpc.health.v1.Health/Check', identity, identity, Buffer.alloc(0), new Metadata(), {deadline: Date.now() + DEADLINE_MS}, (error, response) => (error ? reject(error) : resolve(response!))),
    )
    // HealthCheckResponse {status: SERVING (1)}.
    expect([...ok]).to.deep.equal([0x08, 0x01])
    expect(suite.server.process.exitCode).to.equal(null)
  })
})
