import {spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {expect} from 'chai'
import {LignumClient} from '../../src/client/index.js'
import {lignumBin, repoRoot, runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'

const PARTITIONS = 4
const RECORDS = 400

const sha256 = (bytes: Buffer | null) => (bytes === null ? 'null' : createHash('sha256').update(bytes).digest('hex'))

/** Every record of a topic as partition/offset -> digests of its key, value and headers, read with the library (not the CLI under test). */
async function digestsOf(brokers: string, topic: string): Promise<Map<string, string>> {
  const client = await LignumClient.connect({brokers})
  try {
    const digests = new Map<string, string>()
    for await (const record of client.consume({topic, stopAtEnd: true})) {
      const headers = record.headers.map((header) => `${sha256(Buffer.from(header.key, 'utf8'))}=${sha256(header.value)}`).join(',')
      digests.set(`${record.partition}/${record.offset}`, `key ${sha256(record.key)} value ${sha256(record.value)} headers [${headers}] at ${record.timestamp}`)
    }
    return digests
  } finally {
    client.close()
  }
}

/** A value of each kind consume --json must carry: random binary, text, empty, null, and text that only looks like base64. */
function valueFor(index: number): Buffer | null {
  switch (index % 6) {
    case 0: return null
    case 1: return Buffer.alloc(0)
    case 2: return Buffer.from(`text ${index} with "quotes", a tab\t, a newline\n and ünïcödé`, 'utf8')
    case 3: return Buffer.from('AAAA', 'utf8')
    default: return randomBytes(1 + (index % 300))
  }
}

function keyFor(index: number): Buffer | null {
  if (index % 5 === 0) return null
  return index % 2 === 0 ? Buffer.from(`key-${index}`) : randomBytes(8)
}

function headersFor(index: number): {key: string; value: Buffer | null}[] {
  if (index % 3 === 0) return []
  return [{key: 'source', value: Buffer.from('cam-3')}, {key: 'raw', value: randomBytes(16)}, {key: 'none', value: null}, {key: 'ключ', value: Buffer.alloc(0)}]
}

/** Runs `lignum consume ... --json | lignum produce ... --format json` as two real processes joined by a pipe. */
function copyThroughPipe(brokers: string, from: string, to: string): Promise<{consumeCode: number | null; produceCode: number | null; stderr: string}> {
  const options = {cwd: repoRoot, env: {...process.env, NO_COLOR: '1'}}
  const consume = spawn(process.execPath, [lignumBin, 'consume', '-t', from, '-e', '--json', '--brokers', brokers], {...options, stdio: ['ignore', 'pipe', 'pipe']})
  const produce = spawn(process.execPath, [lignumBin, 'produce', '-t', to, '--format', 'json', '--brokers', brokers], {...options, stdio: ['pipe', 'ignore', 'pipe']})
  consume.stdout.pipe(produce.stdin)
  let stderr = ''
  consume.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  produce.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = (child: {on(event: 'close', listener: (code: number | null) => void): unknown}) => new Promise<number | null>((resolve) => child.on('close', resolve))
  return Promise.all([exited(consume), exited(produce)]).then(([consumeCode, produceCode]) => ({consumeCode, produceCode, stderr}))
}

describe('consume --json | produce --format json', function () {
  this.timeout(120_000)
  const suite = serverForSuite()

  it('copies a topic exactly: keys, headers, nulls and random binary, partition by partition and offset by offset', async () => {
    const brokers = suite.server.grpcAddress
    expect((await runCli(['topics', 'create', 'original', '--partitions', String(PARTITIONS), '--brokers', brokers])).code).to.equal(0)
    expect((await runCli(['topics', 'create', 'copy', '--partitions', String(PARTITIONS), '--brokers', brokers])).code).to.equal(0)
    const client = await LignumClient.connect({brokers})
    try {
      const producer = client.producer()
      await Promise.all(Array.from({length: RECORDS}, (_, index) => producer.send('original', {key: keyFor(index), value: valueFor(index), headers: headersFor(index), partition: index % PARTITIONS})))
      await producer.close()
    } finally {
      client.close()
    }

    const copied = await copyThroughPipe(brokers, 'original', 'copy')
    expect(copied, copied.stderr).to.deep.include({consumeCode: 0, produceCode: 0})

    const original = await digestsOf(brokers, 'original')
    const copy = await digestsOf(brokers, 'copy')
    expect(original.size).to.equal(RECORDS)
    expect(new Set([...original.keys()].map((key) => key.split('/')[0]))).to.have.property('size', PARTITIONS)
    const sorted = (digests: Map<string, string>) => [...digests.entries()].sort(([a], [b]) => a.localeCompare(b))
    expect(sorted(copy)).to.deep.equal(sorted(original))
  })
})
