/**
 * The `e2e` part of `npm run bench` (issue 3): a standalone `lignum serve`, then
 * `lignum produce --acks 1` of 1M 100-byte lines from a file and `lignum consume -e` of the
 * same records, each three times on a fresh server; medians of records/s and MB/s, and the
 * server's peak RSS, beside the targets. It reuses the peer benchmark's Lignum adapter and
 * process accounting, so both parts measure Lignum the same way.
 */
import {mkdir, rm} from 'node:fs/promises'
import path from 'node:path'
import type {BenchOptions} from './run.js'
import {lignumSystem} from './peers/lignum.js'
import {readUsage, resetPeakRss} from './peers/processes.js'
import {buildWorkloads, durabilities, type Measurement} from './peers/workloads.js'

const RUNS = 3
// Issue 3's targets on the project's 2-core machines.
const TARGET_PRODUCE_RECORDS_PER_SECOND = 500_000
const TARGET_CONSUME_RECORDS_PER_SECOND = 1_000_000
const TARGET_SERVER_RSS_MB = 200
const WORKLOAD_NAMES = new Set(['produce-100B-acks1', 'consume-100B'])

interface Row {
  workload: string
  recordsPerSec: number
  mbPerSec: number
  serverPeakRssMb: number
}

export async function run(options: BenchOptions): Promise<unknown> {
  const scaleIndex = options.args.indexOf('--e2e-scale')
  const scale = scaleIndex >= 0 ? Number(options.args[scaleIndex + 1]) : 1
  const workloads = buildWorkloads({scale, latencySeconds: 1}).filter((workload) => WORKLOAD_NAMES.has(workload.name))
  const system = lignumSystem(options.scratchDir)
  const samples: Row[] = []
  try {
    // Builds the private copy of Lignum the adapter runs (or says why it cannot).
    const unavailable = await system.unavailableReason()
    if (unavailable) throw new Error(`cannot run Lignum: ${unavailable}`)
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      const dataDir = path.join(options.scratchDir, `run-${runIndex}`)
      await mkdir(dataDir, {recursive: true})
      const running = await system.start(dataDir, durabilities['os-writeback'])
      try {
        for (const workload of workloads) {
          await running.run(workload, async (name, drive) => {
            if (name.endsWith('-library')) return
            await resetPeakRss(running.pid)
            const measurement: Measurement = await drive()
            const usage = await readUsage(running.pid)
            samples.push({workload: name, recordsPerSec: measurement.records / measurement.seconds, mbPerSec: measurement.bytes / measurement.seconds / 1e6, serverPeakRssMb: usage.peakRssBytes / 2 ** 20})
            options.log(`${name} run ${runIndex + 1}: ${Math.round(measurement.records / measurement.seconds)} records/s`)
          })
        }
      } finally {
        await running.stop()
        await rm(dataDir, {recursive: true, force: true})
      }
    }
  } finally {
    await system.cleanup?.()
  }
  const rows = [...WORKLOAD_NAMES].map((workload) => medianRow(workload, samples.filter((sample) => sample.workload === workload)))
  const produce = rows[0]
  const consume = rows[1]
  const peakRssMb = Math.max(...samples.map((sample) => sample.serverPeakRssMb))
  return {
    scale,
    runs: RUNS,
    rows,
    serverPeakRssMb: round(peakRssMb),
    targets: {
      produceRecordsPerSec: {target: TARGET_PRODUCE_RECORDS_PER_SECOND, reached: produce.recordsPerSec >= TARGET_PRODUCE_RECORDS_PER_SECOND},
      consumeRecordsPerSec: {target: TARGET_CONSUME_RECORDS_PER_SECOND, reached: consume.recordsPerSec >= TARGET_CONSUME_RECORDS_PER_SECOND},
      serverRssMb: {target: TARGET_SERVER_RSS_MB, reached: peakRssMb <= TARGET_SERVER_RSS_MB},
    },
  }
}

function medianRow(workload: string, rows: Row[]): Row {
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
  return {
    workload,
    recordsPerSec: Math.round(median(rows.map((row) => row.recordsPerSec))),
    mbPerSec: round(median(rows.map((row) => row.mbPerSec))),
    serverPeakRssMb: round(median(rows.map((row) => row.serverPeakRssMb))),
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10
}
