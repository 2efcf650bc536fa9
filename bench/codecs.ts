/**
 * The `codecs` part of `npm run bench` (issue 12): produce and consume throughput per
 * compression codec (none, gzip, snappy, lz4, zstd) through the CLI against one standalone
 * `lignum serve`: `lignum produce --acks 1 --compression C --file F` and `lignum consume -e`
 * of the same records, per codec on its own topic, every run on a fresh server; the codecs'
 * order rotates each run. Rows are medians of the runs (process wall time, CLI start-up
 * included, as the e2e part measures), with the bytes the partition stores.
 *
 * The records are JSON-like lines (fields repeat, ids and numbers vary), the kind of data a
 * codec is chosen for; random letters would only measure each codec's worst case.
 * Options: --codecs-runs N (3), --codecs-records N (500000). Writes its section into
 * bench/results/latest.{json,md} on a run of the defaults or more; others into scratch.
 */
import {createWriteStream} from 'node:fs'
import {mkdir, readdir, rm, stat} from 'node:fs/promises'
import {once} from 'node:events'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {BenchOptions} from './run.js'
import {buildLignum} from './peers/lignum-build.js'
import {cli, startLignum} from './peers/lignum.js'
import {assertToolSucceeded, stopAllServers} from './peers/processes.js'
import {writeSection} from './peers/result-sections.js'
import {durabilities} from './peers/workloads.js'

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results')
export const sectionName = 'codecs'
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
type Codec = (typeof CODECS)[number]
const RUNS_DEFAULT = 3
const RECORDS_DEFAULT = 500_000

interface Sample {
  run: number
  codec: Codec
  produceRecordsPerSec: number
  produceMbPerSec: number
  consumeRecordsPerSec: number
  storedBytes: number
}

interface Row {
  codec: Codec
  produceRecordsPerSec: number
  produceMbPerSec: number
  consumeRecordsPerSec: number
  consumeMbPerSec: number
  storedBytes: number
  /** Input bytes ÷ stored bytes. */
  ratio: number
}

