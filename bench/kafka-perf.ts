/**
 * The `kafka-perf` part of `npm run bench` (issue 13's "Must show"): Kafka's own load tools,
 * org.apache.kafka.tools.ProducerPerformance and ConsumerPerformance from the Kafka 4.1.1 jars
 * scripts/ensure-peers caches, against Lignum's Kafka listener (`lignum serve --kafka-port`,
 * one standalone node) and against Kafka itself (one KRaft node, bench/peers/kafka.ts), with
 * the same settings: acks=all, the producer's and consumer's defaults, records of 100 B and
 * 1 KiB to topics auto-created with one partition (replication 1), no fsync on either side
 * (Lignum's flush policy "never", Kafka's default flush), both data directories in the same
 * scratch directory (the same disk); sync(1) before every tool, so no tool pays for the
 * writeback of what the one before it wrote.
 *
 * Both servers run for the whole part and are warmed up first (one unmeasured produce and
 * consume each, for the JVM's JIT and V8's tiers). Each run produces each size to a fresh topic on each
 * system and then consumes those topics; the order of the systems swaps every run, so drift
 * on the shared machine hits both alike. Rows are medians of the runs; the ratio Lignum ÷
 * Kafka of the medians is what the goal (≥ 1) is judged on.
 *
 * Options: --kafka-perf-runs N (3), --kafka-perf-scale F (1: 500k records of 100 B, 125k of
 * 1 KiB), --kafka-perf-profile (Lignum's server under node --cpu-prof; its top functions are
 * logged). Only a full, unprofiled run (3+ runs, scale 1) writes its section into
 * bench/results/latest.{json,md}; others write into the scratch directory.
 */
import {mkdir, readdir, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {BenchOptions} from './run.js'
import {topSelfTime} from './peers/cpu-profile.js'
import {readInstalledPeer} from './peers/installed-peers.js'
import {java, javaVersion, parseConsumerSummary, producerPerformance, startKafkaNode, toolHeap, writeLog4j, type KafkaTools} from './peers/kafka.js'
import {perfRatios, perfRows, renderPerfMarkdown, type PerfResults, type PerfSample, type PerfSystem} from './peers/kafka-perf-report.js'
import {buildLignum, type LignumBuild} from './peers/lignum-build.js'
import {lignumSystem} from './peers/lignum.js'
import {assertToolSucceeded, freePort, readUsage, runTool, startServer, stopAllServers, stopServer, waitForPort, type Server} from './peers/processes.js'
import {writeSection} from './peers/result-sections.js'
import {durabilities} from './peers/workloads.js'

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results')
export const sectionName = 'kafka-perf'
// Three per cell: the median of three shrugs off one run a neighbour's job slowed.
const defaultRuns = 3
// Record counts at scale 1: a few seconds of each tool on a 2-core machine, so the part takes minutes.
const recordSizes = [{bytes: 100, records: 500_000}, {bytes: 1024, records: 125_000}] as const
// Before the first run, each system takes one unmeasured produce and consume of this many 100 B
// records, so neither the JVM's JIT nor V8's tiers are warming up inside a measured run.
const warmUp = {bytes: 100, records: 200_000}
const producerProperties = ['acks=all']
const consumerTimeoutMs = 60_000
const startTimeoutMs = 60_000
const serverDeadlineMs = 60 * 60_000
const profileTopFunctions = 25
const syncTimeoutMs = 120_000
const dataDirNames = ['kafka', 'lignum', 'tools']

interface PerfOptions {
  runs: number
  scale: number
  profile: boolean
}

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name)
  return index >= 0 ? args[index + 1] : undefined
}

