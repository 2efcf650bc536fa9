/**
 * The `replicated` part of `npm run bench -- --replicated` (issue 9): a three-node Lignum
 * cluster (`lignum serve --consul`, a real dev Consul) beside three Kafka 4.1.1 brokers
 * (KRaft), in one run on this machine, both with replication factor 3, min in-sync replicas 2
 * and acks=all: records/s for 1M × 100 B and 200k × 1 KiB through `lignum produce --file`
 * (whole-process wall time) and Kafka's ProducerPerformance, and p50/p99 at a fixed 10k
 * records/s (Lignum: the open-loop fixed-rate driver; Kafka: ProducerPerformance --throughput,
 * as the peers part). A standalone Lignum node runs the same workloads in the same run, so the
 * cost of replication reads off as a ratio. Each run starts every system fresh on its own
 * scratch directories and ports and stops it after; the order rotates from run to run. Rows
 * are medians over the runs. Everything started is stopped at the end, also on error or Ctrl-C.
 *
 * Options: --replicated-runs N (3), --replicated-scale F (1), --replicated-latency-seconds S
 * (10), --replicated-systems lignum-3-nodes,kafka-3-brokers,lignum-1-node,
 * --replicated-cpu-prof (Lignum nodes under node --cpu-prof; top functions in the results).
 * Only a full run (3+ runs, scale 1, every system) writes its section into
 * bench/results/latest.{json,md}; others write into the scratch directory.
 */
import {mkdir, readdir, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {BenchOptions} from './run.js'
import {ConsulAgent, findConsulBinary} from '../test/helpers/consul.js'
import {topSelfTime, type FunctionTime} from './peers/cpu-profile.js'
import {readInstalledPeer} from './peers/installed-peers.js'
import {javaVersion, runKafkaWorkload, throughputProducerProperties} from './peers/kafka.js'
import {clusterBrokerHeap, kafkaBrokerCount, startKafkaCluster, type TopicSpec} from './peers/kafka-cluster.js'
import {buildLignum, type LignumBuild} from './peers/lignum-build.js'
import {isrChangesLogged, startLignumNodes, type LignumNodes, type PartitionIsr} from './peers/lignum-cluster.js'
import {cli, ensureInputFile, libraryName, libraryTopic, produceWithCli, removeInputFiles, runClientDriver, type LignumContext} from './peers/lignum.js'
import {readUsage, resetPeakRss, runTool, stopAllServers} from './peers/processes.js'
import {summarize, type Sample} from './peers/report.js'
import {renderReplicatedMarkdown, replicationRatios, type ReplicatedResults} from './peers/replicated-report.js'
import {writeSection} from './peers/result-sections.js'
import {buildWorkloads, type Measurement, type Workload} from './peers/workloads.js'

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results')
export const sectionName = 'replicated'
const defaultRuns = 3
// Half the peers part's 20 s: 100k acknowledgements still leave 1,000 above the p99, and
// three systems × three runs must fit in about ten minutes.
const defaultLatencySeconds = 10
const replicationFactor = 3
const minInsyncReplicas = 2
/** Partitions per topic, the same on both sides: three, one leader per node. */
export const partitionsPerTopic = 3
const topCpuFunctions = 12
/** Followers copy a row's backlog at tens of MB/s; two minutes means they are stuck. */
const fullIsrTimeoutMs = 120_000
/** Shorter waits are the ISR check's own polling. */
const catchUpWorthNotingSeconds = 1
/** A one-record CLI run takes about a second (most of it start-up) on this loaded machine; more means it waited. */
const warmUpWorthNotingSeconds = 3

const systemNames = ['lignum-3-nodes', 'kafka-3-brokers', 'lignum-1-node'] as const
type SystemName = (typeof systemNames)[number]

interface ReplicatedOptions {
  runs: number
  scale: number
  latencySeconds: number
  systems: SystemName[]
  cpuProfile: boolean
}

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name)
  return index >= 0 ? args[index + 1] : undefined
}

