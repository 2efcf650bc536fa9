/**
 * Lignum as the system under test, from a private build of src/ (lignum-build.ts), driven
 * as a user would: `lignum serve` on its own data
 * directory and loopback ports, `lignum produce --file` and `lignum consume -e` as child
 * processes (rates over the whole process, start-up included), and the Node client library
 * directly (drivers/lignum-client.ts, rates over first send to last acknowledgement) to
 * separate the CLI's cost from the broker's. Input files (one record per line) are written
 * once per benchmark in the shared scratch directory. Started with `tls` (startLignum), the server
 * serves (mutual) TLS and every client (CLI and library) connects with the given CA and certificate.
 */
import {createWriteStream} from 'node:fs'
import {access, readdir, readFile, rm} from 'node:fs/promises'
import {once} from 'node:events'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {buildLignum, repoRoot, type LignumBuild} from './lignum-build.js'
import {assertToolSucceeded, freePort, runTool, startServer, stopServer, waitForPort} from './processes.js'
import type {RunningSystem, ServerMeter, SystemUnderTest} from './system.js'
import type {ConsumeWorkload, Durability, LatencyWorkload, Measurement, ProduceWorkload, Workload} from './workloads.js'

const clientDriver = path.join(path.dirname(fileURLToPath(import.meta.url)), 'drivers', 'lignum-client.ts')
const startTimeoutMs = 60_000
const toolTimeoutMs = 300_000
const serverDeadlineMs = 60 * 60_000
/** Characters records are made of (like Kafka's ProducerPerformance: random upper-case letters). */
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
/** Lines are written to the input file in chunks of about this size. */
const inputChunkBytes = 1 << 20
const inputFilePrefix = 'lignum-input-'

/** The files of a TLS server and of its clients (see ../tls.ts). */
export interface LignumTls {
  /** Flags added to `lignum serve` (--tls-cert-file, …, --tls-client-auth). */
  serveArgs: string[]
  /** What every client passes: the CA, and a certificate for mutual TLS. */
  client: {caFile: string; certFile?: string; keyFile?: string}
}

/**
 * `cpuProfileDir`: when set, `lignum serve` runs under `node --cpu-prof` and writes a
 * .cpuprofile there when it stops (open it in Chrome DevTools or speedscope).
 */
export function lignumSystem(scratchDir: string, cpuProfileDir?: string): SystemUnderTest {
  let build: LignumBuild | undefined
  return {
    name: 'lignum',
    unavailableReason: async () => {
      try {
        build = await buildLignum(scratchDir)
        return null
      } catch (error) {
        return `could not build Lignum from src/ (${error instanceof Error ? error.message : String(error)})`
      }
    },
    version: async () => {
      const manifest = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {version: string}
      const commit = await runTool('git', ['rev-parse', '--short', 'HEAD'], {cwd: repoRoot, timeoutMs: 10_000})
      // The benchmark runs dist/ as built from the working tree, which may be ahead of HEAD.
      const changes = await runTool('git', ['status', '--porcelain', '--', 'src'], {cwd: repoRoot, timeoutMs: 10_000})
      const dirty = changes.stdout.trim() ? ' + uncommitted changes in src/' : ''
      return `lignum ${manifest.version} (${commit.stdout.trim() || 'no git'}${dirty}), node ${process.version}`
    },
    settings: (durability) => ({
      server: `lignum serve, 1 partition per topic (auto-created), LIGNUM_FLUSH_POLICY=${flushPolicy(durability)}`,
      producer: 'lignum produce --file (one record per line), default batch size (256 KiB), no linger (natural batching); library: LignumClient producer defaults, write()/drain()/flush() as the CLI does',
      consumer: 'lignum consume --from beginning -e to a pipe; library: client.consume({stopAtEnd: true})',
      latency: 'LignumClient producer.send() at a fixed rate, open loop, acks=all, producer defaults (no linger: natural batching)',
    }),
    start: (dataDir, durability) => startLignum(build!, scratchDir, dataDir, durability, cpuProfileDir),
    cleanup: async () => {
      await removeInputFiles(scratchDir)
      if (build) await rm(build.root, {recursive: true, force: true})
    },
  }
}