export function parsePerfOptions(args: string[]): PerfOptions {
  const runs = Number(option(args, '--kafka-perf-runs') ?? defaultRuns)
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--kafka-perf-runs must be a whole number of at least 1, not ${option(args, '--kafka-perf-runs')}`)
  const scale = Number(option(args, '--kafka-perf-scale') ?? 1)
  if (!(scale > 0)) throw new Error(`--kafka-perf-scale must be a number above 0, not ${option(args, '--kafka-perf-scale')}`)
  return {runs, scale, profile: args.includes('--kafka-perf-profile')}
}

interface RunningPeer {
  system: PerfSystem
  server: Server
  tools: KafkaTools
}

export async function run(options: BenchOptions): Promise<PerfResults | {skipped: string}> {
  const perfOptions = parsePerfOptions(options.args)
  const kafka = await readInstalledPeer('kafka')
  if (typeof kafka === 'string') {
    options.log(`kafka-perf: skipped: Kafka is ${kafka}`)
    return {skipped: `Kafka ${kafka}`}
  }
  const stopOnSignal = () => void stopAllServers().finally(() => process.exit(130))
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  const build = await buildLignum(options.scratchDir)
  try {
    return await measure(options, perfOptions, kafka.detail, kafka.version, build)
  } finally {
    await stopAllServers()
    await rm(build.root, {recursive: true, force: true})
    // The servers' data (about a gigabyte at scale 1); a CPU profile, if asked for, stays.
    for (const name of dataDirNames) await rm(path.join(options.scratchDir, name), {recursive: true, force: true})
    process.removeListener('SIGINT', stopOnSignal)
    process.removeListener('SIGTERM', stopOnSignal)
  }
}

async function measure(options: BenchOptions, perfOptions: PerfOptions, kafkaDir: string, kafkaVersion: string, build: LignumBuild): Promise<PerfResults> {
  const log4j = await writeLog4j(await scratch(options.scratchDir, 'tools'))
  const profileDir = perfOptions.profile ? await scratch(options.scratchDir, 'cpu-profile') : undefined
  const kafkaNode = await startKafkaNode(kafkaDir, await scratch(options.scratchDir, 'kafka'), durabilities['os-writeback'])
  const lignumNode = await startLignumWithKafka(build, await scratch(options.scratchDir, 'lignum'), profileDir)
  const peers: RunningPeer[] = [
    {system: 'lignum', server: lignumNode.server, tools: {installDir: kafkaDir, log4j, bootstrap: lignumNode.bootstrap}},
    {system: 'kafka', server: kafkaNode.server, tools: kafkaNode.tools},
  ]
  const sizes = recordSizes.map((size) => ({bytes: size.bytes, records: Math.max(1, Math.round(size.records * perfOptions.scale))}))
  const samples: PerfSample[] = []
  for (const peer of peers) {
    const size = {bytes: warmUp.bytes, records: Math.max(1, Math.round(warmUp.records * perfOptions.scale))}
    await producePerf(peer, 0, size)
    await consumePerf(peer, 0, size)
    options.log(`kafka-perf: warmed ${peer.system} up with ${size.records} records of ${size.bytes} B`)
  }
  for (let runIndex = 0; runIndex < perfOptions.runs; runIndex++) {
    const order = runIndex % 2 === 0 ? peers : [...peers].reverse()
    const record = (sample: PerfSample) => {
      samples.push(sample)
      options.log(`kafka-perf run ${sample.run}/${perfOptions.runs}: ${sample.system} ${sample.workload}: ${Math.round(sample.recordsPerSec)} records/s, ${sample.mbPerSec.toFixed(1)} MB/s, server CPU ${sample.serverCpuSeconds.toFixed(2)} s (load ${sample.loadAverage1m})`)
    }
    for (const size of sizes) for (const peer of order) record(await producePerf(peer, runIndex + 1, size))
    for (const size of sizes) for (const peer of order) record(await consumePerf(peer, runIndex + 1, size))
  }
  await stopServer(lignumNode.server)
  await stopServer(kafkaNode.server)
  if (profileDir) await logProfile(options, profileDir)
  const rows = perfRows(samples)
  const results: PerfResults = {
    machine: {cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryBytes: os.totalmem(), kernel: `${os.type()} ${os.release()}`, node: process.version},
    date: new Date().toISOString(),
    command: `npm run bench -- --only ${sectionName}${options.args.filter((arg) => arg !== '--only' && arg !== sectionName).map((arg) => ` ${arg}`).join('')}`,
    versions: {lignum: await lignumSystem(options.scratchDir).version(), kafka: `Apache Kafka ${kafkaVersion} (KRaft, single node), ${await javaVersion()}`, tools: `Kafka ${kafkaVersion}'s ProducerPerformance and ConsumerPerformance, -Xmx${toolHeap}`},
    settings: {
      lignum: 'lignum serve --kafka-port (standalone node), LIGNUM_FLUSH_POLICY=never, topics auto-created by Metadata with 1 partition',
      kafka: 'KRaft combined broker+controller, heap 1g, default flush (no fsync), topics auto-created with num.partitions=1, replication 1',
      producer: `ProducerPerformance --throughput -1 --producer-props ${producerProperties.join(' ')}; otherwise the Kafka 4.1 producer's defaults (batch.size 16384, linger.ms 5, enable.idempotence true, max.in.flight 5, no compression)`,
      consumer: `ConsumerPerformance --messages N --timeout ${consumerTimeoutMs} with the consumer's defaults (fetch.max.bytes 50 MiB, max.partition.fetch.bytes 1 MiB, fetch.min.bytes 1); rate over its fetch time`,
      workloads: sizes.map((size) => `${size.records} records of ${size.bytes} B`).join('; '),
      disk: 'both data directories under the same scratch directory (one filesystem)',
    },
    rows,
    ratios: perfRatios(rows),
    samples,
  }
  const full = perfOptions.runs >= defaultRuns && perfOptions.scale === 1 && !perfOptions.profile
  const outDir = full ? resultsDir : options.scratchDir
  await mkdir(outDir, {recursive: true})
  await writeSection(path.join(outDir, 'latest.json'), path.join(outDir, 'latest.md'), sectionName, results, renderPerfMarkdown(results))
  options.log(`kafka-perf: wrote the "${sectionName}" section of ${path.join(outDir, 'latest.json')} and latest.md${full ? '' : ' (not a full run: bench/results/ left alone)'}`)
  return results
}

