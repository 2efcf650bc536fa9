/**
 * Offline inspection of a data directory for `lignum segments inspect`: per partition, its
 * segments (offsets, counts, bytes, timestamps, index entries as the files hold them); with
 * `verify`, every batch's length and CRC, every record inside it (as a produce is checked),
 * offsets dense and increasing across segments, and every offset- and time-index entry (by
 * Kafka's rules, as its DumpLogSegments checks them); with `dump`, each batch header (and each
 * record), streamed: `dumpSegment` reads a segment a slice at a time, so memory stays bounded
 * whatever its size and the output can wait for a slow reader.
 * It works on the files directly and only reads them, so it can look at a directory a live
 * server is writing, and it reports damage instead of stopping at it.
 *
 * Kafka preallocates index files (10 MB) and trims them on a clean shutdown; after a kill -9
 * they end in zeros. Those zero-filled trailing entries are not entries: they are reported
 * once per file as a note (not a fault: the log is whole and any open rebuilds the index),
 * and left out of the counts and checks, as Kafka's own tools stop at the first zero entry.
 */
import {open, readFile, stat} from 'node:fs/promises'
import path from 'node:path'
import {scanBatches} from './batch-scanner.js'
import {listPartitions, type PartitionLocation} from './data-dir.js'
import {OFFSET_INDEX_ENTRY_BYTES} from './offset-index.js'
import {findRecordFault} from '../format/batch-validator.js'
import {decodeRecordBatch, isBatchCrcValid, type BatchHeader, type LogRecord} from '../format/record-batch.js'
import type {SegmentInfo} from './partition-log.js'
import {listSegmentBaseOffsets} from './recovery.js'
import {describeAccessError} from './storage-errors.js'
import {segmentFileName} from './segment.js'
import {TIME_INDEX_ENTRY_BYTES} from './time-index.js'
import {validatePartition, validateTopicName} from './topic-name.js'
import {LignumError} from '../errors.js'

export interface InspectOptions {
  topic?: string
  partition?: number
  verify?: boolean
  /** Bytes of `.log` files scanned so far, of the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void
}

export interface Fault {
  file: string
  /** Byte position in that file. */
  position: number
  offset: number
  reason: string
}

/** Something worth saying about a file that is not damage, e.g. a preallocated index tail. */
export interface Note {
  file: string
  position: number
  reason: string
}

export interface BatchDump {
  baseOffset: number
  lastOffset: number
  count: number
  position: number
  baseTimestamp: number
  maxTimestamp: number
  timestampType: 'create' | 'log-append'
  sizeBytes: number
  magic: number
  compression: string
  crc: number
  crcValid: boolean
  partitionLeaderEpoch: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  isTransactional: boolean
  isControl: boolean
  records?: LogRecord[]
  recordsError?: string
}

/** A segment's summary as inspect reports it: the file's name instead of its path. */
export interface SegmentReport extends Omit<SegmentInfo, 'path'> {
  file: string
}

export interface PartitionReport {
  topic: string
  partition: number
  dir: string
  logStartOffset: number
  logEndOffset: number
  recordCount: number
  sizeBytes: number
  segments: SegmentReport[]
}

export interface InspectReport {
  dataDir: string
  partitions: PartitionReport[]
  /** Present when verification ran: true if no fault was found. */
  verified?: boolean
  faults: Fault[]
  notes: Note[]
}

export async function inspectDataDir(dataDir: string, options: InspectOptions = {}): Promise<InspectReport> {
  if (options.topic !== undefined) validateTopicName(options.topic)
  if (options.partition !== undefined) validatePartition(options.partition)
  const locations = (await listPartitions(dataDir)).filter(
    (entry) => (options.topic === undefined || entry.topic === options.topic) && (options.partition === undefined || entry.partition === options.partition),
  )
  if (locations.length === 0) {
    throw new LignumError('NOT_FOUND', `${dataDir} holds no partition matching ${options.topic ?? 'any topic'}${options.partition === undefined ? '' : ` partition ${options.partition}`}`, {hint: 'inspect it without a topic or partition to list what it holds'})
  }
  const progress = await progressCounter(locations, options.onProgress).catch(rethrowAccess(dataDir))
  const faults: Fault[] = []
  const notes: Note[] = []
  const partitions: PartitionReport[] = []
  for (const location of locations) partitions.push(await inspectPartition(location, options, {faults, notes}, progress).catch(rethrowAccess(dataDir)))
  return options.verify ? {dataDir, partitions, verified: faults.length === 0, faults, notes} : {dataDir, partitions, faults, notes}
}

