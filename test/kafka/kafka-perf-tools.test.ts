/**
 * Kafka's own load tools against a three-node Lignum cluster through the Kafka listener:
 * ProducerPerformance (idempotent, acks=all) bootstrapped from one node writes to every
 * partition's leader, and ConsumerPerformance in a group, bootstrapped from another node,
 * reads every record and commits at the group's coordinator. The counts are checked against
 * what Lignum stored and what the group committed, not against the tools' own summaries alone.
 * Speed is the benchmark's business (`npm run bench -- --only kafka-perf`), not this test's.
 */
import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {kafkaClusterForSuite} from '../helpers/kafka-cluster-suite.js'
import {describeGroup} from '../helpers/kafka-console-group.js'
import {requireKafkaTools, runKafkaTool, type KafkaTools} from '../helpers/kafka-tools.js'
import {replicatedPartitions} from '../cluster/three-nodes.js'
import {eventually} from '../cluster/member-process.js'

const TOPIC = 'perf'
const PARTITIONS = 3
const RECORDS = 20_000
const RECORD_BYTES = 100
const GROUP = 'perf-readers'
const CONSUMER_TIMEOUT_MS = 60_000
// The consumer commits as it closes; the coordinator may be on any node, so allow a hop or two.
const COMMIT_WAIT_MS = 30_000

/** ProducerPerformance's last line: "20000 records sent, 1234.5 records/sec (0.12 MB/sec), …". */
function recordsSent(stdout: string): number {
  const summary = /^(\d+) records sent, [\d.]+ records\/sec/m.exec(stdout.split('\n').filter((line) => line.includes('records sent')).at(-1) ?? '')
  return summary ? Number(summary[1]) : -1
}

/** ConsumerPerformance's CSV data line: the fifth column is the records consumed. */
function recordsConsumed(stdout: string): number {
  const lines = stdout.trim().split('\n')
  const header = lines.findIndex((line) => line.startsWith('start.time'))
  const data = header < 0 ? undefined : lines[header + 1]?.split(',').map((field) => field.trim())
  return data === undefined ? -1 : Number(data[4])
}

describe("kafka listener: Kafka's ProducerPerformance and ConsumerPerformance on three nodes (real Consul)", function () {
  this.timeout(300_000)
  const suite = kafkaClusterForSuite('kafka-perf-tools', 'p')
  let tools: KafkaTools

  before(async function () {
    tools = await requireKafkaTools(this)
    this.timeout(120_000)
    await replicatedPartitions(suite.nodes, suite.consulUrl, suite.cluster, TOPIC, PARTITIONS)
  })

  it('an idempotent acks=all ProducerPerformance run is stored whole, and a ConsumerPerformance group reads it all and commits it', async () => {
    const [first, second, third] = suite.nodes
    const produced = await runKafkaTool(tools, 'org.apache.kafka.tools.ProducerPerformance', [
      '--topic', TOPIC, '--num-records', String(RECORDS), '--record-size', String(RECORD_BYTES), '--throughput', '-1',
      '--producer-props', `bootstrap.servers=${first!.kafkaAddress}`, 'acks=all', 'enable.idempotence=true',
    ])
    expect(produced.code, produced.stderr + produced.stdout).to.equal(0)
    expect(recordsSent(produced.stdout), produced.stdout).to.equal(RECORDS)

    const stored = await runCli(['consume', '-t', TOPIC, '-e', '--json', '--brokers', third!.address], {timeoutMs: 120_000})
    expect(stored.code, stored.stderr).to.equal(0)
    const records = stored.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as {partition: number; offset: number; value: string})
    expect(records).to.have.length(RECORDS)
    expect(new Set(records.map((record) => record.partition)).size, 'partitions written').to.equal(PARTITIONS)
    for (const record of records) expect(Buffer.byteLength(record.value), `value at ${record.partition}/${record.offset}`).to.equal(RECORD_BYTES)

    const consumed = await runKafkaTool(tools, 'org.apache.kafka.tools.ConsumerPerformance', [
      '--bootstrap-server', second!.kafkaAddress, '--topic', TOPIC, '--messages', String(RECORDS), '--group', GROUP, '--timeout', String(CONSUMER_TIMEOUT_MS),
    ])
    expect(consumed.code, consumed.stderr + consumed.stdout).to.equal(0)
    expect(recordsConsumed(consumed.stdout), consumed.stdout).to.equal(RECORDS)

    // The consumer commits its positions as it closes: every partition's log end, at the coordinator.
    const brokers = ['--brokers', first!.address]
    const committed = await eventually('the group to commit the end of every partition', async () => {
      const description = await describeGroup(brokers, GROUP)
      const mine = description.partitions.filter((entry) => entry.topic === TOPIC)
      return mine.length === PARTITIONS && mine.every((entry) => entry.committedOffset !== null && entry.committedOffset === entry.logEndOffset) ? mine : undefined
    }, COMMIT_WAIT_MS)
    expect(committed.reduce((sum, entry) => sum + entry.committedOffset!, 0)).to.equal(RECORDS)
  })
})