export function parseReplicatedOptions(args: string[]): ReplicatedOptions {
  const systems = (option(args, '--replicated-systems') ?? systemNames.join(',')).split(',')
  const unknown = systems.filter((name) => !(systemNames as readonly string[]).includes(name))
  if (unknown.length > 0) throw new Error(`unknown --replicated-systems ${unknown.join(',')}; choose from ${systemNames.join(',')}`)
  return {
    runs: Number(option(args, '--replicated-runs') ?? defaultRuns),
    scale: Number(option(args, '--replicated-scale') ?? 1),
    latencySeconds: Number(option(args, '--replicated-latency-seconds') ?? defaultLatencySeconds),
    systems: systems as SystemName[],
    cpuProfile: args.includes('--replicated-cpu-prof'),
  }
}

/** What a started system offers the runner: its server processes and a way to run one workload. */
interface RunningCluster {
  pids: number[]
  run(workload: Workload, meter: Meter): Promise<void>
  stop(): Promise<void>
}

type Meter = (workloadName: string, drive: () => Promise<Measurement>) => Promise<void>
type Note = (text: string) => void

interface Environment {
  options: BenchOptions
  build: LignumBuild
  kafkaInstallDir: string | undefined
  consulUrl: string
  cpuProfileDir: string | undefined
  /** What happened during the runs that the rows do not show (ISR shrinks, catch-up waits). */
  notes: string[]
}

/** The workloads of the peers part that replication concerns: the acks=all produces and the fixed-rate latency. */
function replicatedWorkloads(scale: number, latencySeconds: number): Workload[] {
  return buildWorkloads({scale, latencySeconds}).filter((workload) => workload.kind === 'latency' || (workload.kind === 'produce' && workload.acks === 'all'))
}

function topicSpec(name: string, replicated: boolean): TopicSpec {
  return {name, partitions: partitionsPerTopic, replicationFactor: replicated ? replicationFactor : 1, minInsyncReplicas: replicated ? minInsyncReplicas : 1}
}

export async function run(options: BenchOptions): Promise<ReplicatedResults | {skipped: string}> {
  const replicatedOptions = parseReplicatedOptions(options.args)
  const cleanups: (() => Promise<void>)[] = [stopAllServers]
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
  }
  const stopOnSignal = () => void cleanUp().finally(() => process.exit(130))
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  try {
    const found = await findConsulBinary()
    if (!found.path) return {skipped: `no Consul: ${found.missingReason}`}
    const consul = await ConsulAgent.start(found.path, 'dev')
    cleanups.push(() => consul.destroy())
    options.log('replicated: building Lignum from src/')
    const build = await buildLignum(options.scratchDir)
    cleanups.push(async () => {
      await removeInputFiles(options.scratchDir)
      await rm(build.root, {recursive: true, force: true})
    })
    const kafka = await readInstalledPeer('kafka')
    if (typeof kafka === 'string') options.log(`replicated: kafka unavailable (${kafka})`)
    const cpuProfileDir = replicatedOptions.cpuProfile ? path.join(options.scratchDir, 'cpu-profiles') : undefined
    if (cpuProfileDir) await mkdir(cpuProfileDir, {recursive: true})
    const environment = {options, build, kafkaInstallDir: typeof kafka === 'string' ? undefined : kafka.detail, consulUrl: consul.url, cpuProfileDir, notes: []}
    return await measureAll(environment, replicatedOptions, typeof kafka === 'string' ? kafka : undefined)
  } finally {
    await cleanUp()
    process.removeListener('SIGINT', stopOnSignal)
    process.removeListener('SIGTERM', stopOnSignal)
  }
}

