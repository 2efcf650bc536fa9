/**
 * `npm run faults -- [--scenario NAME] [--seed S] [--seeds N] [--jobs J]`: runs each chosen
 * scenario once per seed (S, S+1, … S+N-1) on fresh real clusters sharing one dev Consul, J
 * runs at a time (each its own cluster name, ports and network lab), prints the results table
 * to stdout (progress to stderr) and exits 1 if any acks=all violation was counted or any
 * scenario's expectation failed (a leader scenario whose leadership never moved, …).
 * A run of every scenario writes faults/results/latest.json and latest.md; a run of one
 * scenario writes them into a temporary directory it names, leaving the committed results alone.
 * `--client kafka` drives the load with Kafka's Java KafkaProducer (idempotent, acks=all) through
 * the nodes' Kafka listeners instead of Lignum's client (loopback scenarios only; Kafka's jars
 * from scripts/ensure-peers); its results always go to a temporary directory.
 * `npm run faults -- --rerun-broken [--jobs J]` runs again, on the same seeds, only the runs
 * the committed results list as broken (a run that could not finish is not a checked run), and
 * rewrites the results with them, naming each rerun and why it broke the first time.
 * Nodes run from dist/: `npm run build` first.
 */
import {mkdir, mkdtemp, readFile, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {ConsulAgent, findConsulBinary} from '../test/helpers/consul.js'
import {readInstalledPeer} from '../bench/peers/installed-peers.js'
import type {Scenario} from './scenario.js'
import {scenarioNamed, scenarios} from './scenarios/index.js'
import {renderMarkdown, renderTable, rowViolations, runScenario, summarizeRuns, type RunOptions, type RunResult} from './suite.js'

const LEGEND = [
  'Columns: acknowledged and failed count acks=all writes by the answer the producer got (failed ones may or may not be stored, and count as nothing else).',
  'lost: acknowledged, found nowhere in the leader\'s final log; duplicated: one value at two offsets; changed: an acknowledged offset holding another value;',
  'divergent: offsets below the high watermark where the three replicas\' files differ; non-monotonic: the consumer\'s offsets going back; phantom: the consumer saw a record the final log does not hold there;',
  'single-copy acks: acks=all answered while both followers were frozen, for a record their files did not hold (or one sent after they froze).',
  'expectations failed: what the scenario itself demands and did not see, each failing the run: for a scenario that takes the leader away, that another node led the partition meanwhile and acknowledged writes within 30 s of each fault;',
  'for zombie-leader, that the thawed leader acknowledged none of the writes sent to it directly at its old epoch; for controller-cut-from-consul, that another node became controller and writes were acknowledged after it did.',
  'longest unavailability: the longest gap between acknowledgements from the first fault until the cluster was healthy again.',
  'failover: seconds from a leader\'s failure (kill, SIGSTOP, cut) to the next acknowledged acks=all write, median and worst over every failover of the scenario\'s runs (session TTL 3 s, lock-delay 1 s).',
].join(' ')

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results')

interface Options {
  scenarios: Scenario[]
  seeds: number[]
  jobs: number
  client: 'lignum' | 'kafka'
  /** Only these runs, added to an earlier document's: --rerun-broken. */
  rerun?: {earlier: ResultsDocument; runs: BrokenRun[]}
}

// Each run is four processes (three nodes, a consumer-heavy client) busy on a shared machine:
// more at once than this measures the machine, not the cluster.
const JOBS_MAX = 16

function fail(message: string): never {
  process.stderr.write(`${message}\n`)
  process.exit(2)
}

function parseOptions(args: string[]): Options {
  if (args[0] === '--rerun-broken') {
    if (args.length !== 1 && (args.length !== 3 || args[1] !== '--jobs')) fail('--rerun-broken takes only --jobs J')
    return {scenarios, seeds: [], jobs: jobsOf(args[2]), client: 'lignum'}
  }
  const value = (name: string) => {
    const index = args.indexOf(name)
    if (index < 0) return undefined
    const given = args[index + 1]
    if (given === undefined) fail(`${name} needs a value`)
    return given
  }
  const known = new Set(['--scenario', '--seed', '--seeds', '--jobs', '--client'])
  for (let index = 0; index < args.length; index += 2) {
    if (!known.has(args[index]!)) fail(`unknown option ${args[index]}; use --scenario NAME, --seed S, --seeds N, --jobs J, --client lignum|kafka, or --rerun-broken [--jobs J] alone`)
  }
  const client = value('--client') ?? 'lignum'
  if (client !== 'lignum' && client !== 'kafka') fail(`--client must be lignum or kafka, not ${client}`)
  // Kafka's client runs beside the nodes on loopback; the namespaced scenarios place the clients themselves.
  const offered = client === 'kafka' ? scenarios.filter((scenario) => scenario.network === 'loopback') : scenarios
  const name = value('--scenario')
  const chosen = name === undefined ? offered : [offered.find((scenario) => scenario.name === name) ?? fail(`no scenario ${name}${client === 'kafka' ? ' on loopback, as --client kafka needs' : ''}; choose from ${offered.map((scenario) => scenario.name).join(', ')}`)]
  const seed = Number(value('--seed') ?? 1)
  const count = Number(value('--seeds') ?? 1)
  if (!Number.isInteger(seed) || seed < 0) fail(`--seed must be a whole number, not ${value('--seed')}`)
  if (!Number.isInteger(count) || count < 1) fail(`--seeds must be a whole number of 1 or more, not ${value('--seeds')}`)
  return {scenarios: chosen, seeds: Array.from({length: count}, (_, index) => seed + index), jobs: jobsOf(value('--jobs')), client}
}

function jobsOf(given = '1'): number {
  const jobs = Number(given)
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > JOBS_MAX) fail(`--jobs must be a whole number from 1 to ${JOBS_MAX}, not ${given}`)
  return jobs
}

