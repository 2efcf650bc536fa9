/**
 * `npm run simulate -- --seeds N [--seed S] [--replicas 3|5] [--json] [--disk-faults] [--sabotage KIND] [--workers W] [--replays K]`:
 * runs seeds S, S+1, ... S+N-1 through the deterministic simulator, spread over W worker
 * threads (default: one per core), each K times (default 1; more compares the schedules, a
 * difference is a failure), and prints each failing seed, with its schedule, and a summary.
 * Exit 1 when a seed broke an invariant, 2 on a usage error.
 */
import os from 'node:os'
import {runSeeds} from './seed-runs.js'
import type {SimulationOptions, SimulationResult} from './simulation.js'

// More replays than this is a typo more likely than a wish: each one is a full run.
const REPLAYS_MAX = 1000

interface Arguments {
  seeds: number
  seed: number
  replicas: 3 | 5
  json: boolean
  sabotage?: SimulationOptions['sabotage']
  diskFaults: boolean
  scheduleLines: number
  workers: number
  replays: number
}

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run simulate -- --seeds N [--seed S] [--replicas 3|5] [--json] [--disk-faults] [--sabotage KIND] [--workers W] [--replays K]\n`)
  process.exit(2)
}

function parse(argv: string[]): Arguments {
  const parsed: Arguments = {seeds: 1, seed: 1, replicas: 3, json: false, diskFaults: false, scheduleLines: 400, workers: os.availableParallelism(), replays: 1}
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index]
    const value = () => {
      const next = argv[++index]
      if (next === undefined || !/^\d+$/.test(next)) usage(`${flag} needs a whole number, got ${next ?? 'nothing'}`)
      return Number(next)
    }
    if (flag === '--seeds') parsed.seeds = value()
    else if (flag === '--seed') parsed.seed = value()
    else if (flag === '--replicas') {
      const replicas = value()
      if (replicas !== 3 && replicas !== 5) usage(`--replicas takes 3 or 5, got ${replicas}`)
      parsed.replicas = replicas
    } else if (flag === '--schedule-lines') parsed.scheduleLines = value()
    else if (flag === '--workers') parsed.workers = value()
    else if (flag === '--replays') parsed.replays = value()
    else if (flag === '--json') parsed.json = true
    else if (flag === '--disk-faults') parsed.diskFaults = true
    else if (flag === '--sabotage') {
      const kind = argv[++index]
      if (kind !== 'leader-high-watermark-at-own-log-end' && kind !== 'follower-skips-truncation') usage(`--sabotage takes leader-high-watermark-at-own-log-end or follower-skips-truncation, got ${kind ?? 'nothing'}`)
      parsed.sabotage = kind
    }
    else usage(`unknown flag ${flag}`)
  }
  if (parsed.seeds < 1) usage('--seeds must be at least 1')
  if (parsed.workers < 1) usage('--workers must be at least 1')
  if (parsed.replays < 1 || parsed.replays > REPLAYS_MAX) usage(`--replays takes 1 to ${REPLAYS_MAX}, got ${parsed.replays}`)
  return parsed
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2))
  const startedMs = Date.now()
  const failures: SimulationResult[] = []
  let events = 0
  let acknowledged = 0
  let staleAcks = 0
  let leaderChanges = 0
  let crashes = 0
  const seeds = Array.from({length: args.seeds}, (_, index) => args.seed + index)
  const workers = Math.min(args.workers, seeds.length * args.replays)
  const outcomes = await runSeeds({seeds, job: {replicas: args.replicas, sabotage: args.sabotage, diskFaults: args.diskFaults}, workers, replays: args.replays})
  for (const {result} of outcomes) {
    events += result.events
    acknowledged += result.acknowledged
    staleAcks += result.staleAcks
    leaderChanges += result.leaderChanges
    crashes += result.crashes
    if (result.violations.length > 0) {
      failures.push(result)
      if (!args.json) printFailure(result, args.scheduleLines)
    }
  }
  const elapsedMs = Date.now() - startedMs
  const summary = {
    seeds: args.seeds,
    firstSeed: args.seed,
    replicas: args.replicas,
    workers,
    replays: args.replays,
    failed: failures.map((failure) => ({seed: failure.seed, violations: failure.violations})),
    events,
    acknowledged,
    staleAcks,
    leaderChanges,
    crashes,
    elapsedMs,
    seedsPerMinute: Math.round((args.seeds * args.replays * 60_000) / Math.max(elapsedMs, 1)),
  }
  if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
  else {
    process.stdout.write(`${args.seeds} seed(s) from ${args.seed}, ${args.replicas} replicas${args.replays > 1 ? `, each run ${args.replays} times` : ''}: ${failures.length} failed; ${events} events, ${acknowledged} acknowledged records (${staleAcks} by a deposed leader), ${leaderChanges} elections, ${crashes} crashes, ${(elapsedMs / 1000).toFixed(1)} s (${summary.seedsPerMinute} runs/min on ${workers} worker${workers === 1 ? '' : 's'})\n`)
  }
  process.exitCode = failures.length > 0 ? 1 : 0
}

function printFailure(result: SimulationResult, scheduleLines: number): void {
  process.stdout.write(`seed ${result.seed} (${result.replicas} replicas) FAILED after ${result.events} events:\n`)
  for (const violation of result.violations) process.stdout.write(`  ${violation}\n`)
  const tail = scheduleLines > 0 ? result.schedule.slice(-scheduleLines) : []
  process.stdout.write(`  schedule (last ${tail.length} of ${result.schedule.length} lines; replay: npm run simulate -- --seed ${result.seed} --replicas ${result.replicas} --schedule-lines ${result.schedule.length}):\n`)
  for (const line of tail) process.stdout.write(`    ${line}\n`)
}

await main()