async function measureAll(environment: Environment, replicatedOptions: ReplicatedOptions, kafkaUnavailable: string | undefined): Promise<ReplicatedResults> {
  const {options} = environment
  const workloads = replicatedWorkloads(replicatedOptions.scale, replicatedOptions.latencySeconds)
  const samples: Sample[] = []
  const loadAverageAtRunStart: number[] = []
  for (let runIndex = 0; runIndex < replicatedOptions.runs; runIndex++) {
    loadAverageAtRunStart.push(Math.round(os.loadavg()[0]! * 100) / 100)
    for (const system of rotate(replicatedOptions.systems, runIndex)) {
      const base = {run: runIndex, system, durability: 'os-writeback'}
      if (system === 'kafka-3-brokers' && kafkaUnavailable) {
        samples.push(...workloads.map((workload) => ({...base, workload: workload.name, error: kafkaUnavailable})))
        continue
      }
      samples.push(...await runSystem(environment, system, workloads, runIndex))
    }
  }
  const rows = summarize(samples)
  const results: ReplicatedResults = {
    machine: {cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryBytes: os.totalmem(), kernel: `${os.type()} ${os.release()}`, node: process.version, loadAverageAtRunStart},
    date: new Date().toISOString(),
    versions: await versions(environment),
    settings: settings(replicatedOptions, workloads),
    rows,
    ratios: replicationRatios(rows),
    notes: environment.notes,
    ...(environment.cpuProfileDir ? {cpuProfiles: await profileSummaries(environment.cpuProfileDir)} : {}),
  }
  const full = replicatedOptions.runs >= defaultRuns && replicatedOptions.scale === 1 && replicatedOptions.systems.length === systemNames.length && !kafkaUnavailable
  const outDir = full ? resultsDir : options.scratchDir
  await mkdir(outDir, {recursive: true})
  await writeSection(path.join(outDir, 'latest.json'), path.join(outDir, 'latest.md'), sectionName, results, renderReplicatedMarkdown(results))
  options.log(`replicated: wrote the "${sectionName}" section of ${path.join(outDir, 'latest.json')} and latest.md${full ? '' : ' (not a full run: bench/results/ left alone)'}`)
  return results
}

async function versions(environment: Environment): Promise<Record<string, string>> {
  const commit = await runTool('git', ['rev-parse', '--short', 'HEAD'], {timeoutMs: 10_000})
  const changes = await runTool('git', ['status', '--porcelain', '--', 'src'], {timeoutMs: 10_000})
  const dirty = changes.stdout.trim() ? ' + uncommitted changes in src/' : ''
  return {
    lignum: `lignum (${commit.stdout.trim() || 'no git'}${dirty}), node ${process.version}, Consul dev agent`,
    ...(environment.kafkaInstallDir ? {kafka: `Apache Kafka ${path.basename(environment.kafkaInstallDir).replace(/^kafka-/, '')} (KRaft), ${await javaVersion()}`} : {}),
  }
}

function settings(replicatedOptions: ReplicatedOptions, workloads: Workload[]): Record<string, unknown> {
  return {
    runs: replicatedOptions.runs,
    scale: replicatedOptions.scale,
    partitionsPerTopic,
    workloads: workloads.map((workload) => `${workload.name}: ${workload.records} records of ${workload.recordBytes} B, acks=all${workload.kind === 'latency' ? `, at ${workload.ratePerSecond}/s` : ', as fast as acknowledged'}`),
    'lignum-3-nodes': `3 × lignum serve --consul (one dev Consul agent), LIGNUM_FLUSH_POLICY=never; topics create -p ${partitionsPerTopic} -r ${replicationFactor} --min-insync-replicas ${minInsyncReplicas}; lignum produce --acks all --file with all three nodes in --brokers, the partition leader first; each row on a new topic after one acks=all warm-up record and a full ISR (read from Consul); library rows: LignumClient producer write()/drain()/flush(); latency: LignumClient send() at a fixed rate, open loop`,
    'kafka-3-brokers': `${kafkaBrokerCount} KRaft brokers in combined broker+controller mode (a 3-voter controller quorum), heap ${clusterBrokerHeap} each, default flush (no fsync); topics with ${partitionsPerTopic} partition(s), replication factor ${replicationFactor}, min.insync.replicas=${minInsyncReplicas}; ProducerPerformance acks=all ${throughputProducerProperties.join(' ')}; latency: ProducerPerformance --throughput, acks=all, default linger.ms and batch.size, its own whole-ms percentiles`,
    'lignum-1-node': 'one standalone lignum serve, LIGNUM_FLUSH_POLICY=never, the same workloads and drivers as lignum-3-nodes (acks=all is the leader\'s append alone)',
    serverCpuSeconds: 'user + system CPU of all of the system\'s server processes during the row (3 nodes or brokers: their sum)',
    serverPeakRssMb: 'the largest peak RSS of any one server process during the row',
  }
}

