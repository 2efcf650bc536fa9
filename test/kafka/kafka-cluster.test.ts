/**
 * The Kafka listener in cluster mode: three real nodes on a real Consul, each registering its
 * Kafka listener, so Kafka's own console producer, bootstrapped from one node, sends each
 * partition's records to that partition's leader on whichever node it is, with acks=all and
 * idempotence; every record is then read back through gRPC.
 */
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import path from 'node:path'
import {runCli} from '../helpers/cli.js'
import {ConsulAgent, requireConsulBinary} from '../helpers/consul.js'
import {requireKafkaTools, type KafkaTools} from '../helpers/kafka-tools.js'
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

function consoleProduce(tools: KafkaTools, bootstrap: string, lines: string[]): Promise<{code: number | null; stderr: string}> {
  return new Promise((resolve, reject) => {
    const properties = ['acks=all', 'enable.idempotence=true', 'linger.ms=5']
    const child = spawn('java', ['-cp', path.join(tools.libDir, '*'), 'org.apache.kafka.tools.ConsoleProducer', '--bootstrap-server', bootstrap, '--topic', TOPIC, '--property', 'parse.key=true', '--property', 'key.separator=|', ...properties.flatMap((property) => ['--producer-property', property])], {stdio: ['pipe', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stderr}))
    child.stdin.end(lines.map((line) => `${line}\n`).join(''))
  })
}

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
    const produced = await consoleProduce(tools, nodes[0]!.kafkaAddress, lines)
    expect(produced.code, produced.stderr).to.equal(0)
    const read = await runCli(['consume', '-t', TOPIC, '-e', '--json', '--brokers', nodes[1]!.address], {timeoutMs: 60_000})
    expect(read.code, read.stderr).to.equal(0)
    const records = read.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as {partition: number; key: string; value: string})
    expect(records.map((record) => `${record.key}|${record.value}`).sort()).to.deep.equal([...lines].sort())
    expect(new Set(records.map((record) => record.partition)).size).to.equal(PARTITIONS)
  })
})
