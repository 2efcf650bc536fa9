/**
 * Reading records straight from a data directory, with no server: what `lignum consume
 * --data-dir` prints. Partitions are opened read-only (nothing on disk changes, a live server
 * may be writing them). Records come out as an async iterable, partition by partition, in
 * offset order; `to` is exclusive. A reader that prints many records takes them as whole
 * reads of batches (readDataDirBatches: one await per megabyte, not per record), the others
 * one by one (readDataDirRecords). A torn tail (what a crash or a live writer leaves, see
 * recovery.ts) ends a partition with a warning. Damage ends it too, after every intact record
 * before it, and the other partitions are still read; once all are, the iteration fails with
 * PARTITION_DAMAGED naming the damage, unless `to` stopped every read before it. Control
 * batches (Kafka's transaction commit and abort markers) hold offsets but no data and are
 * skipped; transactional data is read uncommitted, as Kafka's read_uncommitted consumers read it.
 */
import {LignumError} from '../errors.js'
import {describeDamage, PartitionDamagedError, repairCommandFor, type PartitionDamage} from './damage.js'
import {listPartitions, type PartitionLocation} from './data-dir.js'
import {PartitionLog} from './partition-log.js'
import {batchPositions, decodeRecordBatch, type LogRecord} from '../format/record-batch.js'
import {validatePartition, validateTopicName} from './topic-name.js'

/** One read brings this much from disk: the unit a printing reader takes. */
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

/** One read of a partition's log: whole batches, of which the records in [from, end) are wanted. */
export interface PartitionBatches {
  topic: string
  partition: number
  batches: Buffer
  from: number
  /** Exclusive. */
  end: number
}

/** Reads of one open log covering [from, to), a chunk of whole batches at a time. */
async function* readLogBatches(log: PartitionLog, from: number, to: number): AsyncGenerator<{batches: Buffer; from: number; end: number}> {
  let offset = from
  const end = Math.min(to, log.logEndOffset)
  while (offset < end) {
    const {batches, nextOffset} = await log.read(offset, {maxBytes: READ_CHUNK_BYTES})
    if (batches.length === 0) return
    yield {batches, from: offset, end}
    offset = nextOffset
  }
}

/** The records of one read in its range; transaction markers are not data, and a Kafka consumer skips them too. */
export function* recordsOfBatches(read: Pick<PartitionBatches, 'batches' | 'from' | 'end'>): Generator<LogRecord> {
  for (const {position, header} of batchPositions(read.batches)) {
    if (header.isControl) continue
    for (const record of decodeRecordBatch(read.batches, position).records) {
      if (record.offset >= read.end) return
      if (record.offset >= read.from) yield record
    }
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
    throw new LignumError('OFFSET_OUT_OF_RANGE', `offset ${from} is out of range for ${log.topic}-${log.partition}, which holds offsets ${log.logStartOffset} to ${log.logEndOffset - 1}`, {hint: 'start within that range'})
  }
  return from
}

export async function* readDataDirRecords(dataDir: string, options: OfflineReadOptions): AsyncGenerator<PartitionRecord> {
  for await (const read of readDataDirBatches(dataDir, options)) {
    for (const record of recordsOfBatches(read)) yield {topic: read.topic, partition: read.partition, record}
  }
}

export async function* readDataDirBatches(dataDir: string, options: OfflineReadOptions): AsyncGenerator<PartitionBatches> {
  if (options.from !== undefined && options.to !== undefined && options.to < options.from) {
    throw new LignumError('INVALID_ARGUMENT', `to ${options.to} is below from ${options.from}`, {hint: 'to is exclusive and must be at least from'})
  }
  const warn = options.onWarning ?? (() => {})
  const to = options.to ?? Number.MAX_SAFE_INTEGER
  const damaged: {location: PartitionLocation; damage: PartitionDamage}[] = []
  for (const location of await selectPartitions(dataDir, options.topic, options.partition)) {
    const log = await PartitionLog.open(location.dir, {}, {readOnly: true, logger: {info() {}, warn: (message, fields) => warn(`${message} ${JSON.stringify(fields)}`), error() {} /* the damage ends the read with its own error */}})
    try {
      if (log.fault && !log.damage) {
        warn(`${log.fault.path}: stopped at position ${log.fault.position} (offset ${log.fault.offset}): ${log.fault.reason}; a torn tail (a crash, or a server writing), the whole batches before it are returned`)
      }
      const from = await startOffset(log, options)
      try {
        for await (const read of readLogBatches(log, from, to)) yield {topic: location.topic, partition: location.partition, ...read}
      } catch (error) {
        // A read that meets a batch failing its CRC: the records before it are out, go on with the next partition.
        if (!(error instanceof PartitionDamagedError)) throw error
        damaged.push({location, damage: error.damage})
        continue
      }
      if (log.damage && to > log.damage.offset) damaged.push({location, damage: log.damage})
    } finally {
      await log.close()
    }
  }
  if (damaged.length > 0) throw damagedReadError(damaged)
}

/** One line: the first damaged partition in full, the others by name. */
function damagedReadError(damaged: {location: PartitionLocation; damage: PartitionDamage}[]): LignumError {
  const [{location, damage}, ...others] = damaged
  const also = others.length > 0 ? `; also damaged: ${others.map((other) => `${other.location.topic}-${other.location.partition} (offset ${other.damage.offset})`).join(', ')}` : ''
  return new LignumError(
    'PARTITION_DAMAGED',
    `${location.topic}-${location.partition} is damaged: ${describeDamage(damage)}; every intact record before offset ${damage.offset} was written${also}; repair it offline with: ${repairCommandFor(location.dir, location.topic, location.partition)}`,
  )
}