async function startSystem(environment: Environment, system: SystemName, dataDir: string, logDir: string, runIndex: number, note: Note): Promise<RunningCluster> {
  if (system === 'kafka-3-brokers') {
    const cluster = await startKafkaCluster(environment.kafkaInstallDir!, dataDir, logDir)
    return {
      pids: cluster.pids,
      run: async (workload, meter) => {
        await cluster.createTopic(topicSpec(workload.topic, true))
        await meter(workload.name, () => runKafkaWorkload(cluster.tools, workload))
      },
      stop: () => cluster.stop(),
    }
  }
  const clustered = system === 'lignum-3-nodes'
  const nodes = await startLignumNodes({
    build: environment.build, dataDir, logDir, nodeCount: clustered ? 3 : 1, cpuProfileDir: environment.cpuProfileDir,
    ...(clustered ? {consul: {url: environment.consulUrl, cluster: `bench-replicated-${process.pid}-${runIndex + 1}`}} : {}),
  })
  const stop = async () => {
    await nodes.stop()
    for (const change of await isrChangesLogged(logDir)) note(change)
  }
  return {pids: nodes.pids, run: (workload, meter) => runLignumWorkload(environment, nodes, clustered, workload, meter, note), stop}
}

/**
 * Each row starts on a fully replicated cluster: followers still copying an earlier row's
 * records (out of the ISR) would otherwise slow this row or fail it with NOT_ENOUGH_REPLICAS.
 * How long that catch-up took, and any ISR shrink during a row, go into the notes.
 */
async function runLignumWorkload(environment: Environment, nodes: LignumNodes, clustered: boolean, workload: Workload, meter: Meter, note: Note): Promise<void> {
  const measure = async (name: string, topic: string, drive: (context: LignumContext) => Promise<Measurement>) => {
    await nodes.createTopic(topicSpec(topic, clustered))
    const context = {build: environment.build, scratchDir: environment.options.scratchDir, broker: await nodes.brokersFor(topic)}
    await warmUp(context, topic, workload.recordBytes, (text) => note(`${name}: ${text}`))
    const waitedSeconds = await nodes.waitFullIsr(fullIsrTimeoutMs)
    if (waitedSeconds === null) note(`${name}: started with partitions still under-replicated after ${fullIsrTimeoutMs / 1000} s: ${describeLagging(await nodes.underReplicated())}`)
    else if (waitedSeconds >= catchUpWorthNotingSeconds) note(`${name}: waited ${waitedSeconds.toFixed(1)} s for followers to rejoin the ISR before starting`)
    await meter(name, () => drive(context))
    const lagging = await nodes.underReplicated()
    if (lagging.length > 0) note(`${name}: under-replicated right after the row: ${describeLagging(lagging)}`)
  }
  if (workload.kind === 'produce') {
    await measure(workload.name, workload.topic, (context) => produceWithCli(context, workload))
    await measure(libraryName(workload), libraryTopic(workload), (context) => runClientDriver(context, workload, 'produce', libraryTopic(workload)))
  } else if (workload.kind === 'latency') {
    await measure(workload.name, workload.topic, (context) => runClientDriver(context, workload, 'latency', workload.topic))
  }
}

/**
 * One acks=all record into the new topic before its row: it returns once the followers copy,
 * so a row never includes their start. A new partition's followers can stop fetching when
 * their first fetch reaches the leader before it has taken up its leadership; they resume
 * only when the ISR shrinks (replicaLagMaxMs later) and the new state restarts them. That
 * wait shows here, in the notes, rather than inside a row.
 */
async function warmUp(context: LignumContext, topic: string, recordBytes: number, note: Note): Promise<void> {
  const file = await ensureInputFile(context.scratchDir, 1, recordBytes)
  const result = await cli(context.build, ['produce', '-t', topic, '--acks', 'all', '--file', file, '--brokers', context.broker])
  if (result.code !== 0) note(`the warm-up record (acks=all) failed after ${result.wallSeconds.toFixed(1)} s: ${(result.stderr.trim().split('\n').at(-1) ?? '').slice(0, 200)}`)
  else if (result.wallSeconds >= warmUpWorthNotingSeconds) note(`the warm-up record (acks=all) took ${result.wallSeconds.toFixed(1)} s`)
}

function describeLagging(lagging: PartitionIsr[]): string {
  return lagging.map((entry) => `${entry.topic}-${entry.partition} ISR ${entry.isr} of ${entry.replicas}`).join(', ')
}

