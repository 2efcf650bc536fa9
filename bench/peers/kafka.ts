/**
 * Apache Kafka as a peer: one KRaft node (broker and controller in one JVM) from the jars
 * scripts/ensure-peers put in the cache, on its own data directory and loopback ports, driven
 * by Kafka's own load tools (org.apache.kafka.tools.ProducerPerformance and
 * ConsumerPerformance). Topics are auto-created with one partition on first produce, as
 * Lignum and NATS do. Heaps are set explicitly: the machine is shared.
 */
import {mkdir, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {readInstalledPeer, type InstalledPeer} from './installed-peers.js'
import {assertToolSucceeded, freePort, runTool, startServer, stopServer, waitForPort, type Server, type ToolResult} from './processes.js'
import type {RunningSystem, ServerMeter, SystemUnderTest} from './system.js'
import type {ConsumeWorkload, Durability, LatencyWorkload, Measurement, ProduceWorkload, Workload} from './workloads.js'

/** Broker heap: fixed, so runs are comparable and the JVM does not size itself to the machine. */
const brokerHeap = '1g'
/** Load tools' heap, as kafka-producer-perf-test.sh sets it. */
export const toolHeap = '512m'
/** Kafka's default broker GC settings (kafka-run-class.sh). */
export const brokerJvmOptions = ['-server', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35', '-XX:+ExplicitGCInvokesConcurrent', '-Djava.awt.headless=true']
const startTimeoutMs = 90_000
const toolTimeoutMs = 240_000
const serverDeadlineMs = 60 * 60_000

/** Producer settings recommended for throughput (larger batches, a short linger, no compression: Lignum compresses nothing either). */
export const throughputProducerProperties = ['linger.ms=10', 'batch.size=262144', 'compression.type=none']

export function kafkaSystem(): SystemUnderTest {
  let installed: InstalledPeer | undefined
  const install = async () => {
    const peer = await readInstalledPeer('kafka')
    if (typeof peer === 'string') return peer
    installed = peer
    return null
  }
  return {
    name: 'kafka',
    unavailableReason: install,
    version: async () => `Apache Kafka ${installed?.version ?? '?'} (KRaft, single node), ${await javaVersion()}`,
    settings: (durability) => ({
      broker: `KRaft combined broker+controller, 1 partition per topic, heap ${brokerHeap}, ${durability.name === 'fsync' ? 'log.flush.interval.messages=1 (fsync every append)' : 'default flush (no fsync; OS writeback)'}`,
      producer: `ProducerPerformance, ${throughputProducerProperties.join(' ')}, acks as the workload says`,
      consumer: 'ConsumerPerformance with defaults; rate over its fetch time (excludes the consumer group join)',
      latency: 'ProducerPerformance --throughput 10000, acks=all, default linger.ms (5) and batch.size; its own percentiles (whole ms)',
    }),
    start: async (dataDir, durability) => startKafka(installed!.detail, dataDir, durability),
  }
}

export async function javaVersion(): Promise<string> {
  const result = await runTool('java', ['-version'], {timeoutMs: 30_000})
  return result.stderr.split('\n')[0]?.trim() ?? 'java ?'
}

export function classPath(installDir: string): string {
  return path.join(installDir, 'lib', '*')
}

async function writeConfig(dataDir: string, ports: {client: number; controller: number}, durability: Durability): Promise<{serverProperties: string; log4j: string}> {
  const configDir = path.join(dataDir, 'config')
  await mkdir(configDir, {recursive: true})
  const serverProperties = path.join(configDir, 'server.properties')
  const lines = [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${ports.controller}`,
    `listeners=PLAINTEXT://127.0.0.1:${ports.client},CONTROLLER://127.0.0.1:${ports.controller}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${ports.client}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${path.join(dataDir, 'logs')}`,
    'num.partitions=1',
    'auto.create.topics.enable=true',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    ...(durability.name === 'fsync' ? ['log.flush.interval.messages=1'] : []),
  ]
  await writeFile(serverProperties, lines.join('\n') + '\n')
  return {serverProperties, log4j: await writeLog4j(configDir)}
}

/** Warnings and errors only, to stderr (the server's log file). */
export async function writeLog4j(configDir: string): Promise<string> {
  const log4j = path.join(configDir, 'log4j2.properties')
  await writeFile(log4j, [
    'rootLogger.level=WARN',
    'rootLogger.appenderRef.stderr.ref=STDERR',
    'appender.stderr.type=Console',
    'appender.stderr.name=STDERR',
    'appender.stderr.target=SYSTEM_ERR',
    'appender.stderr.layout.type=PatternLayout',
    'appender.stderr.layout.pattern=[%d] %p %m (%c)%n',
  ].join('\n') + '\n')
  return log4j
}

export function java(installDir: string, log4j: string, heap: string, mainClass: string, args: string[], timeoutMs = toolTimeoutMs): Promise<ToolResult> {
  return runTool('java', [`-Xmx${heap}`, `-Dlog4j2.configurationFile=${log4j}`, '-cp', classPath(installDir), mainClass, ...args], {timeoutMs})
}

async function startKafka(installDir: string, dataDir: string, durability: Durability): Promise<RunningSystem> {
  const {server, tools} = await startKafkaNode(installDir, dataDir, durability)
  return {
    pid: server.pid,
    run: (workload: Workload, meter: ServerMeter) => meter(workload.name, () => runKafkaWorkload(tools, workload)),
    stop: () => stopServer(server),
  }
}

/** One KRaft node on `dataDir` (its log directory is `<dataDir>/logs`), up and listening; for the benchmark and compatibility tests. */
export async function startKafkaNode(installDir: string, dataDir: string, durability: Durability): Promise<{server: Server; tools: KafkaTools}> {
  const ports = {client: await freePort(), controller: await freePort()}
  const {serverProperties, log4j} = await writeConfig(dataDir, ports, durability)
  const uuid = await java(installDir, log4j, toolHeap, 'kafka.tools.StorageTool', ['random-uuid'])
  assertToolSucceeded('kafka storage random-uuid', uuid)
  const format = await java(installDir, log4j, toolHeap, 'kafka.tools.StorageTool', ['format', '-t', uuid.stdout.trim(), '-c', serverProperties])
  assertToolSucceeded('kafka storage format', format)
  const server = startServer('kafka', 'java', [
    `-Xms${brokerHeap}`, `-Xmx${brokerHeap}`, ...brokerJvmOptions, `-Dlog4j2.configurationFile=${log4j}`,
    '-cp', classPath(installDir), 'kafka.Kafka', serverProperties,
  ], {logPath: path.join(dataDir, 'kafka.log'), deadlineMs: serverDeadlineMs})
  try {
    await waitForPort(server, ports.client, startTimeoutMs)
  } catch (error) {
    await stopServer(server)
    throw error
  }
  return {server, tools: {installDir, log4j, bootstrap: `127.0.0.1:${ports.client}`}}
}

export interface KafkaTools {
  installDir: string
  log4j: string
  bootstrap: string
}

export function runKafkaWorkload(tools: KafkaTools, workload: Workload): Promise<Measurement> {
  switch (workload.kind) {
    case 'produce': return produce(tools, workload)
    case 'consume': return consume(tools, workload)
    case 'latency': return latency(tools, workload)
  }
}

export interface ProducerSummary {
  records: number
  recordsPerSecond: number
  p50Ms: number
  p99Ms: number
}

/** The final line of ProducerPerformance: "N records sent, R records/sec (M MB/sec), ... P ms 50th, ... P ms 99th, ...". */
export function parseProducerSummary(output: string): ProducerSummary {
  const match = /(\d+) records sent, ([\d.]+) records\/sec .* (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/.exec(output)
  if (!match) throw new Error(`ProducerPerformance printed no summary:\n${output.slice(-500)}`)
  return {records: Number(match[1]), recordsPerSecond: Number(match[2]), p50Ms: Number(match[3]), p99Ms: Number(match[5])}
}

export async function producerPerformance(tools: KafkaTools, topic: string, records: number, recordBytes: number, throughput: number, properties: string[]): Promise<ProducerSummary> {
  const result = await java(tools.installDir, tools.log4j, toolHeap, 'org.apache.kafka.tools.ProducerPerformance', [
    '--topic', topic, '--num-records', String(records), '--record-size', String(recordBytes), '--throughput', String(throughput),
    '--producer-props', `bootstrap.servers=${tools.bootstrap}`, ...properties,
  ])
  assertToolSucceeded('ProducerPerformance', result)
  const summary = parseProducerSummary(result.stdout)
  if (summary.records !== records) throw new Error(`ProducerPerformance sent ${summary.records} of ${records} records`)
  return summary
}

async function produce(tools: KafkaTools, workload: ProduceWorkload): Promise<Measurement> {
  const summary = await producerPerformance(tools, workload.topic, workload.records, workload.recordBytes, -1, [`acks=${workload.acks}`, ...throughputProducerProperties])
  return {
    workload: workload.name, driver: 'ProducerPerformance', records: summary.records, bytes: summary.records * workload.recordBytes,
    seconds: summary.records / summary.recordsPerSecond, timing: 'tool-reported',
  }
}

async function latency(tools: KafkaTools, workload: LatencyWorkload): Promise<Measurement> {
  const summary = await producerPerformance(tools, workload.topic, workload.records, workload.recordBytes, workload.ratePerSecond, [`acks=${workload.acks}`])
  return {
    workload: workload.name, driver: 'ProducerPerformance --throughput', records: summary.records, bytes: summary.records * workload.recordBytes,
    seconds: summary.records / summary.recordsPerSecond, timing: 'tool-reported', p50Ms: summary.p50Ms, p99Ms: summary.p99Ms,
  }
}

/** ConsumerPerformance prints a CSV header and one line of values. */
export function parseConsumerSummary(output: string): {records: number; fetchSeconds: number} {
  const lines = output.trim().split('\n').map((line) => line.split(',').map((cell) => cell.trim()))
  const headerIndex = lines.findIndex((cells) => cells.includes('fetch.time.ms'))
  const values = lines[headerIndex + 1]
  if (headerIndex < 0 || !values) throw new Error(`ConsumerPerformance printed no summary:\n${output.slice(-500)}`)
  const column = (name: string) => Number(values[lines[headerIndex]!.indexOf(name)])
  return {records: column('data.consumed.in.nMsg'), fetchSeconds: column('fetch.time.ms') / 1000}
}

async function consume(tools: KafkaTools, workload: ConsumeWorkload): Promise<Measurement> {
  const result = await java(tools.installDir, tools.log4j, toolHeap, 'org.apache.kafka.tools.ConsumerPerformance', [
    '--bootstrap-server', tools.bootstrap, '--topic', workload.topic, '--messages', String(workload.records), '--timeout', '60000',
  ])
  assertToolSucceeded('ConsumerPerformance', result)
  const summary = parseConsumerSummary(result.stdout)
  if (summary.records < workload.records) throw new Error(`ConsumerPerformance read ${summary.records} of ${workload.records} records`)
  return {
    workload: workload.name, driver: 'ConsumerPerformance', records: summary.records, bytes: summary.records * workload.recordBytes,
    seconds: summary.fetchSeconds, timing: 'tool-reported',
  }
}
