/**
 * Engine benchmark (issue 2): append and sequential read through PartitionLog, for 1M records
 * of 100 B (batches of 1,000) and 100k records of 1 KiB (batches of 100, so both sizes append
 * ~100 KiB batches), encoding included in the append time. Beside it, the disk's own
 * sequential write rate measured in the same run: the same number of bytes written in 1 MiB
 * chunks and fdatasync'd, so the engine's rate can be read as a fraction of the physical limit.
 *
 * Append runs with flush policy `never` (what a replicated deployment uses); `appendDurable`
 * adds the final flush (fdatasync) to the timing, which is the number to hold against the disk
 * rate. Reads run right after the writes, so they are served from the page cache: they measure
 * the engine, not the disk. Each measurement is the median of RUNS runs. Last, flush policy
 * `always` with 16 concurrent appenders of 100-record batches shows what group commit gives.
 */
import {open, rm} from 'node:fs/promises'
import path from 'node:path'
import type {BenchOptions} from './run.js'
import {PartitionLog} from '../src/log/partition-log.js'
import {batchPositions, decodeRecordBatch, encodeRecordBatch, readBatchHeader, type RecordInput} from '../src/format/record-batch.js'

const RUNS = 3
const MEGABYTE = 1_000_000
const DISK_CHUNK_BYTES = 1024 * 1024
const READ_MAX_BYTES = 1024 * 1024
/** Appends issued before the first one is acknowledged: lets encoding overlap the write syscall. */
const APPENDS_IN_FLIGHT = 4
const GROUP_COMMIT_APPENDERS = 16
const GROUP_COMMIT_BATCHES_EACH = 100
const GROUP_COMMIT_BATCH_RECORDS = 100

export const targets = {
  append100BRecordsPerSecond: 1_500_000,
  append1KiBFractionOfDisk: 0.6,
  readRecordsPerSecond: 3_000_000,
}

interface Rate {
  seconds: number
  recordsPerSecond: number
  megabytesPerSecond: number
}

interface Workload {
  name: string
  recordCount: number
  valueBytes: number
  batchRecords: number
}

const workloads: Workload[] = [
  {name: 'records100B', recordCount: 1_000_000, valueBytes: 100, batchRecords: 1000},
  {name: 'records1KiB', recordCount: 100_000, valueBytes: 1024, batchRecords: 100},
]

