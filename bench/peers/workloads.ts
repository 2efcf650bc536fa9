/**
 * The workloads of issue 5, the same for every system, and the shapes the system adapters
 * (lignum.ts, kafka.ts, nats.ts) and the runner (../peers.ts) exchange. A workload names
 * its topic, so a consume workload reads what the matching acks=1 produce workload wrote
 * earlier in the same run.
 */

export type Acks = '1' | 'all'

export interface ProduceWorkload {
  kind: 'produce'
  name: string
  topic: string
  records: number
  recordBytes: number
  acks: Acks
}

export interface ConsumeWorkload {
  kind: 'consume'
  name: string
  /** Written by the produce workload with the same record size and acks=1. */
  topic: string
  records: number
  recordBytes: number
}

export interface LatencyWorkload {
  kind: 'latency'
  name: string
  topic: string
  recordBytes: number
  ratePerSecond: number
  records: number
  acks: Acks
}

export type Workload = ProduceWorkload | ConsumeWorkload | LatencyWorkload

/** What one load tool measured for one workload; the runner adds the server's usage. */
export interface Measurement {
  workload: string
  /** The tool that generated the load, e.g. `lignum produce (CLI)`, `ProducerPerformance`. */
  driver: string
  records: number
  bytes: number
  /** The time the rate is computed over (see `timing`). */
  seconds: number
  /** What `seconds` covers: the whole process, or the tool's own measured interval. */
  timing: 'process wall time' | 'tool-reported'
  /** For a CLI timed over its whole process: the wall time of the same command's --help, its start-up cost. */
  cliStartupSeconds?: number
  p50Ms?: number
  p99Ms?: number
}

export interface Durability {
  name: 'os-writeback' | 'fsync'
  description: string
}

export const durabilities: Record<Durability['name'], Durability> = {
  'os-writeback': {
    name: 'os-writeback',
    description: 'acknowledged once in the page cache; the OS or a background timer writes it back (each system\'s default class)',
  },
  fsync: {
    name: 'fsync',
    description: 'fdatasync on every append before acknowledging',
  },
}

export interface WorkloadScale {
  /** Multiplies the record counts (1 = the sizes; smaller for a quick check). */
  scale: number
  latencySeconds: number
}

/** The sizes: 1M records of 100 B, 200k of 1 KiB; latency at 10k records/s. */
const smallRecordCount = 1_000_000
const largeRecordCount = 200_000
const smallRecordBytes = 100
const largeRecordBytes = 1024
const latencyRatePerSecond = 10_000

function sizeLabel(recordBytes: number): string {
  return recordBytes >= 1024 ? `${recordBytes / 1024}KiB` : `${recordBytes}B`
}

export function buildWorkloads({scale, latencySeconds}: WorkloadScale): Workload[] {
  const sizes = [
    {recordBytes: smallRecordBytes, records: Math.max(1, Math.round(smallRecordCount * scale))},
    {recordBytes: largeRecordBytes, records: Math.max(1, Math.round(largeRecordCount * scale))},
  ]
  const produces: ProduceWorkload[] = []
  const consumes: ConsumeWorkload[] = []
  for (const {recordBytes, records} of sizes) {
    for (const acks of ['1', 'all'] as const) {
      const name = `produce-${sizeLabel(recordBytes)}-acks${acks}`
      produces.push({kind: 'produce', name, topic: `bench-${sizeLabel(recordBytes)}-acks${acks}`, records, recordBytes, acks})
    }
    consumes.push({kind: 'consume', name: `consume-${sizeLabel(recordBytes)}`, topic: `bench-${sizeLabel(recordBytes)}-acks1`, records, recordBytes})
  }
  const latency: LatencyWorkload = {
    kind: 'latency',
    name: `latency-${sizeLabel(smallRecordBytes)}-${latencyRatePerSecond / 1000}k-per-s-acksall`,
    topic: 'bench-latency',
    recordBytes: smallRecordBytes,
    ratePerSecond: latencyRatePerSecond,
    records: Math.round(latencyRatePerSecond * latencySeconds),
    acks: 'all',
  }
  return [...produces, ...consumes, latency]
}

/**
 * Fsync-per-append runs at this fraction of the records: a system that syncs every message
 * (NATS with sync_interval: always) manages a few thousand a second, and 1M would take minutes.
 */
const fsyncRecordFraction = 0.1

/** The produce workloads repeated under fsync-per-append durability (opt-in, slower), with fewer records. */
export function buildFsyncWorkloads(workloads: Workload[]): ProduceWorkload[] {
  return workloads
    .filter((workload): workload is ProduceWorkload => workload.kind === 'produce')
    .map((workload) => ({
      ...workload,
      name: `${workload.name}-fsync`,
      topic: `${workload.topic}-fsync`,
      records: Math.max(1, Math.round(workload.records * fsyncRecordFraction)),
    }))
}