async function runSystem(environment: Environment, system: SystemName, workloads: Workload[], runIndex: number): Promise<Sample[]> {
  const {options} = environment
  const samples: Sample[] = []
  const base = {run: runIndex, system, durability: 'os-writeback'}
  const dataDir = path.join(options.scratchDir, `${system}-run${runIndex + 1}`)
  await rm(dataDir, {recursive: true, force: true})
  await mkdir(dataDir, {recursive: true})
  const logDir = path.join(options.scratchDir, 'logs', `${system}-run${runIndex + 1}`)
  await mkdir(logDir, {recursive: true})
  options.log(`run ${runIndex + 1}: ${system} starting (logs in ${logDir})`)
  let running: RunningCluster
  try {
    const note: Note = (text) => {
      environment.notes.push(`run ${runIndex + 1}, ${system}, ${text}`)
      options.log(`run ${runIndex + 1}: ${system} ${text}`)
    }
    running = await startSystem(environment, system, dataDir, logDir, runIndex, note)
  } catch (error) {
    options.log(`${system}: failed to start: ${String(error)}`)
    return workloads.map((workload) => ({...base, workload: workload.name, error: `did not start: ${firstLine(error)}`}))
  }
  try {
    for (const workload of workloads) {
      const meter: Meter = async (workloadName, drive) => {
        const sample = await meterOne(running.pids, drive).catch((error: unknown) => ({workload: workloadName, error: firstLine(error)}))
        samples.push({...base, ...sample})
        options.log(`run ${runIndex + 1}: ${system} ${sample.workload}: ${describeSample(sample)}`)
      }
      await running.run(workload, meter).catch((error: unknown) => {
        samples.push({...base, workload: workload.name, error: firstLine(error)})
        options.log(`run ${runIndex + 1}: ${system} ${workload.name}: FAILED ${firstLine(error)}`)
      })
    }
  } finally {
    await running.stop()
    await rm(dataDir, {recursive: true, force: true})
  }
  return samples
}

function describeSample(sample: Omit<Sample, 'run' | 'system' | 'durability'>): string {
  if (sample.error) return `FAILED ${sample.error}`
  const latency = sample.p99Ms === undefined ? '' : `, p50 ${sample.p50Ms?.toFixed(2)} ms, p99 ${sample.p99Ms.toFixed(2)} ms`
  return `${Math.round(sample.recordsPerSec ?? 0)} records/s${latency}, server CPU ${sample.serverCpuSeconds?.toFixed(2)} s`
}

/** One measurement with every server's peak RSS reset before and CPU time read around it. */
async function meterOne(pids: number[], drive: () => Promise<Measurement>): Promise<Omit<Sample, 'run' | 'system' | 'durability'>> {
  for (const pid of pids) await resetPeakRss(pid)
  const before = await Promise.all(pids.map((pid) => readUsage(pid)))
  const measurement = await drive()
  const after = await Promise.all(pids.map((pid) => readUsage(pid)))
  const cpuByServer = after.map((usage, index) => usage.cpuSeconds - before[index]!.cpuSeconds)
  return {
    workload: measurement.workload,
    driver: measurement.driver,
    timing: measurement.timing,
    ...(measurement.cliStartupSeconds === undefined ? {} : {cliStartupSeconds: measurement.cliStartupSeconds}),
    recordsPerSec: measurement.records / measurement.seconds,
    mbPerSec: measurement.bytes / measurement.seconds / 1e6,
    ...(measurement.p50Ms === undefined ? {} : {p50Ms: measurement.p50Ms, p99Ms: measurement.p99Ms}),
    serverPeakRssMb: Math.max(...after.map((usage) => usage.peakRssBytes)) / 2 ** 20,
    serverCpuSeconds: cpuByServer.reduce((sum, seconds) => sum + seconds, 0),
  }
}

async function profileSummaries(cpuProfileDir: string): Promise<Record<string, FunctionTime[]>> {
  const summaries: Record<string, FunctionTime[]> = {}
  for (const name of (await readdir(cpuProfileDir)).filter((file) => file.endsWith('.cpuprofile')).sort()) {
    summaries[name] = await topSelfTime(path.join(cpuProfileDir, name), topCpuFunctions)
  }
  return summaries
}

function rotate<T>(items: T[], by: number): T[] {
  const shift = items.length === 0 ? 0 : by % items.length
  return [...items.slice(shift), ...items.slice(0, shift)]
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return text.split('\n').slice(0, 3).join(' / ')
}
