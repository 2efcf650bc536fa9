/**
 * `npm run bench [-- --only NAME[,NAME]] [-- --peers] [-- --replicated] [-- --failover] [-- --tls] [-- --kafka-perf]`: runs the benchmark parts in order and
 * prints one JSON document on stdout ({machine, date, parts: {name: result}}); progress goes
 * to stderr. Each part lives in its own file and exports `run(options)`. Targets are checked
 * here and reported as data, never as test failures: absolute times drift on shared machines.
 */
import os from 'node:os'
import {mkdir, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export interface BenchOptions {
  /** A scratch directory the part may fill and must not expect to persist. */
  scratchDir: string
  log: (line: string) => void
  args: string[]
}

export interface BenchPart {
  name: string
  /** Runs only when asked for by name or by its flag (for slow parts such as peers). */
  optIn?: string
  load: () => Promise<{run: (options: BenchOptions) => Promise<unknown>}>
}

// Parts are added here as they are written, in the order they should run.
const parts: BenchPart[] = [
  {name: 'engine', load: () => import('./engine.js')},
  {name: 'e2e', load: () => import('./e2e.js')},
  {name: 'cluster', load: () => import('./cluster.js')},
  {name: 'peers', optIn: '--peers', load: () => import('./peers.js')},
  {name: 'replicated', optIn: '--replicated', load: () => import('./replicated.js')},
  {name: 'failover', optIn: '--failover', load: () => import('./failover.js')},
  {name: 'tls', optIn: '--tls', load: () => import('./tls.js')},
  {name: 'codecs', load: () => import('./codecs.js')},
  {name: 'offline-consume', optIn: '--offline-consume', load: () => import('./offline-consume.js')},
  {name: 'kafka-perf', optIn: '--kafka-perf', load: () => import('./kafka-perf.js')},
]

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const onlyIndex = args.indexOf('--only')
  const only = onlyIndex >= 0 ? new Set(args[onlyIndex + 1]?.split(',')) : null
  const benchDir = path.dirname(fileURLToPath(import.meta.url))
  const scratchRoot = path.join(os.tmpdir(), `lignum-bench-${process.pid}`)
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`)
  const results: Record<string, unknown> = {}
  for (const part of parts) {
    const wanted = only ? only.has(part.name) : !part.optIn || args.includes(part.optIn)
    if (!wanted) continue
    log(`part ${part.name}`)
    const scratchDir = path.join(scratchRoot, part.name)
    await mkdir(scratchDir, {recursive: true})
    const module = await part.load()
    results[part.name] = await module.run({scratchDir, log, args})
  }
  const document = {
    machine: {cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryBytes: os.totalmem(), node: process.version},
    date: new Date().toISOString(),
    parts: results,
  }
  const text = JSON.stringify(document, null, 2)
  await mkdir(path.join(benchDir, 'results'), {recursive: true})
  await writeFile(path.join(benchDir, 'results', 'last-run.json'), text + '\n')
  process.stdout.write(text + '\n')
}

await main()
