import {expect} from 'chai'
import {spawn} from 'node:child_process'
import path from 'node:path'
import {credentials, type ServiceError} from '@grpc/grpc-js'
import {LignumClient, type FetchOffsetsResponse, type FetchResponse} from '../../src/generated/lignum/v1/lignum.js'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {lignumBin, repoRoot, runCli} from '../helpers/cli.js'
import {encodeControlBatch, encodeTransactionalBatch} from '../helpers/kafka-data.js'
import {startServer, type RunningServer} from '../helpers/server.js'
import {FIXTURE_TIMESTAMP, scratchDir} from '../log/helpers.js'

const COMMITTER = {producerId: 7, producerEpoch: 0}
const ABORTER = {producerId: 8, producerEpoch: 0}
/** What a read_uncommitted Kafka consumer sees of the partition below: every data record, no marker. */
const DATA = [
  {offset: 0, value: 'plain-0'},
  {offset: 1, value: 'plain-1'},
  {offset: 2, value: 'txn-a'},
  {offset: 3, value: 'txn-b'},
  {offset: 5, value: 'aborted-a'},
  {offset: 7, value: 'plain-2'},
]
const LOG_END_OFFSET = 9

const text = (value: string) => ({key: Buffer.from('k'), value: Buffer.from(value), timestamp: FIXTURE_TIMESTAMP})

/**
 * `txn-0` as a Kafka broker leaves it: plain records, a committed transaction (2-3, commit
 * marker at 4), an aborted one (5, abort marker at 6), a plain record, and a last batch that is
 * a marker (8), so a reader must move past markers to reach the end.
 */
async function writeTransactionPartition(dataDir: string): Promise<void> {
  // Markers are a transaction coordinator's writes, which the log takes as Kafka's own data.
  const asCoordinator = {origin: 'log'} as const
  const log = await PartitionLog.open(path.join(dataDir, 'txn-0'), {flushPolicy: 'never'})
  await log.append(encodeRecordBatch([text('plain-0'), text('plain-1')]))
  await log.append(encodeTransactionalBatch([text('txn-a'), text('txn-b')], COMMITTER, 0))
  await log.append(encodeControlBatch('commit', COMMITTER, FIXTURE_TIMESTAMP), asCoordinator)
  await log.append(encodeTransactionalBatch([text('aborted-a')], ABORTER, 0))
  await log.append(encodeControlBatch('abort', ABORTER, FIXTURE_TIMESTAMP), asCoordinator)
  await log.append(encodeRecordBatch([text('plain-2')]))
  await log.append(encodeControlBatch('commit', COMMITTER, FIXTURE_TIMESTAMP), asCoordinator)
  expect(log.logEndOffset).to.equal(LOG_END_OFFSET)
  await log.close()
}

function offsetsAndValues(jsonLines: string): {offset: number; value: string}[] {
  return jsonLines
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as {offset: number; value: string})
    .map(({offset, value}) => ({offset, value}))
}

function grpcCall<Response>(invoke: (done: (error: ServiceError | null, response: Response) => void) => unknown): Promise<Response> {
  return new Promise((resolve, reject) => invoke((error, response) => (error ? reject(error) : resolve(response))))
}

