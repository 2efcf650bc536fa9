/**
 * The producer stays within the node's limits, through the real CLI against a real node: it
 * learns the node's batch limit (batchBytesMax, from metadata) and never builds a larger batch
 * whatever --batch-size says; a record past the limit is refused alone; a refused produce
 * creates no topic; a topic with a small segmentBytes takes batches larger than its segments.
 * And every codec round-trips through --compression.
 */
import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'

/** The node's default batchBytesMax (1 MiB). */
const BATCH_BYTES_MAX = 1024 * 1024

function lines(count: number, label: string): string[] {
  return Array.from({length: count}, (_, index) => `${label} ${index} ${randomBytes(30).toString('base64')}`)
}

describe('produce: within the node\'s limits', function () {
  this.timeout(180_000)
  const suite = serverForSuite()

  async function batchSizes(topic: string): Promise<number[]> {
    const dumped = await runCli(['segments', 'inspect', '--data-dir', suite.server.dataDir, '-t', topic, '--dump'])
    expect(dumped.code, dumped.stderr).to.equal(0)
    return [...dumped.stdout.matchAll(/ size: (\d+) /g)].map((match) => Number(match[1]))
  }

  it('never builds a batch past the node\'s limit: --batch-size 4194304 delivers all 100,000 records once', async () => {
    const input = lines(100_000, 'big-batches')
    const produced = await runCli(['produce', '-t', 'big-batches', '--batch-size', '4194304', '--json', ...suite.brokers], {input: input.join('\n') + '\n', timeoutMs: 120_000})
    expect(produced.code, produced.stderr).to.equal(0)
    expect(JSON.parse(produced.stdout)).to.include({recordsAcknowledged: 100_000, recordsFailed: 0})
    const consumed = await runCli(['consume', '-t', 'big-batches', '-e', ...suite.brokers], {timeoutMs: 60_000})
    expect(consumed.stdout).to.equal(input.join('\n') + '\n')
    const sizes = await batchSizes('big-batches')
    expect(Math.max(...sizes)).to.be.at.most(BATCH_BYTES_MAX)
    // Filled close to the limit, not cut to small batches.
    expect(Math.max(...sizes)).to.be.above(BATCH_BYTES_MAX * 0.9)
  })

  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
    it(`round-trips --compression ${codec} at --batch-size 4194304, each batch within the limit`, async () => {
      const topic = `codec-${codec}`
      const input = lines(30_000, codec)
      const produced = await runCli(['produce', '-t', topic, '--compression', codec, '--batch-size', '4194304', ...suite.brokers], {input: input.join('\n') + '\n', timeoutMs: 120_000})
      expect(produced.code, produced.stderr).to.equal(0)
      const consumed = await runCli(['consume', '-t', topic, '-e', ...suite.brokers], {timeoutMs: 60_000})
      expect(consumed.stdout).to.equal(input.join('\n') + '\n')
      const dumped = await runCli(['segments', 'inspect', '--data-dir', suite.server.dataDir, '-t', topic, '--dump'])
      expect(new Set([...dumped.stdout.matchAll(/compresscodec: (\w+)/g)].map((match) => match[1]))).to.deep.equal(new Set([codec]))
      expect(Math.max(...(await batchSizes(topic)))).to.be.at.most(BATCH_BYTES_MAX)
    })
  }

  it('refuses a record past the limit alone, in one line, and delivers the others', async () => {
    const input = `before\n${'x'.repeat(2 * 1024 * 1024)}\nafter\n`
    const produced = await runCli(['produce', '-t', 'one-too-large', ...suite.brokers], {input})
    expect(produced.code, produced.stderr).to.equal(2)
    expect(produced.stderr.trimEnd().split('\n'), produced.stderr).to.have.length(1)
    expect(produced.stderr).to.match(/1 of 3 records were not acknowledged: a record of 2097152 bytes does not fit in one batch within the node's limit of 1048576 bytes \(batchBytesMax\); send smaller records or raise batchBytesMax on the node/)
    const consumed = await runCli(['consume', '-t', 'one-too-large', '-e', ...suite.brokers])
    expect(consumed.stdout).to.equal('before\nafter\n')
  })

  it('creates no topic for a produce refused whole', async () => {
    const produced = await runCli(['produce', '-t', 'never-created', ...suite.brokers], {input: 'x'.repeat(2 * 1024 * 1024) + '\n'})
    expect(produced.code, produced.stderr).to.equal(2)
    expect(produced.stderr).to.match(/1 of 1 records were not acknowledged: a record of 2097152 bytes/)
    const described = await runCli(['topics', 'describe', 'never-created', ...suite.brokers])
    expect(described.code).to.not.equal(0)
    expect(described.stderr).to.match(/does not exist/)
    const listed = await runCli(['topics', 'list', ...suite.brokers])
    expect(listed.stdout).to.not.include('never-created')
  })

  it('takes batches larger than a topic\'s segmentBytes, each in a segment of its own', async () => {
    const created = await runCli(['topics', 'create', 'small-segments', '--segment-bytes', '65536', ...suite.brokers])
    expect(created.code, created.stderr).to.equal(0)
    const input = lines(20_000, 'small-segments')
    const produced = await runCli(['produce', '-t', 'small-segments', '--linger-ms', '50', '--json', ...suite.brokers], {input: input.join('\n') + '\n', timeoutMs: 60_000})
    expect(produced.code, produced.stderr).to.equal(0)
    expect(JSON.parse(produced.stdout)).to.include({recordsAcknowledged: 20_000})
    const consumed = await runCli(['consume', '-t', 'small-segments', '-e', ...suite.brokers], {timeoutMs: 60_000})
    expect(consumed.stdout).to.equal(input.join('\n') + '\n')
    expect(Math.max(...(await batchSizes('small-segments')))).to.be.above(65_536)
    const verified = await runCli(['segments', 'inspect', '--data-dir', suite.server.dataDir, '-t', 'small-segments', '--verify'])
    expect(verified.code, verified.stdout + verified.stderr).to.equal(0)
  })
})