/** A partition directory or file the user may not read: one line naming it and the fix, not a raw EACCES. */
function rethrowAccess(dataDir: string): (error: unknown) => never {
  return (error) => {
    throw describeAccessError(error, dataDir) ?? error
  }
}

interface Findings {
  faults: Fault[]
  notes: Note[]
}

interface ProgressCounter {
  add(bytes: number): void
}

async function progressCounter(locations: PartitionLocation[], onProgress: InspectOptions['onProgress']): Promise<ProgressCounter> {
  if (!onProgress) return {add() {}}
  let totalBytes = 0
  for (const location of locations) {
    for (const baseOffset of await listSegmentBaseOffsets(location.dir)) totalBytes += (await stat(path.join(location.dir, segmentFileName(baseOffset, '.log')))).size
  }
  let doneBytes = 0
  return {
    add(bytes) {
      doneBytes += bytes
      onProgress(doneBytes, totalBytes)
    },
  }
}

async function inspectPartition(location: PartitionLocation, options: InspectOptions, findings: Findings, progress: ProgressCounter): Promise<PartitionReport> {
  const {faults} = findings
  const segments: SegmentReport[] = []
  let expectedOffset: number | null = null
  for (const baseOffset of await listSegmentBaseOffsets(location.dir)) {
    const file = path.join(location.dir, segmentFileName(baseOffset, '.log'))
    if (expectedOffset !== null && baseOffset !== expectedOffset) {
      faults.push({file, position: 0, offset: expectedOffset, reason: `segment starts at offset ${baseOffset} but the previous one ends before ${expectedOffset} (a segment is missing or overlaps)`})
    }
    const segment = await inspectSegment(file, baseOffset, options, findings, progress)
    segments.push(segment)
    expectedOffset = segment.lastOffset >= 0 ? segment.lastOffset + 1 : baseOffset
  }
  const logStartOffset = segments[0]?.baseOffset ?? 0
  const logEndOffset = expectedOffset ?? 0
  return {
    topic: location.topic,
    partition: location.partition,
    dir: location.dir,
    logStartOffset,
    logEndOffset,
    recordCount: segments.reduce((sum, segment) => sum + segment.recordCount, 0),
    sizeBytes: segments.reduce((sum, segment) => sum + segment.sizeBytes, 0),
    segments,
  }
}

async function inspectSegment(file: string, baseOffset: number, options: InspectOptions, findings: Findings, progress: ProgressCounter): Promise<SegmentReport> {
  const {faults} = findings
  const report: SegmentReport = {file, baseOffset, lastOffset: -1, recordCount: 0, batchCount: 0, sizeBytes: 0, firstTimestamp: -1, lastTimestamp: -1, indexEntries: 0, timeIndexEntries: 0}
  const indexFile = file.replace(/\.log$/, '.index')
  const timeIndexFile = file.replace(/\.log$/, '.timeindex')
  const indexBytes = withoutZeroTail(indexFile, await readFile(indexFile).catch(() => null), OFFSET_INDEX_ENTRY_BYTES, findings.notes)
  const timeIndexBytes = withoutZeroTail(timeIndexFile, await readFile(timeIndexFile).catch(() => null), TIME_INDEX_ENTRY_BYTES, findings.notes)
  report.indexEntries = indexBytes ? Math.floor(indexBytes.length / OFFSET_INDEX_ENTRY_BYTES) : 0
  report.timeIndexEntries = timeIndexBytes ? Math.floor(timeIndexBytes.length / TIME_INDEX_ENTRY_BYTES) : 0
  const batchStarts = new Map<number, number>()
  let crcFaultPosition = -1
  const newMaxima = new Map<number, number>()
  let maxTimestamp = -1
  const handle = await open(file, 'r')
  try {
    const fileBytes = (await handle.stat()).size
    let lastProgress = 0
    const result = scanBatches({
      fd: handle.fd,
      startPosition: 0,
      endPosition: fileBytes,
      expectedOffset: baseOffset,
      verifyCrc: options.verify === true,
      onCrcFault: (fault) => {
        crcFaultPosition = fault.position
        faults.push({file, ...fault})
      },
      onBatch: (header, position, batch) => {
        observe(report, header)
        if (options.verify) batchStarts.set(position, header.lastOffset)
        if (options.verify && batch && position !== crcFaultPosition) verifyRecords(file, position, header, batch, faults)
        if (options.verify && header.maxTimestamp > maxTimestamp) {
          maxTimestamp = header.maxTimestamp
          newMaxima.set(header.lastOffset, maxTimestamp)
        }
        if (position - lastProgress > 1024 * 1024) {
          progress.add(position - lastProgress)
          lastProgress = position
        }
      },
    })
    progress.add(fileBytes - lastProgress)
    report.sizeBytes = result.endPosition
    if (result.fault) faults.push({file, ...result.fault})
  } finally {
    await handle.close()
  }
  if (options.verify) {
    verifyOffsetIndex(indexFile, indexBytes, baseOffset, batchStarts, faults)
    verifyTimeIndex(timeIndexFile, timeIndexBytes, baseOffset, report.lastOffset, newMaxima, faults)
  }
  return report
}