/** The committed results, and their broken runs to run again. */
async function rerunOptions(jobs: number): Promise<Options> {
  const file = path.join(resultsDir, 'latest.json')
  const earlier = JSON.parse(await readFile(file, 'utf8').catch(() => fail(`--rerun-broken needs ${file}: run the whole suite first`))) as ResultsDocument
  if (earlier.broken.length === 0) fail(`no broken runs in ${file}: nothing to run again`)
  const runs = earlier.broken.map((run) => ({...run, reason: withoutScratchPaths(run.reason)}))
  return {scenarios, seeds: earlier.seeds, jobs, client: 'lignum', rerun: {earlier, runs}}
}

/** Runs `tasks` with at most `jobs` at once; results in the order of `tasks`. */
async function inPool<T>(tasks: (() => Promise<T>)[], jobs: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length)
  let next = 0
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++
      results[index] = await tasks[index]!()
    }
  }
  await Promise.all(Array.from({length: Math.min(jobs, tasks.length)}, worker))
  return results
}

/** What runScenario is told about the client: Kafka's jars found where scripts/ensure-peers put them, or a failure saying so. */
async function runOptionsFor(client: Options['client']): Promise<RunOptions> {
  if (client === 'lignum') return {}
  const peer = await readInstalledPeer('kafka')
  if (typeof peer === 'string') fail(`--client kafka needs Kafka's jars (scripts/ensure-peers kafka installs them) and Java 17: Kafka is ${peer}`)
  return {client: {kafka: {libDir: path.join(peer.detail, 'lib')}}}
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2))
  const options = process.argv[2] === '--rerun-broken' ? await rerunOptions(parsed.jobs) : parsed
  const runOptions = await runOptionsFor(options.client)
  const found = await findConsulBinary()
  if (!found.path) fail(`the fault suite needs Consul: ${found.missingReason}; install Go or set LIGNUM_CONSUL_BIN`)
  const consul = await ConsulAgent.start(found.path, 'dev')
  const stopOnSignal = () => void consul.destroy().finally(() => process.exit(130))
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  // The committed results are the Lignum client's, over every scenario.
  const full = options.scenarios.length === scenarios.length && options.client === 'lignum'
  const outDir = full ? resultsDir : await mkdtemp(path.join(os.tmpdir(), 'lignum-faults-'))
  await mkdir(outDir, {recursive: true})
  const planned = options.scenarios.length * options.seeds.length
  const finished: RunResult[] = [...(options.rerun?.earlier.runs ?? [])]
  let written = Promise.resolve()
  const broken: BrokenRun[] = []
  // Seed by seed, each seed's runs for every scenario: a run stopped early has whole seeds.
  const chosen = options.rerun
    ? options.rerun.runs.map((run) => ({seed: run.seed, scenario: scenarioNamed(run.scenario) ?? fail(`the results name a scenario ${run.scenario} this suite does not have`)}))
    : options.seeds.flatMap((seed) => options.scenarios.map((scenario) => ({seed, scenario})))
  const tasks = chosen.map(({seed, scenario}) => async () => {
    let run: RunResult
    try {
      run = await runScenario({url: consul.url, binary: found.path!}, scenario, seed, (text) => process.stderr.write(`${text}\n`), runOptions)
    } catch (error) {
      // A run that cannot finish (a cluster that never became healthy, a process that would not
      // start) fails the suite, but the other runs go on and are reported.
      const reason = withoutScratchPaths(error instanceof Error ? error.message.split('\n')[0]! : String(error))
      process.stderr.write(`${scenario.name} seed ${seed}: RUN BROKEN: ${reason}\n`)
      broken.push({scenario: scenario.name, seed, reason})
      written = written.then(() => writeResults(outDir, options, finished, broken, planned))
      await written
      return
    }
    const examples = Object.entries(run.result.examples).map(([kind, listed]) => `\n  ${kind}: ${listed.join(' | ')}`).join('')
    process.stderr.write(`${scenario.name} seed ${seed}: ${JSON.stringify(run.result.violations)} acknowledged ${run.result.acknowledged}, ${run.durationSeconds.toFixed(0)} s; ${run.notes.join('; ')}${examples}\n`)
    finished.push(run)
    // Written after every run, so a long run stopped part way still leaves what it found.
    written = written.then(() => writeResults(outDir, options, finished, broken, planned))
    await written
  })
  try {
    await inPool(tasks, options.jobs)
  } finally {
    await consul.destroy()
  }
  const rows = summarizeRuns(ordered(finished, options))
  process.stdout.write(`${renderTable(rows)}\n`)
  process.stderr.write(`wrote ${path.join(outDir, 'latest.json')} and latest.md${full ? '' : ' (not every scenario: faults/results/ left alone)'}\n`)
  for (const run of broken) process.stderr.write(`run broken: ${run.scenario} seed ${run.seed}: ${run.reason}\n`)
  const violations = rows.reduce((sum, row) => sum + rowViolations(row), 0) + broken.length
  if (violations > 0) process.stderr.write(`${violations} acks=all violations or failed expectations: see the table and the examples and EXPECTATION FAILED notes above\n`)
  return violations > 0 ? 1 : 0
}