function option(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(name)
  const value = index >= 0 ? Number(args[index + 1]) : fallback
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number of at least 1, not ${args[index + 1]}`)
  return value
}

/** `records` JSON-like lines; returns the file and its bytes without newlines. */
async function writeInput(dir: string, records: number): Promise<{file: string; bytes: number}> {
  const file = path.join(dir, `codecs-input-${records}.jsonl`)
  const out = createWriteStream(file)
  const events = ['click', 'view', 'purchase', 'signup', 'logout']
  let bytes = 0
  let seed = 42
  const random = (below: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed % below
  }
  for (let written = 0; written < records; written += 10_000) {
    const lines: string[] = []
    for (let index = written; index < Math.min(records, written + 10_000); index++) {
      const line = `{"id":${index},"user":"u${random(50_000)}","event":"${events[random(events.length)]}","page":"/p/${random(2000)}","ms":${random(100_000)}}`
      bytes += line.length
      lines.push(line)
    }
    if (!out.write(lines.join('\n') + '\n')) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  return {file, bytes}
}

async function storedBytes(partitionDir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(partitionDir)) if (name.endsWith('.log')) total += (await stat(path.join(partitionDir, name))).size
  return total
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export async function run(options: BenchOptions): Promise<unknown> {
  const runs = option(options.args, '--codecs-runs', RUNS_DEFAULT)
  const records = option(options.args, '--codecs-records', RECORDS_DEFAULT)
  const build = await buildLignum(options.scratchDir)
  const input = await writeInput(options.scratchDir, records)
  const samples: Sample[] = []
  try {
    for (let runIndex = 0; runIndex < runs; runIndex++) {
      const dataDir = path.join(options.scratchDir, `run-${runIndex + 1}`)
      await rm(dataDir, {recursive: true, force: true})
      await mkdir(dataDir, {recursive: true})
      const running = await startLignum(build, options.scratchDir, dataDir, durabilities['os-writeback'])
      try {
        const order = CODECS.map((_, index) => CODECS[(index + runIndex) % CODECS.length]!)
        for (const codec of order) {
          const topic = `codec-${codec}`
          const produced = await cli(build, ['produce', '-t', topic, '--acks', '1', '--compression', codec, '--file', input.file, '--brokers', running.address!])
          assertToolSucceeded(`lignum produce --compression ${codec}`, produced)
          const consumed = await cli(build, ['consume', '-t', topic, '--from', 'beginning', '-e', '--brokers', running.address!], 'count-lines')
          assertToolSucceeded(`lignum consume (${codec})`, consumed)
          if (consumed.stdoutLines !== records) throw new Error(`lignum consume printed ${consumed.stdoutLines} lines of ${codec}, expected ${records}`)
          const sample: Sample = {
            run: runIndex + 1, codec,
            produceRecordsPerSec: records / produced.wallSeconds,
            produceMbPerSec: input.bytes / produced.wallSeconds / 1e6,
            consumeRecordsPerSec: records / consumed.wallSeconds,
            storedBytes: await storedBytes(path.join(dataDir, 'data', `${topic}-0`)),
          }
          samples.push(sample)
          options.log(`codecs run ${runIndex + 1}/${runs}: ${codec}: produce ${Math.round(sample.produceRecordsPerSec)} records/s, consume ${Math.round(sample.consumeRecordsPerSec)} records/s, ${sample.storedBytes} bytes stored`)
        }
      } finally {
        await running.stop()
        await rm(dataDir, {recursive: true, force: true})
      }
    }
  } finally {
    await stopAllServers()
    await rm(build.root, {recursive: true, force: true})
    await rm(input.file, {force: true})
  }
  const rows: Row[] = CODECS.map((codec) => {
    const mine = samples.filter((sample) => sample.codec === codec)
    const consumeRecordsPerSec = median(mine.map((sample) => sample.consumeRecordsPerSec))
    const stored = median(mine.map((sample) => sample.storedBytes))
    return {
      codec,
      produceRecordsPerSec: median(mine.map((sample) => sample.produceRecordsPerSec)),
      produceMbPerSec: median(mine.map((sample) => sample.produceMbPerSec)),
      consumeRecordsPerSec,
      consumeMbPerSec: (consumeRecordsPerSec * input.bytes) / records / 1e6,
      storedBytes: stored,
      ratio: input.bytes / stored,
    }
  })
  const results = {
    machine: {cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryBytes: os.totalmem(), node: process.version},
    date: new Date().toISOString(),
    command: `npm run bench -- --only codecs${options.args.filter((arg) => arg !== '--only' && arg !== 'codecs').map((arg) => ` ${arg}`).join('')}`,
    settings: `one standalone lignum serve (os-writeback), fresh per run; ${records} JSON-like records of ${Math.round(input.bytes / records)} B on average (${input.bytes} B); lignum produce --acks 1 --compression C --file, then lignum consume --from beginning -e; ${runs} runs, codec order rotated each run; process wall time, CLI start-up included`,
    rows,
    samples,
  }
  const full = runs >= RUNS_DEFAULT && records >= RECORDS_DEFAULT
  const outDir = full ? resultsDir : options.scratchDir
  await mkdir(outDir, {recursive: true})
  await writeSection(path.join(outDir, 'latest.json'), path.join(outDir, 'latest.md'), sectionName, results, renderMarkdown(results))
  options.log(`codecs: wrote the "${sectionName}" section of ${path.join(outDir, 'latest.json')} and latest.md`)
  return results
}

function renderMarkdown(results: {date: string; command: string; settings: string; rows: Row[]}): string {
  const lines = [
    '## Compression codecs: produce and consume per codec',
    '',
    `${results.date}, \`${results.command}\`. ${results.settings}. Medians of the runs.`,
    '',
    '| codec | produce records/s | produce MB/s | consume records/s | consume MB/s | stored bytes | input ÷ stored |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.rows.map((row) => `| ${row.codec} | ${Math.round(row.produceRecordsPerSec).toLocaleString('en-US')} | ${row.produceMbPerSec.toFixed(1)} | ${Math.round(row.consumeRecordsPerSec).toLocaleString('en-US')} | ${row.consumeMbPerSec.toFixed(1)} | ${row.storedBytes.toLocaleString('en-US')} | ${row.ratio.toFixed(2)} |`),
  ]
  return lines.join('\n')
}