/**
 * The records of a batch whose CRC holds, checked as the broker checks a produced batch
 * (batch-validator.ts), so whatever a produce would be refused for is reported here; a log
 * may also hold what Kafka's own broker writes (control batches, batches thinned by compaction).
 */
function verifyRecords(file: string, position: number, header: BatchHeader, batch: Buffer, faults: Fault[]): void {
  const fault = findRecordFault(batch, 0, header, {origin: 'log'})
  if (fault !== null) faults.push({file, position, offset: header.baseOffset, reason: `batch at offset ${header.baseOffset} ${fault.reason}`})
}

function observe(report: SegmentReport, header: BatchHeader): void {
  if (report.batchCount === 0) report.firstTimestamp = header.baseTimestamp
  report.batchCount++
  report.recordCount += header.recordCount
  report.lastOffset = header.lastOffset
  report.lastTimestamp = header.maxTimestamp
}

/**
 * Batch bytes one slice of a dump reads before handing its batches on: what a dump holds in
 * memory at once (with records decoded, a few times that), whatever the segment's size.
 */
const DUMP_SLICE_BYTES = 1024 * 1024

/**
 * Each batch of a segment, in order, with its records when asked, up to `sizeBytes` (where the
 * summary found its whole batches end, so the dump shows what the table counted).
 */
export async function* dumpSegment(segment: Pick<SegmentReport, 'file' | 'baseOffset' | 'sizeBytes'>, withRecords: boolean): AsyncGenerator<BatchDump> {
  const handle = await open(segment.file, 'r')
  try {
    let position = 0
    let nextOffset: number | null = segment.baseOffset
    while (position < segment.sizeBytes) {
      const dumps: BatchDump[] = []
      const result = scanBatches({
        fd: handle.fd,
        startPosition: position,
        endPosition: segment.sizeBytes,
        expectedOffset: nextOffset,
        verifyCrc: false,
        wantBatches: true,
        pauseAfterBytes: DUMP_SLICE_BYTES,
        // Records are views of the bytes they came from: a copy, as the scan's window is refilled under them.
        onBatch: (header, at, batch) => {
          if (batch) dumps.push(dumpBatch(header, at, withRecords ? Buffer.from(batch) : batch, withRecords))
        },
      })
      yield* dumps
      if (result.fault || result.endPosition <= position) return
      position = result.endPosition
      nextOffset = result.nextOffset
    }
  } finally {
    await handle.close()
  }
}

function dumpBatch(header: BatchHeader, position: number, batch: Buffer, withRecords: boolean): BatchDump {
  const crcValid = isBatchCrcValid(batch)
  const dump: BatchDump = {
    baseOffset: header.baseOffset,
    lastOffset: header.lastOffset,
    count: header.recordCount,
    position,
    baseTimestamp: header.baseTimestamp,
    maxTimestamp: header.maxTimestamp,
    timestampType: header.timestampType,
    sizeBytes: header.sizeBytes,
    magic: header.magic,
    compression: header.compression,
    crc: header.crc,
    crcValid,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    isTransactional: header.isTransactional,
    isControl: header.isControl,
  }
  if (withRecords) {
    try {
      dump.records = decodeRecordBatch(batch).records
    } catch (error) {
      dump.recordsError = (error as Error).message
    }
  }
  return dump
}

