/**
 * The `offline-consume` part of `npm run bench` (issue 12): the same records read twice with
 * this checkout's CLI (dist/, so `npm run build` first), `lignum consume -e` through a
 * standalone server and `lignum consume --data-dir` on that server's directory once it has
 * stopped; values printed as lines to a counting pipe, --json as well. Each pair runs three
 * times, interleaved; medians of wall time and of CPU seconds (the CLI's, from /usr/bin/time;
 * through the server, the server's too, from /proc), as wall time on a shared machine drifts
 * with its load and CPU time much less. `--offline-consume-records N` sets the record count.
 */
import {existsSync} from 'node:fs'
import {open, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {BenchOptions} from './run.js'
import {freePort, readUsage, runTool, startServer, stopServer, waitForPort, type ToolResult} from './peers/processes.js'

const RUNS = 3
const RECORDS_DEFAULT = 3_000_000
const VALUE_BYTES = 100
const TOOL_TIMEOUT_MS = 600_000
const SERVER_START_MS = 30_000
const TIME_BIN = '/usr/bin/time'
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const lignumBin = path.join(repoRoot, 'bin', 'run.js')

interface Sample {
  mode: string
  wallSeconds: number
  cliCpuSeconds: number | null
  serverCpuSeconds: number
  records: number
}

export async function run(options: BenchOptions): Promise<unknown> {
  if (!existsSync(path.join(repoRoot, 'dist', 'commands'))) throw new Error('offline-consume runs the built CLI: run "npm run build" first')
  const recordsIndex = options.args.indexOf('--offline-consume-records')
  const records = recordsIndex >= 0 ? Number(options.args[recordsIndex + 1]) : RECORDS_DEFAULT
  const input = path.join(options.scratchDir, 'values.txt')
  await writeValues(input, records)
  const samples: Sample[] = []
  for (let runIndex = 0; runIndex < RUNS; runIndex++) {
    const dataDir = path.join(options.scratchDir, `run-${runIndex}`)
    const grpcPort = await freePort()
    const server = startServer('lignum', process.execPath, [lignumBin, 'serve', '--data-dir', dataDir, '--grpc-port', String(grpcPort), '--http-port', String(await freePort()), '--host', '127.0.0.1', '--flush-policy', 'never', '--log-level', 'warn'], {logPath: path.join(options.scratchDir, `serve-${runIndex}.log`), deadlineMs: TOOL_TIMEOUT_MS * 4})
    try {
      await waitForPort(server, grpcPort, SERVER_START_MS)
      const brokers = `127.0.0.1:${grpcPort}`
      checked('produce', await runTool(process.execPath, [lignumBin, 'produce', '-t', 'bench', '--file', input, '--acks', '1', '-b', brokers], {timeoutMs: TOOL_TIMEOUT_MS}), 0)
      for (const [mode, extra] of [['values', []], ['json', ['--json']]] as const) {
        const before = await readUsage(server.pid)
        const result = await timedCli(['consume', '-t', 'bench', '-e', '-b', brokers, ...extra])
        const after = await readUsage(server.pid)
        samples.push(sampleOf(`server-${mode}`, checked('consume via server', result.tool, records), result.cpuSeconds, after.cpuSeconds - before.cpuSeconds))
      }
    } finally {
      await stopServer(server)
    }
    for (const [mode, extra] of [['values', []], ['json', ['--json']]] as const) {
      const result = await timedCli(['consume', '-t', 'bench', '--data-dir', dataDir, ...extra])
      samples.push(sampleOf(`offline-${mode}`, checked('consume --data-dir', result.tool, records), result.cpuSeconds, 0))
    }
    for (const sample of samples.slice(-4)) options.log(`run ${runIndex + 1} ${sample.mode}: ${sample.wallSeconds.toFixed(2)} s wall, ${sample.cliCpuSeconds?.toFixed(2) ?? '?'} s CLI CPU, ${sample.serverCpuSeconds.toFixed(2)} s server CPU`)
    await rm(dataDir, {recursive: true, force: true})
  }
  const rows = ['server-values', 'offline-values', 'server-json', 'offline-json'].map((mode) => medianRow(mode, samples.filter((sample) => sample.mode === mode)))
  const byMode = Object.fromEntries(rows.map((row) => [row.mode, row]))
  return {
    records,
    valueBytes: VALUE_BYTES,
    runs: RUNS,
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
    rows,
    // Below 1: offline is faster. CPU counts the server's share of the consume through it.
    offlineOverServer: {
      valuesWall: ratio(byMode['offline-values'].wallSeconds, byMode['server-values'].wallSeconds),
      valuesCpu: ratio(byMode['offline-values'].totalCpuSeconds, byMode['server-values'].totalCpuSeconds),
      jsonWall: ratio(byMode['offline-json'].wallSeconds, byMode['server-json'].wallSeconds),
      jsonCpu: ratio(byMode['offline-json'].totalCpuSeconds, byMode['server-json'].totalCpuSeconds),
    },
  }
}

async function writeValues(file: string, records: number): Promise<void> {
  const line = Buffer.from(`${'v'.repeat(VALUE_BYTES - 1)}\n`)
  const block = Buffer.concat(Array.from({length: 10_000}, () => line))
  const handle = await open(file, 'w')
  try {
    for (let written = 0; written < records; written += 10_000) await handle.write(written + 10_000 <= records ? block : block.subarray(0, (records - written) * line.length))
  } finally {
    await handle.close()
  }
}

/** The CLI under /usr/bin/time when it is there, for its CPU seconds; lines counted, not kept. */
async function timedCli(args: string[]): Promise<{tool: ToolResult; cpuSeconds: number | null}> {
  if (!existsSync(TIME_BIN)) return {tool: await runTool(process.execPath, [lignumBin, ...args], {timeoutMs: TOOL_TIMEOUT_MS, stdout: 'count-lines'}), cpuSeconds: null}
  const tool = await runTool(TIME_BIN, ['-f', 'BENCH_TIME %U %S', process.execPath, lignumBin, ...args], {timeoutMs: TOOL_TIMEOUT_MS, stdout: 'count-lines'})
  const match = /BENCH_TIME ([\d.]+) ([\d.]+)/.exec(tool.stderr)
  return {tool, cpuSeconds: match ? Number(match[1]) + Number(match[2]) : null}
}

function checked(what: string, result: ToolResult, lines: number): ToolResult {
  if (result.code !== 0) throw new Error(`${what} exited with ${result.code ?? result.signal}: ${result.stderr.slice(0, 500)}`)
  if (lines > 0 && result.stdoutLines !== lines) throw new Error(`${what} printed ${result.stdoutLines} lines, not ${lines}`)
  return result
}

function sampleOf(mode: string, tool: ToolResult, cliCpuSeconds: number | null, serverCpuSeconds: number): Sample {
  return {mode, wallSeconds: tool.wallSeconds, cliCpuSeconds, serverCpuSeconds, records: tool.stdoutLines}
}

function medianRow(mode: string, samples: Sample[]): {mode: string; records: number; wallSeconds: number; recordsPerSec: number; cliCpuSeconds: number | null; serverCpuSeconds: number; totalCpuSeconds: number} {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
  const wallSeconds = median(samples.map((sample) => sample.wallSeconds))
  const cli = samples.every((sample) => sample.cliCpuSeconds !== null) ? median(samples.map((sample) => sample.cliCpuSeconds as number)) : null
  const server = median(samples.map((sample) => sample.serverCpuSeconds))
  const records = samples[0]?.records ?? 0
  return {mode, records, wallSeconds: round(wallSeconds), recordsPerSec: Math.round(records / wallSeconds), cliCpuSeconds: cli === null ? null : round(cli), serverCpuSeconds: round(server), totalCpuSeconds: round((cli ?? 0) + server)}
}

function ratio(a: number, b: number): number {
  return b > 0 ? Math.round((a / b) * 100) / 100 : 0
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}