describe('transaction markers (control batches) are never shown as data', function () {
  this.timeout(60_000)
  let dir: string
  let cleanup: () => Promise<void>
  let dataDir: string

  before(async () => {
    ;({dir, cleanup} = await scratchDir())
    dataDir = path.join(dir, 'data')
    await writeTransactionPartition(dataDir)
  })
  after(() => cleanup())

  it('consume --data-dir skips them, reading transactions uncommitted', async () => {
    const all = await runCli(['consume', '--data-dir', dataDir, '--topic', 'txn', '--json'])
    expect(all.code, all.stderr).to.equal(0)
    expect(offsetsAndValues(all.stdout)).to.deep.equal(DATA)
    const fromMarker = await runCli(['consume', '--data-dir', dataDir, '--topic', 'txn', '--from', '4'])
    expect(fromMarker.stdout).to.equal('aborted-a\nplain-2\n')
    const counted = await runCli(['consume', '--data-dir', dataDir, '--topic', 'txn', '--from', '3', '--count', '2'])
    expect(counted.stdout).to.equal('txn-b\naborted-a\n')
  })

  it('segments inspect --dump --records shows them as markers, as Kafka\'s dump tool does', async () => {
    const result = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--dump', '--records'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(/^baseOffset: 4 lastOffset: 4 count: 1 .*isTransactional: true isControl: true /m)
    expect(result.stdout).to.include(`| offset: 4 timestamp: ${FIXTURE_TIMESTAMP} keySize: 4 valueSize: 6 endTxnMarker: COMMIT coordinatorEpoch: 0\n`)
    expect(result.stdout).to.include(`| offset: 6 timestamp: ${FIXTURE_TIMESTAMP} keySize: 4 valueSize: 6 endTxnMarker: ABORT coordinatorEpoch: 0\n`)
    expect(result.stdout).to.include(`| offset: 5 timestamp: ${FIXTURE_TIMESTAMP} keySize: 1 valueSize: 9 headers: [] key: "k" payload: "aborted-a"\n`)
  })

  describe('through a server', () => {
    let server: RunningServer
    let client: LignumClient
    before(async () => {
      server = await startServer({dataDir})
      client = new LignumClient(server.grpcAddress, credentials.createInsecure())
    })
    after(async () => {
      client.close()
      expect(await server.stop()).to.equal(0)
    })

    it('consume skips them and a group commits past the last one', async () => {
      const result = await runCli(['consume', '-t', 'txn', '-e', '--json', '--group', 'readers', '--brokers', server.grpcAddress])
      expect(result.code, result.stderr).to.equal(0)
      expect(offsetsAndValues(result.stdout)).to.deep.equal(DATA)
      const committed = await grpcCall<FetchOffsetsResponse>((done) => client.fetchOffsets({group: 'readers', topic: 'txn'}, done))
      expect(committed.offsets.map((entry) => [entry.partition, Number(entry.offset)])).to.deep.equal([[0, LOG_END_OFFSET]])
      const fromMarker = await runCli(['consume', '-t', 'txn', '-e', '--from', '6', '--brokers', server.grpcAddress])
      expect(fromMarker.stdout).to.equal('plain-2\n')
    })

    it('tail skips them', async () => {
      const tail = spawn(process.execPath, [lignumBin, 'tail', '-t', 'txn', '-n', '5', '--brokers', server.grpcAddress], {cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe']})
      let stdout = ''
      tail.stdout.on('data', (chunk) => (stdout += chunk))
      try {
        // The last five offsets (4-8) hold two markers, two records and the trailing marker.
        await new Promise<void>((resolve, reject) => {
          tail.stdout.on('data', () => stdout.includes('plain-2\n') && resolve())
          tail.once('exit', (code) => reject(new Error(`tail exited (${code}) early: ${stdout}`)))
        })
        // Anything printed after the last record would arrive with it or soon after.
        await new Promise((resolve) => setTimeout(resolve, 300))
        expect(stdout).to.equal('aborted-a\nplain-2\n')
      } finally {
        tail.kill('SIGINT')
      }
    })

    it('GET /api/message and a decoded gRPC fetch skip them', async () => {
      const response = await fetch(`${server.httpUrl}/api/message?topic=txn&from=0&to=${LOG_END_OFFSET}`)
      const body = (await response.json()) as {messages: {Id: number; Data: string}[]; count: number}
      expect(body).to.deep.equal({messages: DATA.map(({offset, value}) => ({Id: offset, Data: value})), count: DATA.length})
      const fetched = await grpcCall<FetchResponse>((done) => client.fetch({topic: 'txn', partition: 0, offset: 0n, maxBytes: 0, maxWaitMs: 0, decode: true, replica: 0}, done))
      expect(fetched.records.map((record) => [Number(record.offset), record.value?.toString()])).to.deep.equal(DATA.map(({offset, value}) => [offset, value]))
      expect(Number(fetched.nextOffset)).to.equal(LOG_END_OFFSET)
    })
  })
})
