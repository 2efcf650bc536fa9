/**
 * Every codec both ways with Apache Kafka 4.1.1's own code. Kafka's Java producer
 * (ConsoleProducer, compression.type per topic) writes one topic per codec into a real Kafka
 * node's data directory; `lignum consume --data-dir` then reads every record of each exactly
 * and `lignum segments inspect --verify` passes. The other way, batches Lignum's engine wrote
 * with each codec are dumped record by record by Kafka's DumpLogSegments (--deep-iteration),
 * which decompresses them with Kafka's own codecs.
 */
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {mkdir, open, readdir, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {startKafkaNode} from '../../bench/peers/kafka.js'
import {stopServer, type Server} from '../../bench/peers/processes.js'
import {durabilities} from '../../bench/peers/workloads.js'
import {encodeRecordBatch, type RecordInput} from '../../src/format/record-batch.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {runCli} from '../helpers/cli.js'
import {requireKafkaTools, runKafkaTool, type KafkaTools} from '../helpers/kafka-tools.js'
import {scratchDir} from '../log/helpers.js'

const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const
/** Enough records for several batches per topic at the batch size below. */
const RECORD_COUNT = 4000
const PRODUCER_TIMEOUT_MS = 120_000

function lineOf(codec: string, index: number): {key: string; value: string} {
  // Repetitive text (so every codec really compresses) with a part that differs per record.
  return {key: `k${index % 13}`, value: `${codec} record ${index} ${'lorem ipsum '.repeat(index % 9)}${index * 7919}`}
}

/** Kafka's ConsoleProducer reading `file` (key:value lines) into `topic` with `codec`. */
async function kafkaProduce(libDir: string, bootstrap: string, topic: string, codec: string, file: string): Promise<void> {
  const input = await open(file, 'r')
  try {
    const result = await new Promise<{code: number | null; stderr: string}>((resolve, reject) => {
      const child = spawn('java', ['-Xmx512m', '-cp', path.join(libDir, '*'), 'org.apache.kafka.tools.ConsoleProducer',
        '--bootstrap-server', bootstrap, '--topic', topic,
        '--property', 'parse.key=true', '--property', 'key.separator=:',
        // ConsoleProducer sets compression.type from its own option, over any --producer-property.
        '--compression-codec', codec, '--producer-property', 'batch.size=65536', '--producer-property', 'linger.ms=20',
        '--producer-property', 'acks=all'], {stdio: [input.fd, 'ignore', 'pipe']})
      let stderr = ''
      child.stderr!.on('data', (chunk) => (stderr += chunk))
      const timer = setTimeout(() => child.kill('SIGKILL'), PRODUCER_TIMEOUT_MS)
      child.on('error', reject)
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({code, stderr})
      })
    })
    expect(result.code, `ConsoleProducer (${codec}) failed:\n${result.stderr.slice(-2000)}`).to.equal(0)
  } finally {
    await input.close()
  }
}

