/**
 * The Kafka listener in cluster mode: three real nodes on a real Consul, each registering its
 * Kafka listener, so Kafka's own console producer, bootstrapped from one node, sends each
 * partition's records to that partition's leader on whichever node it is, with acks=all and
 * idempotence; every record is then read back through gRPC. Two console consumers of one
 * group, each bootstrapped from a different node, split a topic's partitions: their group
 * requests reach the group's coordinator through whichever node they were sent to.
 */
import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {ConsulAgent, requireConsulBinary} from '../helpers/consul.js'
import {awaitStableSplit, consoleGroupConsumer, describeGroup, IDLE_EXIT_MS, parseConsumed} from '../helpers/kafka-console-group.js'
import {consoleProduce, requireKafkaTools, type KafkaTools} from '../helpers/kafka-tools.js'
import type {ServeProcess} from '../cluster/serve-process.js'
import {replicatedPartitions, startThreeNodes} from '../cluster/three-nodes.js'
import {printLogs} from '../cluster/cluster-reads.js'
import {KafkaReader} from '../../src/kafka/protocol/kafka-reader.js'
import {KafkaWriter} from '../../src/kafka/protocol/kafka-writer.js'
import {KafkaWireClient} from './kafka-wire-client.js'

const CLUSTER = 'kafka-listener-1'
const TOPIC = 'spread'
const PARTITIONS = 3
const RECORDS = 900
const GROUPED_TOPIC = 'grouped'
const GROUPED_PARTITIONS = 6
const GROUPED_RECORDS = 600

describe('kafka listener in cluster mode (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  let consul: ConsulAgent
  let nodes: ServeProcess[] = []
  let tools: KafkaTools

  before(async function () {
    tools = await requireKafkaTools(this)
    const consulBinary = await requireConsulBinary(this)
    this.timeout(180_000)
    consul = await ConsulAgent.start(consulBinary, 'persistent')
    nodes = await startThreeNodes(consul.url, CLUSTER, 'k', {}, {LIGNUM_KAFKA_PORT: '0'})
    await replicatedPartitions(nodes, consul.url, CLUSTER, TOPIC, PARTITIONS)
    await replicatedPartitions(nodes, consul.url, CLUSTER, GROUPED_TOPIC, GROUPED_PARTITIONS)
  })

  after(async function () {
    await Promise.all(nodes.map((node) => node.destroy()))
    await consul?.destroy()
  })

  afterEach(function () {
    if (this.currentTest?.state === 'failed') printLogs(nodes, 60)
  })

  it("names every node's Kafka listener in Metadata, with each partition's leader", async () => {
    const [, port] = nodes[0]!.kafkaAddress.split(':')
    const client = await KafkaWireClient.connect(Number(port))
    try {
      client.send(3, 1, 1, new KafkaWriter().flexibleArray(false, [TOPIC], (w, name) => w.nullableString(name)).toBuffer())
      const response = new KafkaReader((await client.next())!)
      response.int32()
      const brokers = response.flexibleArray(false, (r) => ({id: r.int32(), address: `${r.string()}:${r.int32()}`, rack: r.nullableString()}))
      expect(brokers.map((broker) => `${broker.id}=${broker.address}`).sort()).to.deep.equal(nodes.map((node, index) => `${index + 1}=${node.kafkaAddress}`).sort())
      response.int32()
      const [topic] = response.flexibleArray(false, (r) => ({error: r.int16(), name: r.string(), internal: r.boolean(), leaders: r.flexibleArray(false, (p) => {
        const partition = {error: p.int16(), index: p.int32(), leader: p.int32()}
        p.flexibleArray(false, (x) => x.int32())
        p.flexibleArray(false, (x) => x.int32())
        return partition
      })}))
      // The round-robin assignment puts one leader on each node.
      expect(topic?.leaders.map((partition) => partition.leader).sort()).to.deep.equal([1, 2, 3])
    } finally {
      client.close()
    }
  })

  it("Kafka's idempotent acks=all console producer, bootstrapped from one node, reaches every partition's leader", async () => {
    const lines = Array.from({length: RECORDS}, (_, index) => `key-${index}|value-${index}`)
    const produced = await consoleProduce(tools, nodes[0]!.kafkaAddress, TOPIC, lines, ['acks=all', 'enable.idempotence=true', 'linger.ms=5'])
    expect(produced.code, produced.stderr).to.equal(0)
    const read = await runCli(['consume', '-t', TOPIC, '-e', '--json', '--brokers', nodes[1]!.address], {timeoutMs: 60_000})
    expect(read.code, read.stderr).to.equal(0)
    const records = read.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as {partition: number; key: string; value: string})
    expect(records.map((record) => `${record.key}|${record.value}`).sort()).to.deep.equal([...lines].sort())
    expect(new Set(records.map((record) => record.partition)).size).to.equal(PARTITIONS)
  })

  it("two console consumers of one group, bootstrapped from different nodes, split the partitions and commit at the group's coordinator", async () => {
    const group = 'cluster-readers'
    const brokers = ['--brokers', nodes[1]!.address]
    const first = consoleGroupConsumer(tools, nodes[0]!.kafkaAddress, GROUPED_TOPIC, group, IDLE_EXIT_MS)
    const second = consoleGroupConsumer(tools, nodes[2]!.kafkaAddress, GROUPED_TOPIC, group, IDLE_EXIT_MS)
    await awaitStableSplit(brokers, group, GROUPED_TOPIC, GROUPED_PARTITIONS, 2, 90_000)
    const lines = Array.from({length: GROUPED_RECORDS}, (_, index) => `key-${index}|value ${index}`)
    const produced = await runCli(['produce', '-t', GROUPED_TOPIC, '-K', '|', '--acks', 'all', ...brokers], {input: lines.join('\n') + '\n'})
    expect(produced.code, produced.stderr).to.equal(0)
    const [one, two] = await Promise.all([first.done, second.done])
    expect(one.code, one.stderr).to.equal(0)
    expect(two.code, two.stderr).to.equal(0)
    const [readByOne, readByTwo] = [parseConsumed(one.stdout), parseConsumed(two.stdout)]
    expect(readByOne).to.not.be.empty
    expect(readByTwo).to.not.be.empty
    const partitionsOfTwo = new Set(readByTwo.map((entry) => entry.partition))
    expect(readByOne.filter((entry) => partitionsOfTwo.has(entry.partition)), 'no partition read by both').to.deep.equal([])
    expect([...readByOne, ...readByTwo].map((entry) => entry.record).sort()).to.deep.equal([...lines].sort())
    const described = await describeGroup(brokers, group)
    const committed = described.partitions.filter((entry) => entry.topic === GROUPED_TOPIC)
    expect(committed.map((entry) => entry.committedOffset)).to.deep.equal(committed.map((entry) => entry.logEndOffset))
    expect(committed.reduce((total, entry) => total + (entry.committedOffset ?? 0), 0)).to.equal(GROUPED_RECORDS)
  })
})