export function flushPolicy(durability: Durability): string {
  return durability.name === 'fsync' ? 'always' : 'never'
}

/** `lignum serve` from `build` on `dataDir`; with `tls` it serves TLS and its clients connect with `tls.client`. */
export async function startLignum(build: LignumBuild, scratchDir: string, dataDir: string, durability: Durability, cpuProfileDir?: string, tls?: LignumTls): Promise<RunningSystem> {
  const grpcPort = await freePort()
  const httpPort = await freePort()
  const env = {...process.env, LIGNUM_FLUSH_POLICY: flushPolicy(durability), LOG_LEVEL: 'warn', NO_COLOR: '1'}
  const profile = cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir] : []
  const server = startServer('lignum serve', process.execPath, [...profile, build.bin, 'serve', '--data-dir', path.join(dataDir, 'data'), '--grpc-port', String(grpcPort), '--http-port', String(httpPort), ...(tls?.serveArgs ?? [])], {
    env, logPath: path.join(dataDir, 'lignum-serve.log'), deadlineMs: serverDeadlineMs,
  })
  try {
    await waitForPort(server, grpcPort, startTimeoutMs)
  } catch (error) {
    await stopServer(server)
    throw error
  }
  const context = {build, scratchDir, broker: `127.0.0.1:${grpcPort}`, tls: tls?.client}
  return {
    pid: server.pid,
    address: context.broker,
    run: (workload, meter) => runLignumWorkload(context, workload, meter),
    stop: () => stopServer(server),
  }
}

export interface LignumContext {
  build: LignumBuild
  scratchDir: string
  broker: string
  /** The client side of a TLS server; plaintext when absent. */
  tls?: LignumTls['client']
}

/** The CLI's TLS flags for `context` (none in plaintext). */
function tlsFlags(context: LignumContext): string[] {
  const tls = context.tls
  if (!tls) return []
  return ['--tls-ca', tls.caFile, ...(tls.certFile && tls.keyFile ? ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile] : [])]
}

async function runLignumWorkload(context: LignumContext, workload: Workload, meter: ServerMeter): Promise<void> {
  switch (workload.kind) {
    case 'produce':
      await meter(workload.name, () => produceWithCli(context, workload))
      await meter(libraryName(workload), () => runClientDriver(context, workload, 'produce', libraryTopic(workload)))
      return
    case 'consume':
      await meter(workload.name, () => consumeWithCli(context, workload))
      await meter(libraryName(workload), () => runClientDriver(context, workload, 'consume', libraryTopic(workload)))
      return
    case 'latency':
      await meter(workload.name, () => runClientDriver(context, workload, 'latency', workload.topic))
  }
}

/** The library's rows are the CLI's with this suffix, and read and write their own topics. */
export function libraryName(workload: Workload): string {
  return `${workload.name}-library`
}

export function libraryTopic(workload: Workload): string {
  return `${workload.topic}-library`
}

/** Removes the input files ensureInputFile wrote into `scratchDir`. */
export async function removeInputFiles(scratchDir: string): Promise<void> {
  for (const name of await readdir(scratchDir)) if (name.startsWith(inputFilePrefix)) await rm(path.join(scratchDir, name), {force: true})
}