/** A reason as committed results may hold it: a run's scratch directories (node data, kept logs) named, not their paths. */
function withoutScratchPaths(reason: string): string {
  return reason.replaceAll(new RegExp(`${os.tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/lignum-[A-Za-z0-9_-]+`, 'g'), '<scratch directory>')
}

/** Runs in table order: by scenario, then seed, whatever order they finished in. */
function ordered(runs: RunResult[], options: Options): RunResult[] {
  const rank = (run: RunResult) => options.scenarios.findIndex((scenario) => scenario.name === run.scenario) * 1e9 + run.seed
  return [...runs].sort((a, b) => rank(a) - rank(b))
}

/** A run that threw before it could be checked. */
interface BrokenRun {
  scenario: string
  seed: number
  reason: string
}

/** What latest.json holds. */
interface ResultsDocument {
  date: string
  machine: {cpus: number; kernel: string; node: string}
  seeds: number[]
  runsPlanned: number
  rows: ReturnType<typeof summarizeRuns>
  runs: RunResult[]
  broken: BrokenRun[]
  /** Runs that broke in the first pass and were run again by --rerun-broken, with the first reason. */
  reruns?: BrokenRun[]
}

async function writeResults(outDir: string, options: Options, finished: RunResult[], broken: BrokenRun[], planned: number): Promise<void> {
  const runs = ordered(finished, options)
  const rows = summarizeRuns(runs)
  const rerunsNow = options.rerun?.runs ?? []
  const reruns = [...(options.rerun?.earlier.reruns ?? []), ...rerunsNow]
  // A rerun not yet finished still counts as broken, with its first reason.
  const pending = rerunsNow.filter((run) => !finished.some((done) => done.scenario === run.scenario && done.seed === run.seed) && !broken.some((again) => again.scenario === run.scenario && again.seed === run.seed))
  const stillBroken = [...broken, ...pending]
  const done = runs.length + stillBroken.length
  const progress = done < planned ? `, ${done} of ${planned} runs done (the run is still going or was stopped)` : ''
  const document: ResultsDocument = {date: new Date().toISOString(), machine: {cpus: os.cpus().length, kernel: `${os.type()} ${os.release()}`, node: process.version}, seeds: options.seeds, runsPlanned: planned, rows, runs, broken: stillBroken, ...(reruns.length > 0 ? {reruns} : {})}
  await writeFile(path.join(outDir, 'latest.json'), `${JSON.stringify(document, null, 2)}\n`)
  const markdown = `# Fault suite results\n\n${document.date}, seeds ${options.seeds[0]}–${options.seeds.at(-1)}${progress}, ${document.machine.cpus} CPUs, ${document.machine.kernel}, node ${document.machine.node}.\n\n${renderMarkdown(rows)}\n\n${stillBroken.length > 0 ? `Runs that broke before they could be checked (each fails the suite): ${stillBroken.map((run) => `${run.scenario} seed ${run.seed}: ${run.reason}`).join('; ')}.\n\n` : ''}${reruns.length > 0 ? `Runs that broke before they could be checked and were run again on the same seed (\`npm run faults -- --rerun-broken\`), with why they broke the first time: ${reruns.map((run) => `${run.scenario} seed ${run.seed}: ${run.reason}`).join('; ')}.\n\n` : ''}${LEGEND}\n\nPer run (what each seed chose):\n\n${runs.map((run) => `- ${run.scenario} seed ${run.seed}: ${run.notes.join('; ')}`).join('\n')}\n`
  await writeFile(path.join(outDir, 'latest.md'), markdown)
}

main().then((code) => process.exit(code), (error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