function rate(seconds: number, records: number, bytes: number): Rate {
  return {seconds: round(seconds, 4), recordsPerSecond: Math.round(records / seconds), megabytesPerSecond: round(bytes / MEGABYTE / seconds, 1)}
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

function median<T>(values: T[], key: (value: T) => number): T {
  return [...values].sort((a, b) => key(a) - key(b))[Math.floor(values.length / 2)]
}

/** The log's size for a workload, computed from one encoded batch: every batch has the same size. */
function expectedLogBytes(workload: Workload): number {
  return encodeRecordBatch(sampleRecords(workload)).length * (workload.recordCount / workload.batchRecords)
}

function sampleRecords(workload: Workload): RecordInput[] {
  // Varied bytes, so nothing downstream can profit from repetition.
  return Array.from({length: workload.batchRecords}, (_, index) => {
    const value = Buffer.alloc(workload.valueBytes)
    for (let at = 0; at < value.length; at++) value[at] = (index * 31 + at * 7) & 0xff
    return {key: null, value}
  })
}

async function appendRun(dir: string, workload: Workload): Promise<{append: Rate; appendDurable: Rate; logBytes: number; log: PartitionLog}> {
  await rm(dir, {recursive: true, force: true})
  const log = await PartitionLog.open(dir, {flushPolicy: 'never'})
  const records = sampleRecords(workload)
  const batches = workload.recordCount / workload.batchRecords
  const started = performance.now()
  // Pipelined like a broker under load: the next batch is encoded while earlier ones are written.
  const inFlight = new Set<Promise<unknown>>()
  for (let batch = 0; batch < batches; batch++) {
    const appending = log.append(encodeRecordBatch(records)).finally(() => inFlight.delete(appending))
    inFlight.add(appending)
    if (inFlight.size >= APPENDS_IN_FLIGHT) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  const appended = performance.now()
  await log.flush()
  const flushed = performance.now()
  const logBytes = log.segments().reduce((sum, segment) => sum + segment.sizeBytes, 0)
  return {
    append: rate((appended - started) / 1000, workload.recordCount, logBytes),
    appendDurable: rate((flushed - started) / 1000, workload.recordCount, logBytes),
    logBytes,
    log,
  }
}

async function readRun(log: PartitionLog, decode: boolean): Promise<{seconds: number; records: number}> {
  const started = performance.now()
  let offset = log.logStartOffset
  let records = 0
  while (offset < log.logEndOffset) {
    const {batches, nextOffset} = await log.read(offset, {maxBytes: READ_MAX_BYTES})
    for (const {position} of batchPositions(batches)) {
      records += decode ? decodeRecordBatch(batches, position).records.length : readBatchHeader(batches, position).recordCount
    }
    offset = nextOffset
  }
  return {seconds: (performance.now() - started) / 1000, records}
}

/** Flush policy `always` with concurrent appenders: what group commit gives when every append waits for fdatasync. */
async function groupCommitRun(dir: string): Promise<Rate & {appendsPerSecond: number; appenders: number}> {
  await rm(dir, {recursive: true, force: true})
  const log = await PartitionLog.open(dir, {flushPolicy: 'always'})
  const records = sampleRecords({name: 'group-commit', recordCount: 0, valueBytes: 100, batchRecords: GROUP_COMMIT_BATCH_RECORDS})
  const started = performance.now()
  await Promise.all(
    Array.from({length: GROUP_COMMIT_APPENDERS}, async () => {
      for (let batch = 0; batch < GROUP_COMMIT_BATCHES_EACH; batch++) await log.append(encodeRecordBatch(records))
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const bytes = log.segments().reduce((sum, segment) => sum + segment.sizeBytes, 0)
  await log.close()
  await rm(dir, {recursive: true, force: true})
  const appends = GROUP_COMMIT_APPENDERS * GROUP_COMMIT_BATCHES_EACH
  return {...rate(seconds, appends * GROUP_COMMIT_BATCH_RECORDS, bytes), appendsPerSecond: Math.round(appends / seconds), appenders: GROUP_COMMIT_APPENDERS}
}

/** The same bytes, written sequentially in 1 MiB chunks and fdatasync'd: the disk's own limit. */
async function diskRun(file: string, bytes: number): Promise<Rate> {
  await rm(file, {force: true})
  const chunk = Buffer.alloc(DISK_CHUNK_BYTES, 0x5a)
  const handle = await open(file, 'w')
  const started = performance.now()
  try {
    for (let written = 0; written < bytes; written += chunk.length) {
      const length = Math.min(chunk.length, bytes - written)
      await handle.write(chunk, 0, length, written)
    }
    await handle.datasync()
  } finally {
    await handle.close()
  }
  const seconds = (performance.now() - started) / 1000
  await rm(file, {force: true})
  return rate(seconds, 0, bytes)
}

async function measure(workload: Workload, options: BenchOptions): Promise<Record<string, unknown>> {
  const runs: {append: Rate; appendDurable: Rate; read: Rate; readDecoded: Rate; disk: Rate; appendDurableOfDisk: number}[] = []
  let logBytes = expectedLogBytes(workload)
  const diskFile = path.join(options.scratchDir, 'disk-rate.bin')
  for (let run = 0; run < RUNS; run++) {
    const dir = path.join(options.scratchDir, `${workload.name}-0`)
    // The disk is measured right before and right after the engine, and the two averaged, so
    // that a neighbour's I/O burst weighs on both sides of the ratio alike.
    const diskBefore = await diskRun(diskFile, logBytes)
    const appended = await appendRun(dir, workload)
    if (appended.logBytes !== logBytes) throw new Error(`log holds ${appended.logBytes} bytes, expected ${logBytes}`)
    const read = await readRun(appended.log, false)
    const decoded = await readRun(appended.log, true)
    if (read.records !== workload.recordCount || decoded.records !== workload.recordCount) {
      throw new Error(`read ${read.records}/${decoded.records} records of ${workload.recordCount}`)
    }
    await appended.log.close()
    await rm(dir, {recursive: true, force: true})
    const diskAfter = await diskRun(diskFile, logBytes)
    const disk = rate((diskBefore.seconds + diskAfter.seconds) / 2, 0, logBytes)
    const appendDurableOfDisk = round(appended.appendDurable.megabytesPerSecond / disk.megabytesPerSecond, 2)
    runs.push({append: appended.append, appendDurable: appended.appendDurable, read: rate(read.seconds, read.records, logBytes), readDecoded: rate(decoded.seconds, decoded.records, logBytes), disk, appendDurableOfDisk})
    options.log(`${workload.name} run ${run + 1}: append ${appended.append.recordsPerSecond} rec/s, read ${runs.at(-1)!.read.recordsPerSecond} rec/s, disk ${disk.megabytesPerSecond} MB/s`)
  }
  const pick = (key: 'append' | 'appendDurable' | 'read' | 'readDecoded' | 'disk') => median(runs.map((run) => run[key]), (value) => value.seconds)
  return {
    recordCount: workload.recordCount,
    valueBytes: workload.valueBytes,
    batchRecords: workload.batchRecords,
    logBytes,
    append: pick('append'),
    appendDurable: pick('appendDurable'),
    read: pick('read'),
    readDecoded: pick('readDecoded'),
    disk: pick('disk'),
    appendDurableOfDisk: median(
      runs.map((run) => run.appendDurableOfDisk),
      (value) => value,
    ),
    runs,
  }
}

export async function run(options: BenchOptions): Promise<unknown> {
  const small = (await measure(workloads[0], options)) as {append: Rate; read: Rate; readDecoded: Rate}
  const large = (await measure(workloads[1], options)) as {appendDurableOfDisk: number}
  const groupCommit = await groupCommitRun(path.join(options.scratchDir, 'group-commit-0'))
  options.log(`group commit (flush always, ${GROUP_COMMIT_APPENDERS} appenders): ${groupCommit.recordsPerSecond} rec/s, ${groupCommit.appendsPerSecond} appends/s`)
  return {
    [workloads[0].name]: small,
    [workloads[1].name]: large,
    groupCommitFlushAlways: groupCommit,
    targets,
    ratios: {
      append100BToTarget: round(small.append.recordsPerSecond / targets.append100BRecordsPerSecond, 2),
      append1KiBDurableOfDisk: large.appendDurableOfDisk,
      append1KiBDurableOfDiskToTarget: round(large.appendDurableOfDisk / targets.append1KiBFractionOfDisk, 2),
      read100BToTarget: round(small.read.recordsPerSecond / targets.readRecordsPerSecond, 2),
      read100BDecodedToTarget: round(small.readDecoded.recordsPerSecond / targets.readRecordsPerSecond, 2),
    },
    notes: 'append: flush policy never, encoding included, 4 appends in flight; appendDurable adds the final fdatasync; disk: the same bytes in 1 MiB writes + fdatasync, measured before and after each engine run and averaged; appendDurableOfDisk is the per-run ratio; reads are from the page cache; medians of 3 runs',
  }
}
