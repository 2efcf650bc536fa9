import {expect} from 'chai'
import {credentials, type ServiceError} from '@grpc/grpc-js'
import {Acks, LignumClient, type ProduceRequest, type ProduceResponse} from '../../src/generated/lignum/v1/lignum.js'
import {runCli} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'

// Small enough to see the bound at work with a few dozen segments.
const HANDLES_MAX = 3
const SEGMENTS = 30
// A 61-byte batch header and a record of about 70 bytes fit once, never twice.
const SEGMENT_BYTES = 150

function call<Response>(invoke: (done: (error: ServiceError | null, response: Response) => void) => unknown): Promise<Response> {
  return new Promise((resolve, reject) => invoke((error, response) => (error ? reject(error) : resolve(response))))
}

async function handlesOpen(server: RunningServer): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text()
  const line = text.split('\n').find((entry) => entry.startsWith('lignum_segment_handles_open '))
  expect(line, 'the metric is exported').to.not.equal(undefined)
  return Number(line!.split(' ')[1])
}

describe('segmentHandlesOpenMax on a real server', function () {
  this.timeout(60_000)

  it('keeps the idle handles of closed segments within the configured bound after reading every segment', async () => {
    const server = await startServer({env: {LIGNUM_SEGMENT_HANDLES_OPEN_MAX: String(HANDLES_MAX)}})
    try {
      const brokers = ['--brokers', server.grpcAddress]
      // One small segment per record: each produce below rolls a new one.
      const created = await runCli(['topics', 'create', 'many', '--partitions', '1', '--segment-bytes', String(SEGMENT_BYTES), ...brokers])
      expect(created.stderr).to.equal('')
      const lines = Array.from({length: SEGMENTS}, (_, index) => `record-${index}-${'x'.repeat(60)}`)
      const client = new LignumClient(server.grpcAddress, credentials.createInsecure())
      try {
        for (const line of lines) {
          const request: ProduceRequest = {partitions: [{topic: 'many', partition: 0, records: [{value: Buffer.from(line), headers: [], timestamp: 0n}], recordBatch: Buffer.alloc(0), leaderEpoch: -1}], acks: Acks.ACKS_LEADER, timeoutMs: 0, requestId: 0n}
          const [result] = (await call<ProduceResponse>((done) => client.produce(request, done))).results
          expect(result.error, result.error?.message).to.equal(undefined)
        }
      } finally {
        client.close()
      }
      const consumed = await runCli(['consume', '-t', 'many', '-e', ...brokers])
      expect(consumed.stderr).to.equal('')
      expect(consumed.stdout.trim().split('\n')).to.deep.equal(lines)
      expect(await handlesOpen(server)).to.be.within(1, HANDLES_MAX)
    } finally {
      await server.stop()
    }
  })
})
