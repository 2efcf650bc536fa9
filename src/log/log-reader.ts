/**
 * Reading records straight from a data directory, with no server: what `lignum consume
 * --data-dir` prints. Partitions are opened read-only (nothing on disk changes, a live server
 * may be writing them); a torn tail or bad batch ends that partition's records, with a warning,
 * after every whole batch before it. Records come out as an async iterable, partition by
 * partition, in offset order; `to` is exclusive.
 */
import {readdir} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../errors.js'
import {listPartitions, type PartitionLocation} from './data-dir.js'
import {PartitionLog} from './partition-log.js'
import {batchPositions, decodeRecordBatch, type LogRecord} from './record-batch.js'
import {validatePartition, validateTopicName} from './topic-name.js'

/** One read brings this much from disk; records are then yielded one by one. */
const READ_CHUNK_BYTES = 1024 * 1024

export interface PartitionRecord {
  topic: string
  partition: number
  record: LogRecord
}

export interface OfflineReadOptions {
  topic: string
  partition?: number
  /** First offset (default: each partition's log start). */
  from?: number
  /** Exclusive end (default: each partition's log end). */
  to?: number
  /** Start at the first record with a timestamp at or after this time. */
  fromTimeMs?: number
  onWarning?: (message: string) => void
}

/** Records of one open log in [from, to), whole batches read in chunks and filtered to the range. */
export async function* readLogRecords(log: PartitionLog, from: number, to: number): AsyncGenerator<LogRecord> {
  let offset = from
  const end = Math.min(to, log.logEndOffset)
  while (offset < end) {
    const {batches, nextOffset} = await log.read(offset, {maxBytes: READ_CHUNK_BYTES})
    if (batches.length === 0) return
    for (const {position} of batchPositions(batches)) {
      for (const record of decodeRecordBatch(batches, position).records) {
        if (record.offset >= end) return
        if (record.offset >= offset) yield record
      }
    }
    offset = nextOffset
  }
}

export async function selectPartitions(dataDir: string, topic: string, partition?: number): Promise<PartitionLocation[]> {
  validateTopicName(topic)
  if (partition !== undefined) validatePartition(partition)
  const all = await listPartitions(dataDir)
  const ofTopic = all.filter((entry) => entry.topic === topic)
  if (ofTopic.length === 0) {
    const topics = [...new Set(all.map((entry) => entry.topic))].join(', ')
    throw new LignumError('UNKNOWN_TOPIC', `topic "${topic}" is not in ${dataDir}; it holds: ${topics}`)
  }
  if (partition === undefined) return ofTopic
  const chosen = ofTopic.filter((entry) => entry.partition === partition)
  if (chosen.length === 0) {
    throw new LignumError('NOT_FOUND', `partition ${partition} of "${topic}" is not in ${dataDir}; it holds partitions ${ofTopic.map((entry) => entry.partition).join(', ')}`)
  }
  return chosen
}

async function startOffset(log: PartitionLog, options: OfflineReadOptions): Promise<number> {
  if (options.fromTimeMs !== undefined) {
    return (await log.offsetForTimestamp(options.fromTimeMs)) ?? log.logEndOffset
  }
  const from = options.from ?? log.logStartOffset
  if (from < log.logStartOffset || from > log.logEndOffset) {
    throw new LignumError('OFFSET_OUT_OF_RANGE', `--from ${from} is out of range for ${log.topic}-${log.partition}, which holds offsets ${log.logStartOffset} to ${log.logEndOffset - 1}`)
  }
  return from
}

export async function* readDataDirRecords(dataDir: string, options: OfflineReadOptions): AsyncGenerator<PartitionRecord> {
  if (options.from !== undefined && options.to !== undefined && options.to < options.from) {
    throw new LignumError('INVALID_ARGUMENT', `--to ${options.to} is below --from ${options.from}; --to is exclusive and must be at least --from`)
  }
  const warn = options.onWarning ?? (() => {})
  for (const location of await selectPartitions(dataDir, options.topic, options.partition)) {
    const log = await PartitionLog.open(location.dir, {}, {readOnly: true, logger: {info() {}, warn: (message, fields) => warn(`${message} ${JSON.stringify(fields)}`)}})
    try {
      if (log.fault) {
        warn(`${log.fault.path}: stopped at position ${log.fault.position} (offset ${log.fault.offset}): ${log.fault.reason}; the whole batches before it are returned`)
      }
      const from = await startOffset(log, options)
      for await (const record of readLogRecords(log, from, options.to ?? Number.MAX_SAFE_INTEGER)) {
        yield {topic: location.topic, partition: location.partition, record}
      }
      // A torn tail is what a crash leaves; damage before the last segment is lost data and
      // must not pass for the end of the log.
      if (log.fault && (await isBeforeLastSegment(location.dir, log.fault.path))) {
        throw new LignumError('CORRUPT_RECORD', `${log.fault.path} is damaged at position ${log.fault.position} (offset ${log.fault.offset}) and later segments follow it: ${log.fault.reason}; check the directory with: lignum segments inspect --verify`)
      }
    } finally {
      await log.close()
    }
  }
}

async function isBeforeLastSegment(dir: string, segmentPath: string): Promise<boolean> {
  const logs = (await readdir(dir)).filter((name) => name.endsWith('.log')).sort()
  return logs.length > 0 && path.basename(segmentPath) !== logs[logs.length - 1]
}
