/**
 * The `peers` part of `npm run bench -- --peers` (issue 5): the same workloads against Lignum,
 * Apache Kafka and NATS JetStream on this machine, in one run. Each of the runs visits every
 * system in turn (the order rotates from run to run, so none always goes first), starting
 * each server fresh on its own scratch directory and loopback ports and stopping it after its
 * workloads; the disk's fdatasync'd write rate is measured at the start of every run. Rows are
 * medians over the runs. A system that is not installed, or fails, gets rows saying so and the
 * others go on. Everything started is stopped at the end, also on error or Ctrl-C.
 *
 * Options (after `--peers`): --peers-runs N (3), --peers-scale F (1: the issue's sizes),
 * --peers-systems lignum,kafka,nats-jetstream, --peers-latency-seconds S (20), --peers-fsync
 * (also the produce workloads with fsync on every append, at a tenth of the records),
 * --peers-cpu-prof (lignum serve under node --cpu-prof, profiles in the scratch dir),
 * --peers-workloads PREFIX[,PREFIX] (only those workloads; a consume needs its produce). Only a full run (3+ runs at scale
 * 1) writes bench/results/latest.{json,md}; others write into the scratch directory.
 */
import {mkdir, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {BenchOptions} from './run.js'
import {measureDisk, type DiskRate} from './peers/disk.js'
import {kafkaSystem} from './peers/kafka.js'
import {lignumSystem} from './peers/lignum.js'
import {natsSystem} from './peers/nats.js'
import {ensurePeersScript, peersNeverInstalled} from './peers/installed-peers.js'
import {readUsage, resetPeakRss, runTool, stopAllServers} from './peers/processes.js'
import {median, summarize, writeResults, type Results, type Sample} from './peers/report.js'
import type {SystemUnderTest} from './peers/system.js'
import {buildFsyncWorkloads, buildWorkloads, durabilities, type Durability, type Measurement, type Workload} from './peers/workloads.js'

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results')
const defaultRuns = 3
const defaultLatencySeconds = 20

interface PeerOptions {
  runs: number
  scale: number
  latencySeconds: number
  systems: string[]
  fsync: boolean
  cpuProfile: boolean
  /** Only workloads whose names start with one of these (all when empty). */
  workloadPrefixes: string[]
}

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name)
  return index >= 0 ? args[index + 1] : undefined
}

export function parsePeerOptions(args: string[]): PeerOptions {
  return {
    runs: Number(option(args, '--peers-runs') ?? defaultRuns),
    scale: Number(option(args, '--peers-scale') ?? 1),
    latencySeconds: Number(option(args, '--peers-latency-seconds') ?? defaultLatencySeconds),
    systems: (option(args, '--peers-systems') ?? 'lignum,kafka,nats-jetstream').split(','),
    fsync: args.includes('--peers-fsync'),
    cpuProfile: args.includes('--peers-cpu-prof'),
    workloadPrefixes: option(args, '--peers-workloads')?.split(',').filter(Boolean) ?? [],
  }
}

interface Plan {
  durability: Durability
  workloads: Workload[]
}

export async function run(options: BenchOptions): Promise<Results> {
  const peerOptions = parsePeerOptions(options.args)
  const stopOnSignal = () => void stopAllServers().finally(() => process.exit(130))
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  try {
    return await runAll(options, peerOptions)
  } finally {
    await stopAllServers()
    process.removeListener('SIGINT', stopOnSignal)
    process.removeListener('SIGTERM', stopOnSignal)
  }
}

async function runAll(options: BenchOptions, peerOptions: PeerOptions): Promise<Results> {
  const cpuProfileDir = peerOptions.cpuProfile ? path.join(options.scratchDir, 'cpu-profiles') : undefined
  if (cpuProfileDir) options.log(`peers: lignum serve CPU profiles go to ${cpuProfileDir}`)
  const all = [lignumSystem(options.scratchDir, cpuProfileDir), kafkaSystem(), natsSystem()]
  const systems = all.filter((system) => peerOptions.systems.includes(system.name))
  try {
    return await measureAll(options, peerOptions, systems, all.length)
  } finally {
    for (const system of systems) await system.cleanup?.()
  }
}

