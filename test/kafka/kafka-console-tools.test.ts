import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {consoleProduce, requireKafkaTools, runKafkaTool, type KafkaTools} from '../helpers/kafka-tools.js'
import {serverForSuite} from '../helpers/server.js'

const RECORDS = 2000
// The console tools' JVM takes seconds to start on a loaded machine.
const TOOL_TIMEOUT_MS = 120_000

function consoleConsume(tools: KafkaTools, bootstrap: string, topic: string, partition: number, count: number) {
  return runKafkaTool(tools, 'org.apache.kafka.tools.consumer.ConsoleConsumer', ['--bootstrap-server', bootstrap, '--topic', topic, '--partition', String(partition), '--offset', 'earliest', '--max-messages', String(count), '--property', 'print.key=true', '--property', 'key.separator=|'])
}

describe("kafka listener: Kafka's console producer and consumer", function () {
  this.timeout(TOOL_TIMEOUT_MS * 3)
  const suite = serverForSuite({args: ['--kafka-port', '0', '--node-id', 'n1']})
  let tools: KafkaTools

  before(async function () {
    tools = await requireKafkaTools(this)
  })

  it('an idempotent acks=all console producer writes what the console consumer and lignum consume read back', async () => {
    const created = await runCli(['topics', 'create', 'from-kafka', '--partitions', '1', ...suite.brokers])
    expect(created.code, created.stderr).to.equal(0)
    const lines = Array.from({length: RECORDS}, (_, index) => `key-${index}|value ${index} ✓`)
    const produced = await consoleProduce(tools, suite.server.kafkaAddress!, 'from-kafka', lines, ['acks=all', 'enable.idempotence=true', 'linger.ms=5', 'compression.type=gzip'])
    expect(produced.code, produced.stderr).to.equal(0)

    const consumed = await consoleConsume(tools, suite.server.kafkaAddress!, 'from-kafka', 0, RECORDS)
    expect(consumed.code, consumed.stderr).to.equal(0)
    expect(consumed.stdout.trimEnd().split('\n')).to.deep.equal(lines)

    const read = await runCli(['consume', '-t', 'from-kafka', '--from', 'beginning', '--count', String(RECORDS), '--json', ...suite.brokers])
    expect(read.code, read.stderr).to.equal(0)
    const values = read.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as {key: string; value: string; offset: number})
    expect(values.map((record) => `${record.key}|${record.value}`)).to.deep.equal(lines)
    expect(values.map((record) => record.offset)).to.deep.equal(lines.map((_, index) => index))
  })

  it('what lignum produce writes, the console consumer reads byte for byte', async () => {
    const lines = Array.from({length: 500}, (_, index) => `grpc value ${index} — ${'x'.repeat(index % 50)}`)
    const produced = await runCli(['produce', '-t', 'from-lignum', ...suite.brokers], {input: lines.join('\n') + '\n'})
    expect(produced.code, produced.stderr).to.equal(0)
    const consumed = await consoleConsume(tools, suite.server.kafkaAddress!, 'from-lignum', 0, lines.length)
    expect(consumed.code, consumed.stderr).to.equal(0)
    expect(consumed.stdout.trimEnd().split('\n')).to.deep.equal(lines.map((line) => `null|${line}`))
  })
})
