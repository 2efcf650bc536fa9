/**
 * Offline inspection of a data directory for `lignum segments inspect`: per partition, its
 * segments (offsets, counts, bytes, timestamps, index entries as the files hold them); with
 * `verify`, every batch's length and CRC, offsets dense and increasing across segments, and
 * every offset- and time-index entry; with `dump`, each batch header (and each record).
 * It works on the files directly and only reads them, so it can look at a directory a live
 * server is writing, and it reports damage instead of stopping at it.
 */
import {open, readFile, stat} from 'node:fs/promises'
import path from 'node:path'
import {scanBatches} from './batch-scanner.js'
import {listPartitions, type PartitionLocation} from './data-dir.js'
import {OFFSET_INDEX_ENTRY_BYTES} from './offset-index.js'
import {decodeRecordBatch, isBatchCrcValid, type BatchHeader, type LogRecord} from './record-batch.js'
import type {SegmentInfo} from './partition-log.js'
import {listSegmentBaseOffsets} from './recovery.js'
import {segmentFileName} from './segment.js'
import {TIME_INDEX_ENTRY_BYTES} from './time-index.js'
import {validatePartition, validateTopicName} from './topic-name.js'
import {LignumError} from '../errors.js'

export interface InspectOptions {
  topic?: string
  partition?: number
  verify?: boolean
  dump?: boolean
  records?: boolean
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

/** A segment's summary as inspect reports it: the file's name instead of its path, and with --dump its batches. */
export interface SegmentReport extends Omit<SegmentInfo, 'path'> {
  file: string
  batches?: BatchDump[]
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
}

export async function inspectDataDir(dataDir: string, options: InspectOptions = {}): Promise<InspectReport> {
  if (options.topic !== undefined) validateTopicName(options.topic)
  if (options.partition !== undefined) validatePartition(options.partition)
  const locations = (await listPartitions(dataDir)).filter(
    (entry) => (options.topic === undefined || entry.topic === options.topic) && (options.partition === undefined || entry.partition === options.partition),
  )
  if (locations.length === 0) {
    throw new LignumError('NOT_FOUND', `${dataDir} holds no partition matching ${options.topic ?? 'any topic'}${options.partition === undefined ? '' : ` partition ${options.partition}`}; run without --topic/--partition to list what it holds`)
  }
  const progress = await progressCounter(locations, options.onProgress)
  const faults: Fault[] = []
  const partitions: PartitionReport[] = []
  for (const location of locations) partitions.push(await inspectPartition(location, options, faults, progress))
  return options.verify ? {dataDir, partitions, verified: faults.length === 0, faults} : {dataDir, partitions, faults}
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

async function inspectPartition(location: PartitionLocation, options: InspectOptions, faults: Fault[], progress: ProgressCounter): Promise<PartitionReport> {
  const segments: SegmentReport[] = []
  let expectedOffset: number | null = null
  for (const baseOffset of await listSegmentBaseOffsets(location.dir)) {
    const file = path.join(location.dir, segmentFileName(baseOffset, '.log'))
    if (expectedOffset !== null && baseOffset !== expectedOffset) {
      faults.push({file, position: 0, offset: expectedOffset, reason: `segment starts at offset ${baseOffset} but the previous one ends before ${expectedOffset} (a segment is missing or overlaps)`})
    }
    const segment = await inspectSegment(file, baseOffset, options, faults, progress)
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

async function inspectSegment(file: string, baseOffset: number, options: InspectOptions, faults: Fault[], progress: ProgressCounter): Promise<SegmentReport> {
  const report: SegmentReport = {file, baseOffset, lastOffset: -1, recordCount: 0, batchCount: 0, sizeBytes: 0, firstTimestamp: -1, lastTimestamp: -1, indexEntries: 0, timeIndexEntries: 0}
  if (options.dump) report.batches = []
  const indexBytes = await readFile(file.replace(/\.log$/, '.index')).catch(() => null)
  const timeIndexBytes = await readFile(file.replace(/\.log$/, '.timeindex')).catch(() => null)
  report.indexEntries = indexBytes ? Math.floor(indexBytes.length / OFFSET_INDEX_ENTRY_BYTES) : 0
  report.timeIndexEntries = timeIndexBytes ? Math.floor(timeIndexBytes.length / TIME_INDEX_ENTRY_BYTES) : 0
  const batchStarts = new Map<number, number>()
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
      wantBatches: options.dump === true,
      onCrcFault: (fault) => faults.push({file, ...fault}),
      onBatch: (header, position, batch) => {
        observe(report, header)
        if (options.verify) batchStarts.set(position, header.lastOffset)
        if (report.batches && batch) report.batches.push(dumpBatch(header, position, batch, options.records === true))
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
    verifyOffsetIndex(file.replace(/\.log$/, '.index'), indexBytes, baseOffset, batchStarts, faults)
    verifyTimeIndex(file.replace(/\.log$/, '.timeindex'), timeIndexBytes, baseOffset, report.lastOffset, faults)
  }
  return report
}

function observe(report: SegmentReport, header: BatchHeader): void {
  if (report.batchCount === 0) report.firstTimestamp = header.baseTimestamp
  report.batchCount++
  report.recordCount += header.recordCount
  report.lastOffset = header.lastOffset
  report.lastTimestamp = header.maxTimestamp
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

function verifyTimeIndex(file: string, bytes: Buffer | null, baseOffset: number, lastOffset: number, faults: Fault[]): void {
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
    if (offset > lastOffset || offset < baseOffset) {
      faults.push({file, position: at, offset, reason: `time index entry names offset ${offset}, outside the segment (${baseOffset} to ${lastOffset})`})
    } else if (offset <= previousOffset || timestamp < previousTimestamp) {
      faults.push({file, position: at, offset, reason: 'time index entries do not increase'})
    }
    previousTimestamp = timestamp
    previousOffset = offset
  }
}
