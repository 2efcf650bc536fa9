import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {awaitStableSplit, consoleGroupConsumer, describeGroup, IDLE_EXIT_MS, parseConsumed, TOOL_TIMEOUT_MS} from '../helpers/kafka-console-group.js'
import {requireKafkaTools, type KafkaTools} from '../helpers/kafka-tools.js'
import {serverForSuite} from '../helpers/server.js'

const PARTITIONS = 6
const RECORDS = 600

describe("kafka listener: consumer groups with Kafka's console consumer", function () {
  this.timeout(TOOL_TIMEOUT_MS * 4)
  const suite = serverForSuite({args: ['--kafka-port', '0', '--node-id', 'n1']})
  let tools: KafkaTools

  before(async function () {
    tools = await requireKafkaTools(this)
  })

  it('two console consumers of one group split six partitions, read every record once and commit; a third run reads only what is new', async () => {
    const topic = 'grouped'
    const group = 'console-readers'
    const created = await runCli(['topics', 'create', topic, '--partitions', String(PARTITIONS), ...suite.brokers])
    expect(created.code, created.stderr).to.equal(0)
    const bootstrap = suite.server.kafkaAddress!
    const first = consoleGroupConsumer(tools, bootstrap, topic, group, IDLE_EXIT_MS)
    const second = consoleGroupConsumer(tools, bootstrap, topic, group, IDLE_EXIT_MS)
    await awaitStableSplit(suite.brokers, group, topic, PARTITIONS, 2, TOOL_TIMEOUT_MS / 2)

    const lines = Array.from({length: RECORDS}, (_, index) => `key-${index}|value ${index}`)
    const produced = await runCli(['produce', '-t', topic, '-K', '|', ...suite.brokers], {input: lines.join('\n') + '\n'})
    expect(produced.code, produced.stderr).to.equal(0)

    const [one, two] = await Promise.all([first.done, second.done])
    expect(one.code, one.stderr).to.equal(0)
    expect(two.code, two.stderr).to.equal(0)
    const readByOne = parseConsumed(one.stdout)
    const readByTwo = parseConsumed(two.stdout)
    const partitionsOf = (read: {partition: number}[]) => new Set(read.map((entry) => entry.partition))
    expect(readByOne, 'the first consumer read some').to.not.be.empty
    expect(readByTwo, 'the second consumer read some').to.not.be.empty
    expect([...partitionsOf(readByOne)].filter((partition) => partitionsOf(readByTwo).has(partition)), 'no partition read by both').to.deep.equal([])
    const everyRead = [...readByOne, ...readByTwo].map((entry) => entry.record)
    expect(everyRead.length, 'every record read exactly once').to.equal(RECORDS)
    expect([...everyRead].sort()).to.deep.equal([...lines].sort())
    // Within a partition the order is the produced order.
    for (const read of [readByOne, readByTwo]) {
      for (const partition of partitionsOf(read)) {
        const inPartition = read.filter((entry) => entry.partition === partition).map((entry) => Number(entry.record.split('|')[0]!.slice('key-'.length)))
        expect(inPartition, `partition ${partition} in order`).to.deep.equal([...inPartition].sort((a, b) => a - b))
      }
    }

    const described = await describeGroup(suite.brokers, group)
    const committed = described.partitions.filter((entry) => entry.topic === topic)
    expect(committed.map((entry) => entry.committedOffset), 'lignum groups describe shows the committed offsets at the log end').to.deep.equal(committed.map((entry) => entry.logEndOffset))
    expect(committed.reduce((total, entry) => total + (entry.committedOffset ?? 0), 0)).to.equal(RECORDS)

    const newer = ['key-new-1|newer 1', 'key-new-2|newer 2', 'key-new-3|newer 3']
    const producedNewer = await runCli(['produce', '-t', topic, '-K', '|', ...suite.brokers], {input: newer.join('\n') + '\n'})
    expect(producedNewer.code, producedNewer.stderr).to.equal(0)
    const third = await consoleGroupConsumer(tools, bootstrap, topic, group, IDLE_EXIT_MS / 2).done
    expect(third.code, third.stderr).to.equal(0)
    expect(parseConsumed(third.stdout).map((entry) => entry.record).sort(), 'the third run reads only what came after the commits').to.deep.equal(newer)
  })
})