function verifyOffsetIndex(file: string, bytes: Buffer | null, baseOffset: number, batchStarts: Map<number, number>, faults: Fault[]): void {
  if (bytes === null) {
    faults.push({file, position: 0, offset: baseOffset, reason: 'the offset index is missing (a writable open rebuilds it)'})
    return
  }
  if (bytes.length % OFFSET_INDEX_ENTRY_BYTES !== 0) faults.push({file, position: bytes.length, offset: baseOffset, reason: `index size ${bytes.length} is not a multiple of ${OFFSET_INDEX_ENTRY_BYTES}`})
  let previous = -1
  for (let at = 0; at + OFFSET_INDEX_ENTRY_BYTES <= bytes.length; at += OFFSET_INDEX_ENTRY_BYTES) {
    const offset = baseOffset + bytes.readInt32BE(at)
    const position = bytes.readInt32BE(at + 4)
    const lastOffset = batchStarts.get(position)
    if (offset <= previous) {
      faults.push({file, position: at, offset, reason: `index entry offset ${offset} does not increase (previous ${previous})`})
    } else if (lastOffset === undefined) {
      faults.push({file, position: at, offset, reason: `index entry points at log position ${position}, where no whole batch starts`})
    } else if (lastOffset !== offset) {
      faults.push({file, position: at, offset, reason: `index entry says offset ${offset} but the batch at log position ${position} ends at offset ${lastOffset}`})
    }
    previous = offset
  }
}

/**
 * The index bytes before its zero-filled trailing entries (Kafka's preallocation, left by a
 * kill -9), noting them once. A real entry is never all zeros: the first offset-index entry
 * comes after the first batch (position > 0), and time-index entries increase from it.
 */
function withoutZeroTail(file: string, bytes: Buffer | null, entryBytes: number, notes: Note[]): Buffer | null {
  if (bytes === null) return null
  let end = bytes.length - (bytes.length % entryBytes)
  while (end >= entryBytes && isAllZero(bytes, end - entryBytes, end)) end -= entryBytes
  const zeroBytes = bytes.length - end
  if (end === bytes.length || !isAllZero(bytes, end, bytes.length)) return bytes
  notes.push({file, position: end, reason: `index file has ${zeroBytes} zero-filled trailing bytes: preallocated by Kafka, unused (a writable open rebuilds the index without them)`})
  return bytes.subarray(0, end)
}

function isAllZero(bytes: Buffer, start: number, end: number): boolean {
  for (let at = start; at < end; at++) if (bytes[at] !== 0) return false
  return true
}

/**
 * Kafka's rule: each entry holds a new largest timestamp of the segment and the last offset of
 * the first batch that carried it (`newMaxima`: those batches' last offsets and timestamps).
 */
function verifyTimeIndex(file: string, bytes: Buffer | null, baseOffset: number, lastOffset: number, newMaxima: Map<number, number>, faults: Fault[]): void {
  if (bytes === null) {
    faults.push({file, position: 0, offset: baseOffset, reason: 'the time index is missing (a writable open rebuilds it)'})
    return
  }
  if (bytes.length % TIME_INDEX_ENTRY_BYTES !== 0) faults.push({file, position: bytes.length, offset: baseOffset, reason: `time index size ${bytes.length} is not a multiple of ${TIME_INDEX_ENTRY_BYTES}`})
  let previousTimestamp = -Infinity
  let previousOffset = -1
  for (let at = 0; at + TIME_INDEX_ENTRY_BYTES <= bytes.length; at += TIME_INDEX_ENTRY_BYTES) {
    const timestamp = Number(bytes.readBigInt64BE(at))
    const offset = baseOffset + bytes.readInt32BE(at + 8)
    const carried = newMaxima.get(offset)
    if (offset > lastOffset || offset < baseOffset) {
      faults.push({file, position: at, offset, reason: `time index entry names offset ${offset}, outside the segment (${baseOffset} to ${lastOffset})`})
    } else if (offset <= previousOffset || timestamp <= previousTimestamp) {
      faults.push({file, position: at, offset, reason: 'time index entries do not increase'})
    } else if (carried === undefined) {
      faults.push({file, position: at, offset, reason: `time index entry (${timestamp}, offset ${offset}) does not name the last offset of a batch that raised the segment's largest timestamp (Kafka's rule; a writable open rebuilds it)`})
    } else if (carried !== timestamp) {
      faults.push({file, position: at, offset, reason: `time index entry says timestamp ${timestamp} at offset ${offset}, but the largest timestamp there is ${carried} (a writable open rebuilds it)`})
    }
    previousTimestamp = timestamp
    previousOffset = offset
  }
}