async function measureAll(options: BenchOptions, peerOptions: PeerOptions, systems: SystemUnderTest[], systemCount: number): Promise<Results> {
  const allWorkloads = buildWorkloads({scale: peerOptions.scale, latencySeconds: peerOptions.latencySeconds})
  const selected = (workload: Workload) => peerOptions.workloadPrefixes.length === 0 || peerOptions.workloadPrefixes.some((prefix) => workload.name.startsWith(prefix))
  const workloads = allWorkloads.filter(selected)
  const plans: Plan[] = [{durability: durabilities['os-writeback'], workloads}]
  if (peerOptions.fsync) plans.push({durability: durabilities.fsync, workloads: buildFsyncWorkloads(allWorkloads).filter(selected)})

  await installMissingPeers(options, systems)
  const samples: Sample[] = []
  const unavailable = new Map<string, string>()
  const versions: Record<string, string> = {}
  for (const system of systems) {
    const reason = await system.unavailableReason()
    if (reason) {
      unavailable.set(system.name, reason)
      options.log(`${system.name}: unavailable (${reason})`)
    } else {
      versions[system.name] = await system.version()
    }
  }

  const diskRuns: DiskRate[] = []
  // Other work on this shared machine skews a run; the load average says how much there was.
  const loadAverageAtRunStart: number[] = []
  for (let runIndex = 0; runIndex < peerOptions.runs; runIndex++) {
    loadAverageAtRunStart.push(Math.round(os.loadavg()[0]! * 100) / 100)
    const disk = await measureDisk(options.scratchDir)
    diskRuns.push(disk)
    options.log(`run ${runIndex + 1}/${peerOptions.runs}: disk ${disk.syncedSequentialMbPerSec.toFixed(1)} MB/s synced, ${disk.synced4KiBWritesPerSec.toFixed(0)} synced 4 KiB writes/s`)
    for (const system of rotate(systems, runIndex)) {
      for (const plan of plans) {
        const reason = unavailable.get(system.name)
        if (reason) {
          samples.push(...plan.workloads.map((workload) => ({run: runIndex, system: system.name, durability: plan.durability.name, workload: workload.name, error: reason})))
          continue
        }
        samples.push(...await runSystem(options, system, plan, runIndex))
      }
    }
  }

  const results: Results = {
    machine: {cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryBytes: os.totalmem(), kernel: `${os.type()} ${os.release()}`, node: process.version, loadAverageAtRunStart},
    date: new Date().toISOString(),
    versions,
    settings: {
      runs: peerOptions.runs,
      scale: peerOptions.scale,
      workloads: plans.flatMap((plan) => plan.workloads.map(describeWorkload)),
      durabilities: Object.fromEntries(plans.map((plan) => [plan.durability.name, plan.durability.description])),
      ...Object.fromEntries(systems.flatMap((system) => plans.map((plan) => [`${system.name} (${plan.durability.name})`, system.settings(plan.durability)]))),
    },
    disk: {
      syncedSequentialMbPerSec: median(diskRuns.map((disk) => disk.syncedSequentialMbPerSec)) ?? 0,
      synced4KiBWritesPerSec: median(diskRuns.map((disk) => disk.synced4KiBWritesPerSec)) ?? 0,
      runs: diskRuns,
    },
    rows: summarize(samples),
  }
  const full = peerOptions.runs >= defaultRuns && peerOptions.scale === 1 && systems.length === systemCount && peerOptions.workloadPrefixes.length === 0
  const outDir = full ? resultsDir : options.scratchDir
  await mkdir(outDir, {recursive: true})
  await writeResults(results, path.join(outDir, 'latest.json'), path.join(outDir, 'latest.md'))
  options.log(`peers: wrote ${path.join(outDir, 'latest.json')} and latest.md${full ? '' : ' (not a full run: bench/results/ left alone)'}`)
  return results
}

/** Installing takes minutes (Maven, Go builds): only for peers the script never reported on. */
const ensurePeersTimeoutMs = 40 * 60_000

