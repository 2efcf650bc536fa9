/**
 * Running many seeds: inline, or spread over worker threads (one per core), each seed run
 * `replays` times with the schedules compared by digest. The outcomes come back in seed
 * order whatever finished first, so the report of a set of seeds is the same on every run.
 *
 * Invariant: a seed's outcome depends on the seed and options alone, not on which worker ran
 * it or what ran before it there (simulation.ts's determinism); a replay whose digest differs
 * from the first run's is itself reported as a failure.
 */
import {createHash} from 'node:crypto'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {simulate, type SimulationOptions, type SimulationResult} from './simulation.js'

export interface SeedJob {
  seed: number
  replicas: 3 | 5
  sabotage?: SimulationOptions['sabotage']
  diskFaults?: boolean
}

/** A seed's result, with its schedule only when it failed (schedules are large, and only a failure prints one). */
export interface SeedOutcome {
  result: Omit<SimulationResult, 'schedule'> & {schedule: string[]}
  scheduleDigest: string
  scheduleLines: number
}

export async function runJob(job: SeedJob): Promise<SeedOutcome> {
  const result = await simulate(job.seed, job.replicas, {sabotage: job.sabotage, diskFaults: job.diskFaults})
  const scheduleDigest = digestOf(result.schedule)
  const scheduleLines = result.schedule.length
  return {result: {...result, schedule: result.violations.length > 0 ? result.schedule : []}, scheduleDigest, scheduleLines}
}

export function digestOf(schedule: readonly string[]): string {
  // One update of every line and its newline: the same digest as a line at a time, in one call.
  return createHash('sha256').update(schedule.length === 0 ? '' : `${schedule.join('\n')}\n`).digest('hex').slice(0, 16)
}

export interface SeedRunsOptions {
  seeds: number[]
  job: Omit<SeedJob, 'seed'>
  /** Worker threads; 1 runs every seed in this thread. */
  workers: number
  /** Runs of each seed; more than one compares their schedules. */
  replays: number
}

/** Every seed's first outcome, in seed order, with a violation added where a replay's schedule differed. */
export async function runSeeds(options: SeedRunsOptions): Promise<SeedOutcome[]> {
  const jobs = options.seeds.flatMap((seed) => Array.from({length: options.replays}, () => ({...options.job, seed})))
  const outcomes = options.workers <= 1 ? await runInline(jobs) : await runInWorkers(jobs, options.workers)
  const bySeed = new Map<number, SeedOutcome[]>()
  for (const outcome of outcomes) bySeed.set(outcome.result.seed, [...(bySeed.get(outcome.result.seed) ?? []), outcome])
  return options.seeds.map((seed) => {
    const [first, ...replays] = bySeed.get(seed) as SeedOutcome[]
    const differing = replays.filter((replay) => replay.scheduleDigest !== first.scheduleDigest)
    if (differing.length === 0) return first
    const runs = [first, ...replays].map((run) => `${run.scheduleDigest} (${run.scheduleLines} lines)`).join(', ')
    return {...first, result: {...first.result, violations: [...first.result.violations, `replay: ${differing.length} of ${replays.length} replays differ from the first run: ${runs}`]}}
  })
}

async function runInline(jobs: SeedJob[]): Promise<SeedOutcome[]> {
  const outcomes: SeedOutcome[] = []
  for (const job of jobs) outcomes.push(await runJob(job))
  return outcomes
}

// The worker beside this module: as TypeScript under tsx (npm run simulate), or as built JavaScript.
const WORKER_URL = new URL(`./sim-worker${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url)

/** tsx loads TypeScript through hooks it registers in this thread only: a worker of a .ts module registers them first. */
function startWorker(): Worker {
  if (!WORKER_URL.pathname.endsWith('.ts')) return new Worker(WORKER_URL)
  const bootstrap = `import {register} from 'tsx/esm/api'; register(); await import(${JSON.stringify(WORKER_URL.href)})`
  return new Worker(bootstrap, {eval: true})
}

function runInWorkers(jobs: SeedJob[], workerCount: number): Promise<SeedOutcome[]> {
  return new Promise((resolve, reject) => {
    const outcomes: SeedOutcome[] = []
    const workers: Worker[] = []
    let next = 0
    const finish = (error?: Error) => {
      for (const worker of workers) void worker.terminate()
      if (error) reject(error)
      else resolve(outcomes)
    }
    const feed = (worker: Worker) => {
      if (next < jobs.length) worker.postMessage(jobs[next++])
      else if (outcomes.length === jobs.length) finish()
    }
    for (let index = 0; index < Math.min(workerCount, jobs.length); index++) {
      const worker = startWorker()
      workers.push(worker)
      worker.on('message', (outcome: SeedOutcome) => {
        outcomes.push(outcome)
        feed(worker)
      })
      worker.on('error', (error) => finish(error))
      feed(worker)
    }
  })
}
