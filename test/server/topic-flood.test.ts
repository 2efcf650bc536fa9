import {expect} from 'chai'
import {readdir} from 'node:fs/promises'
import {credentials, type ServiceError} from '@grpc/grpc-js'
import {Acks, LignumClient, type ProduceRequest, type ProduceResponse} from '../../src/generated/lignum/v1/lignum.js'
import {startServer, type RunningServer} from '../helpers/server.js'

// Small enough to run quickly, large enough that every topic's files would show in the count.
const TOPICS_MAX = 150
const FLOOD_TOPICS = 180

function call<Response>(invoke: (done: (error: ServiceError | null, response: Response) => void) => unknown): Promise<Response> {
  return new Promise((resolve, reject) => invoke((error, response) => (error ? reject(error) : resolve(response))))
}

/** A flood of auto-created topics (a typo in a loop) against a real node. */
describe('a topic flood sent to a real server', function () {
  this.timeout(120_000)
  let server: RunningServer
  let client: LignumClient
  const produce = (topic: string, value: string) => {
    const request: ProduceRequest = {partitions: [{topic, partition: 0, records: [{value: Buffer.from(value), headers: [], timestamp: 0n}], recordBatch: Buffer.alloc(0), leaderEpoch: -1}], acks: Acks.ACKS_LEADER, timeoutMs: 0, requestId: 0n}
    return call<ProduceResponse>((done) => client.produce(request, done))
  }

  before(async () => {
    server = await startServer({env: {LIGNUM_TOPICS_MAX: String(TOPICS_MAX)}})
    client = new LignumClient(server.grpcAddress, credentials.createInsecure())
  })
  after(async () => {
    client.close()
    await server.stop()
  })

  it('meets a clear limit, keeps serving the topics it has, and holds its open files within the limit', async () => {
    const refused: string[] = []
    for (let index = 0; index < FLOOD_TOPICS; index++) {
      const [result] = (await produce(`flood-${index}`, `v${index}`)).results
      if (result.error) refused.push(result.error.message)
    }
    expect(refused).to.have.length(FLOOD_TOPICS - TOPICS_MAX)
    expect(refused[0]).to.match(new RegExp(`topicsMax ${TOPICS_MAX}`))
    const [existing] = (await produce('flood-0', 'again')).results
    expect(existing.error, existing.error?.message).to.equal(undefined)
    expect(Number(existing.baseOffset)).to.equal(1)
    const openFiles = (await readdir(`/proc/${server.process.pid}/fd`)).length
    // One active segment per partition keeps its .log open; a few hundred more for the runtime.
    expect(openFiles).to.be.below(TOPICS_MAX * 2 + 200)
    expect(server.process.exitCode).to.equal(null)
  })
})
