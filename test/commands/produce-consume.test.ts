import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {lignumBin, repoRoot, runCli} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'
import {LignumClient} from '../../src/client/index.js'

describe('produce and consume (against lignum serve)', function () {
  this.timeout(120_000)
  let server: RunningServer
  let brokers: string[]
  before(async () => {
    server = await startServer()
    brokers = ['--brokers', server.grpcAddress]
  })
  after(async () => {
    await server.stop()
  })

  it('returns 100k lines piped through produce byte-identical and in order', async () => {
    const lines = Array.from({length: 100_000}, (_, index) => `line ${index} ${'é'.repeat(index % 7)} ${index * 7919}`)
    const input = lines.join('\n') + '\n'
    const produced = await runCli(['produce', '-t', 'lines', ...brokers, '--acks', 'all'], {input, timeoutMs: 90_000})
    expect(produced.stderr).to.equal('')
    expect(produced.code).to.equal(0)
    const consumed = await runCli(['consume', '-t', 'lines', ...brokers, '--from', 'beginning', '-e'], {timeoutMs: 90_000})
    expect(consumed.code).to.equal(0)
    expect(consumed.stdout).to.equal(input)
  })

  it('puts keyed records on Kafka\'s murmur2 partitions', async () => {
    expect((await runCli(['topics', 'create', 'keyed', '--partitions', '50', ...brokers])).code).to.equal(0)
    const input = ['21:a', 'foobar:b', 'abc:c', 'a-little-bit-long-string:d'].join('\n') + '\n'
    expect((await runCli(['produce', '-t', 'keyed', '-K', ':', ...brokers], {input})).code).to.equal(0)
    // Partitions from Kafka's murmur2 vectors: (hash & 0x7fffffff) % 50.
    for (const [partition, key, value] of [[40, '21', 'a'], [16, 'foobar', 'b'], [7, 'abc', 'c'], [12, 'a-little-bit-long-string', 'd']] as const) {
      const consumed = await runCli(['consume', '-t', 'keyed', '--partition', String(partition), '-e', '--format', '%k=%s\\n', ...brokers])
      expect(consumed.stdout, `partition ${partition}`).to.equal(`${key}=${value}\n`)
    }
  })

  it('prints JSON lines with offsets, keys, values and headers', async () => {
    await runCli(['produce', '-t', 'json', '-k', 'the-key', '-H', 'source=test', '-H', 'n=1', ...brokers], {input: 'hello\nworld\n'})
    const consumed = await runCli(['consume', '-t', 'json', '-e', '--json', ...brokers])
    const records = consumed.stdout.trim().split('\n').map((line) => JSON.parse(line))
    expect(records.map((record) => [record.offset, record.key, record.value])).to.deep.equal([[0, 'the-key', 'hello'], [1, 'the-key', 'world']])
    expect(records[0].headers).to.deep.equal([{key: 'source', value: 'test'}, {key: 'n', value: '1'}])
    expect(records[0]).to.include({topic: 'json', partition: 0})
    expect(records[0].timestamp).to.be.a('number')
  })

  it('reads ranges: --from N, --to exclusive, -N from the end, -c count', async () => {
    await runCli(['produce', '-t', 'ranges', ...brokers], {input: Array.from({length: 10}, (_, index) => `v${index}`).join('\n') + '\n'})
    const range = await runCli(['consume', '-t', 'ranges', '-o', '3', '--to', '6', ...brokers])
    expect(range.stdout).to.equal('v3\nv4\nv5\n')
    const last = await runCli(['consume', '-t', 'ranges', '--from', '-2', '-e', ...brokers])
    expect(last.stdout).to.equal('v8\nv9\n')
    const counted = await runCli(['consume', '-t', 'ranges', '-c', '4', ...brokers])
    expect(counted.stdout).to.equal('v0\nv1\nv2\nv3\n')
  })

  it('exits 0 at once when stdout closes early (consume -e | head -n 5)', async () => {
    await runCli(['produce', '-t', 'many', ...brokers], {input: Array.from({length: 50_000}, (_, index) => `r${index}`).join('\n') + '\n', timeoutMs: 60_000})
    const result = await new Promise<{code: number | null; stdout: string; stderr: string}>((resolve) => {
      const shell = spawn('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${lignumBin}" consume -t many -e --brokers ${server.grpcAddress} | head -n 5`], {cwd: repoRoot})
      let stdout = ''
      let stderr = ''
      shell.stdout.on('data', (chunk) => (stdout += chunk))
      shell.stderr.on('data', (chunk) => (stderr += chunk))
      shell.on('close', (code) => resolve({code, stdout, stderr}))
    })
    expect(result.stdout).to.equal('r0\nr1\nr2\nr3\nr4\n')
    expect(result.stderr).to.equal('')
    expect(result.code).to.equal(0)
  })

  it('produces length-prefixed binary records from a file', async () => {
    const values = [Buffer.from([0, 1, 2, 255]), Buffer.alloc(0), Buffer.from('text')]
    const framed = Buffer.concat(values.flatMap((value) => {
      const length = Buffer.alloc(4)
      length.writeUInt32BE(value.length)
      return [length, value]
    }))
    const file = path.join(os.tmpdir(), `lignum-binary-${process.pid}.bin`)
    await writeFile(file, framed)
    expect((await runCli(['produce', '-t', 'binary', '--binary', '--file', file, ...brokers])).code).to.equal(0)
    const consumed = await runCli(['consume', '-t', 'binary', '-e', '--json', ...brokers])
    const records = consumed.stdout.trim().split('\n').map((line) => JSON.parse(line))
    expect(records[0]).to.include({value: Buffer.from([0, 1, 2, 255]).toString('base64'), valueEncoding: 'base64'})
    expect(records[1].value).to.equal('')
    expect(records[2].value).to.equal('text')
    await writeFile(file, framed.subarray(0, framed.length - 2))
    const truncated = await runCli(['produce', '-t', 'binary', '--binary', '--file', file, ...brokers])
    expect(truncated.code).to.not.equal(0)
    expect(truncated.stderr).to.match(/ends inside a record/)
  })

  it('keeps a consumer group\'s position across a server restart', async () => {
    await runCli(['produce', '-t', 'grouped', ...brokers], {input: 'a\nb\nc\nd\n'})
    const first = await runCli(['consume', '-t', 'grouped', '--group', 'g1', '-c', '2', ...brokers])
    expect(first.stdout).to.equal('a\nb\n')
    expect(await server.stop()).to.equal(0)
    server = await startServer({dataDir: server.dataDir})
    brokers = ['--brokers', server.grpcAddress]
    const second = await runCli(['consume', '-t', 'grouped', '--group', 'g1', '-e', ...brokers])
    expect(second.stdout).to.equal('c\nd\n')
  })

  it('refuses bad input with one clear line and a non-zero exit, storing nothing', async () => {
    const badName = await runCli(['produce', '-t', '../x', ...brokers], {input: 'x\n'})
    expect(badName.code).to.not.equal(0)
    expect(badName.stderr.trim().split('\n')).to.have.length(1)
    expect(badName.stderr).to.match(/topic/i)
    const long = await runCli(['produce', '-t', 'a'.repeat(300), ...brokers], {input: 'x\n'})
    expect(long.code).to.not.equal(0)
    expect(long.stderr).to.match(/249/)
    const oversized = await runCli(['produce', '-t', 'sizes', ...brokers], {input: 'small\n' + 'x'.repeat(2 * 1024 * 1024) + '\n'})
    expect(oversized.code).to.not.equal(0)
    expect(oversized.stderr).to.match(/1 of 2 records were not acknowledged: a record of 2097152 bytes does not fit in one batch within the node's limit/)
    const stored = await runCli(['consume', '-t', 'sizes', '-e', ...brokers])
    expect(stored.stdout).to.equal('small\n')
    const list = await runCli(['topics', 'list', '--json', ...brokers])
    expect(JSON.parse(list.stdout).topics.map((topic: {name: string}) => topic.name)).to.not.include('../x')
  })

  it('names the address when no node answers', async () => {
    const result = await runCli(['produce', '-t', 'nowhere', '--brokers', '127.0.0.1:1'], {input: 'x\n'})
    expect(result.code).to.not.equal(0)
    expect(result.stderr).to.match(/cannot reach a Lignum node at 127\.0\.0\.1:1 .*lignum serve/)
    expect(result.stderr.trim().split('\n')).to.have.length(1)
  })
})

describe('consume --group and Ctrl-C', function () {
  this.timeout(60_000)

  it('commits the group\'s offsets on SIGINT and exits 0', async () => {
    const server = await startServer()
    const brokers = ['--brokers', server.grpcAddress]
    try {
      await runCli(['produce', '-t', 'interrupted', ...brokers], {input: 'one\ntwo\nthree\n'})
      const follower = spawn(process.execPath, [lignumBin, 'consume', '-t', 'interrupted', '--group', 'g-int', ...brokers], {cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe']})
      let stdout = ''
      await new Promise<void>((resolve) => {
        follower.stdout.on('data', (chunk) => {
          stdout += chunk
          if (stdout.includes('three\n')) resolve()
        })
      })
      follower.kill('SIGINT')
      const code = await new Promise((resolve) => follower.once('exit', resolve))
      expect(code).to.equal(0)
      await runCli(['produce', '-t', 'interrupted', ...brokers], {input: 'four\n'})
      const resumed = await runCli(['consume', '-t', 'interrupted', '--group', 'g-int', '-e', ...brokers])
      expect(resumed.stdout).to.equal('four\n')
    } finally {
      await server.stop()
    }
  })
})

describe('produce when the node goes away', function () {
  this.timeout(60_000)

  it('gives up after the delivery timeout with one line, a non-zero exit, and the count', async () => {
    const server = await startServer()
    const producer = spawn(process.execPath, [lignumBin, 'produce', '-t', 'orphaned', '--delivery-timeout-ms', '2000', '--brokers', server.grpcAddress], {cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe']})
    let stderr = ''
    producer.stderr.on('data', (chunk) => (stderr += chunk))
    producer.stdin.on('error', () => {})
    // An endless input, like `yes | lignum produce`.
    const line = Buffer.from('y\n'.repeat(4096))
    const feed = setInterval(() => producer.stdin.write(line), 5)
    const exited = new Promise<number | null>((resolve) => producer.once('exit', resolve))
    try {
      // The node dies only once records reached it: on a loaded machine the CLI can take
      // longer than any fixed wait to start, and would then fail to connect instead.
      await untilRecordsStored(server, 'orphaned')
      await server.stop('SIGKILL')
      expect(await exited).to.equal(5)
      expect(stderr.trim().split('\n')).to.have.length(1)
      expect(stderr, stderr).to.match(/^Error: \d+ of \d+ records were not acknowledged: (cannot reach a Lignum node at|the node at \S+ did not acknowledge a batch within 2000 ms)/)
    } finally {
      clearInterval(feed)
      producer.kill('SIGKILL')
    }
  })
})

async function untilRecordsStored(server: RunningServer, topic: string): Promise<void> {
  const client = await LignumClient.connect({brokers: server.grpcAddress})
  try {
    for (;;) {
      const stored = await client.describeTopic(topic).then((description) => description.partitions.some((partition) => partition.logEndOffset > 0), () => false)
      if (stored) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  } finally {
    client.close()
  }
}