async function scratch(root: string, name: string): Promise<string> {
  const dir = path.join(root, name)
  await rm(dir, {recursive: true, force: true})
  await mkdir(dir, {recursive: true})
  return dir
}

/** `lignum serve` with its Kafka listener on, up once the Kafka port accepts (and serves: see waitForKafkaReady). */
async function startLignumWithKafka(build: LignumBuild, dataDir: string, profileDir: string | undefined): Promise<{server: Server; bootstrap: string}> {
  const [grpcPort, httpPort, kafkaPort] = [await freePort(), await freePort(), await freePort()]
  const env = {...process.env, LIGNUM_FLUSH_POLICY: 'never', LOG_LEVEL: 'warn', NO_COLOR: '1'}
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []
  const server = startServer('lignum serve', process.execPath, [
    ...profile, build.bin, 'serve', '--data-dir', path.join(dataDir, 'data'), '--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--kafka-port', String(kafkaPort),
  ], {env, logPath: path.join(dataDir, 'lignum-serve.log'), deadlineMs: serverDeadlineMs})
  try {
    // The gRPC port opens once the node is ready; the Kafka listener (open earlier) closes connections until then.
    await waitForPort(server, grpcPort, startTimeoutMs)
    await waitForPort(server, kafkaPort, startTimeoutMs)
  } catch (error) {
    await stopServer(server)
    throw error
  }
  return {server, bootstrap: `127.0.0.1:${kafkaPort}`}
}

/** Run 0 is the warm-up. */
function topicOf(system: PerfSystem, run: number, bytes: number): string {
  return run === 0 ? `perf-${system}-warm-up` : `perf-${system}-${bytes}B-run${run}`
}

/**
 * Neither server fsyncs, so the pages one tool wrote are flushed by the kernel while the next
 * tool runs, whichever system that is: `sync` first, so each tool starts with none pending.
 */
async function flushDirtyPages(): Promise<void> {
  assertToolSucceeded('sync', await runTool('sync', [], {timeoutMs: syncTimeoutMs}))
}

function loadAverage(): number {
  return Math.round(os.loadavg()[0]! * 100) / 100
}

async function producePerf(peer: RunningPeer, run: number, size: {bytes: number; records: number}): Promise<PerfSample> {
  await flushDirtyPages()
  const loadAverage1m = loadAverage()
  const before = await readUsage(peer.server.pid)
  const summary = await producerPerformance(peer.tools, topicOf(peer.system, run, size.bytes), size.records, size.bytes, -1, producerProperties)
  const after = await readUsage(peer.server.pid)
  return {
    run, system: peer.system, workload: `produce-${size.bytes}B`, tool: 'ProducerPerformance', records: summary.records,
    recordsPerSec: summary.recordsPerSecond, mbPerSec: (summary.recordsPerSecond * size.bytes) / 1e6,
    serverCpuSeconds: after.cpuSeconds - before.cpuSeconds, loadAverage1m,
  }
}

async function consumePerf(peer: RunningPeer, run: number, size: {bytes: number; records: number}): Promise<PerfSample> {
  await flushDirtyPages()
  const loadAverage1m = loadAverage()
  const before = await readUsage(peer.server.pid)
  const result = await java(peer.tools.installDir, peer.tools.log4j, toolHeap, 'org.apache.kafka.tools.ConsumerPerformance', [
    '--bootstrap-server', peer.tools.bootstrap, '--topic', topicOf(peer.system, run, size.bytes), '--messages', String(size.records), '--timeout', String(consumerTimeoutMs),
  ])
  const after = await readUsage(peer.server.pid)
  assertToolSucceeded(`ConsumerPerformance against ${peer.system}`, result)
  const summary = parseConsumerSummary(result.stdout)
  if (summary.records < size.records) throw new Error(`ConsumerPerformance read ${summary.records} of ${size.records} records from ${peer.system}`)
  const recordsPerSec = summary.records / summary.fetchSeconds
  return {
    run, system: peer.system, workload: `consume-${size.bytes}B`, tool: 'ConsumerPerformance', records: summary.records,
    recordsPerSec, mbPerSec: (recordsPerSec * size.bytes) / 1e6, serverCpuSeconds: after.cpuSeconds - before.cpuSeconds, loadAverage1m,
  }
}

async function logProfile(options: BenchOptions, profileDir: string): Promise<void> {
  const files = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile'))
  for (const file of files) {
    options.log(`kafka-perf: Lignum's CPU profile ${path.join(profileDir, file)}; top self time:`)
    for (const entry of await topSelfTime(path.join(profileDir, file), profileTopFunctions)) options.log(`  ${(entry.share * 100).toFixed(1)}% ${entry.selfMs} ms ${entry.function}`)
  }
}