async function installMissingPeers(options: BenchOptions, systems: SystemUnderTest[]): Promise<void> {
  const installNames: Record<string, string> = {kafka: 'kafka', 'nats-jetstream': 'nats'}
  const wanted = systems.map((system) => installNames[system.name]).filter((name): name is string => name !== undefined)
  const missing = await peersNeverInstalled(wanted)
  if (missing.length === 0) return
  options.log(`peers: installing ${missing.join(', ')} with scripts/ensure-peers (cached for later runs; this takes a few minutes)`)
  const result = await runTool(ensurePeersScript, missing, {timeoutMs: ensurePeersTimeoutMs})
  for (const line of result.stderr.trim().split('\n')) options.log(line)
}

function rotate<T>(items: T[], by: number): T[] {
  const shift = items.length === 0 ? 0 : by % items.length
  return [...items.slice(shift), ...items.slice(0, shift)]
}

function describeWorkload(workload: Workload): string {
  switch (workload.kind) {
    case 'produce': return `${workload.name}: ${workload.records} records of ${workload.recordBytes} B, one producer, acks=${workload.acks}, as fast as acknowledged`
    case 'consume': return `${workload.name}: read the ${workload.records} records of ${workload.topic} from the beginning to the end`
    case 'latency': return `${workload.name}: ${workload.records} records of ${workload.recordBytes} B at ${workload.ratePerSecond}/s, acks=${workload.acks}; latency from send (due time) to acknowledgement`
  }
}

/** Starts one system, runs the plan's workloads in order, stops it; errors become rows. */
async function runSystem(options: BenchOptions, system: SystemUnderTest, plan: Plan, runIndex: number): Promise<Sample[]> {
  const samples: Sample[] = []
  const base = {run: runIndex, system: system.name, durability: plan.durability.name}
  const dataDir = path.join(options.scratchDir, `${system.name}-${plan.durability.name}-run${runIndex + 1}`)
  await rm(dataDir, {recursive: true, force: true})
  await mkdir(dataDir, {recursive: true})
  options.log(`run ${runIndex + 1}: ${system.name} (${plan.durability.name}) starting`)
  let running
  try {
    running = await system.start(dataDir, plan.durability)
  } catch (error) {
    options.log(`${system.name}: failed to start: ${String(error)}`)
    return plan.workloads.map((workload) => ({...base, workload: workload.name, error: `server did not start: ${firstLine(error)}`}))
  }
  try {
    for (const workload of plan.workloads) {
      await running.run(workload, async (workloadName, drive) => {
        const sample: Omit<Sample, 'run' | 'system' | 'durability'> = await meterOne(running!.pid, drive)
          .catch((error: unknown) => ({workload: workloadName, error: firstLine(error)}))
        samples.push({...base, ...sample})
        options.log(`run ${runIndex + 1}: ${system.name} ${sample.workload}: ${sample.error ? `FAILED ${sample.error}` : `${Math.round(sample.recordsPerSec ?? 0)} records/s${sample.p99Ms === undefined ? '' : `, p50 ${sample.p50Ms?.toFixed(2)} ms, p99 ${sample.p99Ms.toFixed(2)} ms`}`}`)
      })
    }
  } finally {
    await running.stop()
    await rm(dataDir, {recursive: true, force: true})
  }
  return samples
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return text.split('\n').slice(0, 3).join(' / ')
}

/** Runs one measurement with the server's peak RSS reset before and its CPU time read around it. */
async function meterOne(pid: number, drive: () => Promise<Measurement>): Promise<Omit<Sample, 'run' | 'system' | 'durability'>> {
  await resetPeakRss(pid)
  const before = await readUsage(pid)
  const measurement = await drive()
  const after = await readUsage(pid)
  return {
    workload: measurement.workload,
    driver: measurement.driver,
    timing: measurement.timing,
    ...(measurement.cliStartupSeconds === undefined ? {} : {cliStartupSeconds: measurement.cliStartupSeconds}),
    recordsPerSec: measurement.records / measurement.seconds,
    mbPerSec: measurement.bytes / measurement.seconds / 1e6,
    ...(measurement.p50Ms === undefined ? {} : {p50Ms: measurement.p50Ms, p99Ms: measurement.p99Ms}),
    serverPeakRssMb: after.peakRssBytes / 2 ** 20,
    serverCpuSeconds: after.cpuSeconds - before.cpuSeconds,
  }
}