/** Writes `records` lines of `recordBytes` letters each (plus the newline), once per size. */
export async function ensureInputFile(scratchDir: string, records: number, recordBytes: number): Promise<string> {
  const file = path.join(scratchDir, `${inputFilePrefix}${records}x${recordBytes}.txt`)
  try {
    await access(file)
    return file
  } catch {
    // Not there yet: write it below.
  }
  const pool = Buffer.alloc(recordBytes * 2 + 4096)
  for (let index = 0; index < pool.length; index++) pool[index] = alphabet.charCodeAt(Math.floor(Math.random() * alphabet.length))
  const out = createWriteStream(file)
  const linesPerChunk = Math.max(1, Math.floor(inputChunkBytes / (recordBytes + 1)))
  for (let written = 0; written < records; written += linesPerChunk) {
    const count = Math.min(linesPerChunk, records - written)
    const chunk = Buffer.alloc(count * (recordBytes + 1))
    for (let line = 0; line < count; line++) {
      const start = (written + line) % (pool.length - recordBytes)
      pool.copy(chunk, line * (recordBytes + 1), start, start + recordBytes)
      chunk[line * (recordBytes + 1) + recordBytes] = 10
    }
    if (!out.write(chunk)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  return file
}

export function cli(build: LignumBuild, args: string[], stdout: 'collect' | 'count-lines' = 'collect') {
  return runTool(process.execPath, [build.bin, ...args], {timeoutMs: toolTimeoutMs, stdout, env: {...process.env, NO_COLOR: '1'}, cwd: build.root})
}

/** Node, oclif and the command's modules loading: what `command --help` costs, timed. */
async function cliStartupSeconds(build: LignumBuild, command: string): Promise<number> {
  const result = await cli(build, [command, '--help'])
  assertToolSucceeded(`lignum ${command} --help`, result)
  return result.wallSeconds
}

export async function produceWithCli(context: LignumContext, workload: ProduceWorkload): Promise<Measurement> {
  const file = await ensureInputFile(context.scratchDir, workload.records, workload.recordBytes)
  const startupSeconds = await cliStartupSeconds(context.build, 'produce')
  const result = await cli(context.build, ['produce', '-t', workload.topic, '--acks', workload.acks, '--file', file, '--brokers', context.broker, ...tlsFlags(context)])
  assertToolSucceeded('lignum produce', result)
  return {
    workload: workload.name, driver: 'lignum produce --file (CLI)', records: workload.records, bytes: workload.records * workload.recordBytes,
    seconds: result.wallSeconds, timing: 'process wall time', cliStartupSeconds: startupSeconds,
  }
}

async function consumeWithCli(context: LignumContext, workload: ConsumeWorkload): Promise<Measurement> {
  const startupSeconds = await cliStartupSeconds(context.build, 'consume')
  const result = await cli(context.build, ['consume', '-t', workload.topic, '--from', 'beginning', '-e', '--brokers', context.broker, ...tlsFlags(context)], 'count-lines')
  assertToolSucceeded('lignum consume', result)
  if (result.stdoutLines !== workload.records) throw new Error(`lignum consume printed ${result.stdoutLines} lines, expected ${workload.records}`)
  return {
    workload: workload.name, driver: 'lignum consume -e (CLI)', records: result.stdoutLines, bytes: result.stdoutLines * workload.recordBytes,
    seconds: result.wallSeconds, timing: 'process wall time', cliStartupSeconds: startupSeconds,
  }
}

export async function runClientDriver(context: LignumContext, workload: Workload, mode: 'produce' | 'consume' | 'latency', topic: string): Promise<Measurement> {
  const args = {
    mode, clientModule: context.build.clientModule, broker: context.broker, topic, recordBytes: workload.recordBytes, records: workload.records,
    acks: workload.kind === 'consume' ? '1' : workload.acks,
    ratePerSecond: workload.kind === 'latency' ? workload.ratePerSecond : undefined,
    tls: context.tls,
  }
  const result = await runTool(process.execPath, ['--import', 'tsx', clientDriver, JSON.stringify(args)], {timeoutMs: toolTimeoutMs, cwd: repoRoot})
  assertToolSucceeded(`lignum client library (${mode})`, result)
  const measured = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {records: number; seconds: number; p50Ms?: number; p99Ms?: number}
  if (measured.records !== workload.records) throw new Error(`lignum client library (${mode}) handled ${measured.records} records, expected ${workload.records}`)
  return {
    workload: mode === 'latency' ? workload.name : libraryName(workload), driver: 'LignumClient (Node library)',
    records: measured.records, bytes: measured.records * workload.recordBytes, seconds: measured.seconds, timing: 'tool-reported',
    ...(measured.p50Ms === undefined ? {} : {p50Ms: measured.p50Ms, p99Ms: measured.p99Ms}),
  }
}