describe('compat: every codec between Kafka 4.1.1 and Lignum', function () {
  this.timeout(300_000)
  let tools: KafkaTools
  let kafkaLogs: string
  let server: Server | undefined
  const cleanups: (() => Promise<void>)[] = []

  before(async function () {
    tools = await requireKafkaTools(this)
    this.timeout(300_000)
    const {dir, cleanup} = await scratchDir()
    cleanups.push(cleanup)
    const node = await startKafkaNode(path.dirname(tools.libDir), dir, durabilities['os-writeback'])
    server = node.server
    kafkaLogs = path.join(dir, 'logs')
    await Promise.all(CODECS.map(async (codec) => {
      const file = path.join(dir, `${codec}.txt`)
      await writeFile(file, Array.from({length: RECORD_COUNT}, (_, index) => {
        const {key, value} = lineOf(codec, index)
        return `${key}:${value}\n`
      }).join(''))
      await kafkaProduce(tools.libDir, node.tools.bootstrap, `codec-${codec}`, codec, file)
    }))
    // Stopped cleanly: its segments are flushed and its indexes trimmed, as a copied directory would be.
    await stopServer(server)
    server = undefined
  })

  after(async () => {
    if (server) await stopServer(server)
    for (const cleanup of cleanups) await cleanup()
  })

  for (const codec of CODECS) {
    it(`reads Kafka's ${codec} topic with consume --data-dir, every record exactly, and segments inspect --verify passes`, async () => {
      const topic = `codec-${codec}`
      const consumed = await runCli(['consume', '--data-dir', kafkaLogs, '-t', topic, '--json'], {timeoutMs: 60_000})
      expect(consumed.code, consumed.stderr).to.equal(0)
      const records = consumed.stdout.trim().split('\n').map((line) => JSON.parse(line) as {offset: number; key: string; value: string})
      expect(records).to.have.length(RECORD_COUNT)
      records.forEach((record, index) => {
        expect(record.offset).to.equal(index)
        expect({key: record.key, value: record.value}).to.deep.equal(lineOf(codec, index))
      })
      const dumped = await runCli(['segments', 'inspect', '--data-dir', kafkaLogs, '-t', topic, '--dump'], {timeoutMs: 60_000})
      expect(dumped.code, dumped.stderr).to.equal(0)
      // Kafka really compressed: every batch carries the codec's attribute bits.
      const codecs = [...dumped.stdout.matchAll(/compresscodec: (\w+)/g)].map((match) => match[1])
      expect(codecs.length).to.be.above(1)
      expect(new Set(codecs)).to.deep.equal(new Set([codec]))
      const verified = await runCli(['segments', 'inspect', '--data-dir', kafkaLogs, '-t', topic, '--verify'], {timeoutMs: 60_000})
      expect(verified.code, verified.stdout + verified.stderr).to.equal(0)
    })
  }

  it("Kafka's DumpLogSegments decompresses and prints every record Lignum wrote with each codec", async () => {
    const {dir, cleanup} = await scratchDir()
    cleanups.push(cleanup)
    const expected = new Map<string, string[]>()
    for (const codec of CODECS) {
      const partitionDir = path.join(dir, `lignum-${codec}-0`)
      await mkdir(partitionDir, {recursive: true})
      const log = await PartitionLog.open(partitionDir, {flushPolicy: 'never'})
      const values: string[] = []
      for (let batch = 0; batch < 5; batch++) {
        const input: RecordInput[] = Array.from({length: 50}, (_, index) => {
          const {key, value} = lineOf(codec, batch * 50 + index)
          values.push(value)
          return {key: Buffer.from(key), value: Buffer.from(value)}
        })
        await log.append(encodeRecordBatch(input, {compression: codec}), {leaderEpoch: 0, origin: 'log'})
      }
      await log.close()
      expected.set(codec, values)
    }
    const dumps = await Promise.all(CODECS.map(async (codec) => {
      const partitionDir = path.join(dir, `lignum-${codec}-0`)
      const files = (await readdir(partitionDir)).filter((name) => name.endsWith('.log')).map((name) => path.join(partitionDir, name))
      return runKafkaTool(tools, 'kafka.tools.DumpLogSegments', ['--files', files.join(','), '--deep-iteration', '--print-data-log'])
    }))
    CODECS.forEach((codec, index) => {
      const {code, stdout, stderr} = dumps[index]
      expect(code, stderr).to.equal(0)
      expect(stdout).to.not.match(/exception|error|isvalid: false/i)
      const batchCodecs = [...stdout.matchAll(/compresscodec: (\w+)/g)].map((match) => match[1])
      expect(batchCodecs).to.deep.equal(Array(5).fill(codec))
      const payloads = [...stdout.matchAll(/ payload: (.*)$/gm)].map((match) => match[1])
      expect(payloads).to.deep.equal(expected.get(codec))
    })
  })
})
