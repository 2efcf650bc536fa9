/**
 * Opening a partition directory: finds its segments, scans them, and repairs what a crash
 * can leave behind. Every segment's batch headers are scanned (that rebuilds the indexes);
 * segments holding offsets at or past the recovery point (the last offset known to be on
 * disk, written by the log after each fdatasync) are CRC-checked too. The first batch whose
 * length, offsets or CRC do not hold ends the log: a writable open truncates the torn tail,
 * deletes any later segment, and logs what it removed; a read-only open changes nothing and
 * reports the fault. A bad batch below the recovery point was once durable: that is damage,
 * not a torn write, so a writable open refuses (CORRUPT_RECORD) instead of deleting it.
 *
 * The recovery point file (`lignum-recovery-point`, Lignum's own; Kafka keeps the same number
 * in a per-directory `recovery-point-offset-checkpoint`) is text:
 *
 *   0          version
 *   1500       every offset below this was fdatasync'd
 */
import {readdir, readFile, rename, unlink, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../errors.js'
import {parseSegmentFileName, Segment, segmentFileName} from './segment.js'

export const RECOVERY_POINT_FILE = 'lignum-recovery-point'

export interface LogFault {
  path: string
  position: number
  offset: number
  reason: string
}

export interface LogLogger {
  info(message: string, fields?: object): void
  warn(message: string, fields?: object): void
}

export interface LoadOptions {
  readOnly: boolean
  indexIntervalBytes: number
  nowMs: number
  logger: LogLogger
}

export interface LoadedSegments {
  segments: Segment[]
  /** The first bad batch a read-only open stopped at, if any. */
  fault: LogFault | null
  recoveryPoint: number
}

export async function listSegmentBaseOffsets(dir: string): Promise<number[]> {
  const names = await readdir(dir)
  const offsets: number[] = []
  for (const name of names) {
    const offset = parseSegmentFileName(name)
    if (offset !== null) offsets.push(offset)
  }
  return offsets.sort((a, b) => a - b)
}

export async function readRecoveryPoint(dir: string): Promise<number> {
  try {
    const lines = (await readFile(path.join(dir, RECOVERY_POINT_FILE), 'utf8')).split('\n')
    const offset = Number(lines[1])
    // A missing or unreadable checkpoint only costs a full CRC scan: start from zero.
    return lines[0] === '0' && Number.isSafeInteger(offset) && offset >= 0 ? offset : 0
  } catch {
    return 0
  }
}

/** Replaced atomically; no fsync: an older recovery point after a power loss only means more scanning. */
export async function writeRecoveryPoint(dir: string, offset: number): Promise<void> {
  const file = path.join(dir, RECOVERY_POINT_FILE)
  await writeFile(`${file}.tmp`, `0\n${offset}\n`)
  await rename(`${file}.tmp`, file)
}

export async function loadSegments(dir: string, options: LoadOptions): Promise<LoadedSegments> {
  const segments: Segment[] = []
  try {
    return await loadSegmentsInto(segments, dir, options)
  } catch (error) {
    for (const segment of segments) await segment.closeHandle()
    throw error
  }
}

async function loadSegmentsInto(segments: Segment[], dir: string, options: LoadOptions): Promise<LoadedSegments> {
  const recoveryPoint = await readRecoveryPoint(dir)
  const baseOffsets = await listSegmentBaseOffsets(dir)
  let fault: LogFault | null = null
  for (let index = 0; index < baseOffsets.length; index++) {
    const baseOffset = baseOffsets[index]
    const previous = segments.at(-1)
    if (previous && previous.nextOffset !== baseOffset) {
      fault = {path: path.join(dir, segmentFileName(baseOffset, '.log')), position: 0, offset: previous.nextOffset, reason: `segment starts at offset ${baseOffset} but the previous one ends before ${previous.nextOffset} (a segment is missing or overlaps)`}
      await refuseOrDrop(dir, fault, baseOffsets.slice(index), options, recoveryPoint)
      break
    }
    const isLast = index === baseOffsets.length - 1
    const crcFromOffset = options.readOnly && isLast ? -1 : recoveryPoint
    const opened = await Segment.open(dir, baseOffset, {readOnly: options.readOnly, crcFromOffset, indexIntervalBytes: options.indexIntervalBytes, nowMs: options.nowMs})
    segments.push(opened.segment)
    if (opened.indexesRepaired && !options.readOnly && opened.fault === null) {
      options.logger.info('rebuilt a missing or stale index', {segment: opened.segment.logPath})
    }
    if (opened.fault !== null) {
      fault = {path: opened.segment.logPath, ...opened.fault}
      if (!options.readOnly) await truncateTornTail(opened.segment, opened.fileBytes, fault, options, recoveryPoint)
      await refuseOrDrop(dir, fault, baseOffsets.slice(index + 1), options, recoveryPoint)
      break
    }
  }
  return {segments, fault: options.readOnly ? fault : null, recoveryPoint}
}

function refuseDamage(fault: LogFault, recoveryPoint: number): void {
  if (fault.offset < recoveryPoint) {
    throw new LignumError('CORRUPT_RECORD', `${fault.path} is damaged at position ${fault.position} (offset ${fault.offset}), below data already made durable: ${fault.reason}; inspect it with "lignum segments inspect --verify" and restore it from a replica`)
  }
}

async function truncateTornTail(segment: Segment, fileBytes: number, fault: LogFault, options: LoadOptions, recoveryPoint: number): Promise<void> {
  refuseDamage(fault, recoveryPoint)
  options.logger.warn('truncated a torn tail after a crash', {segment: segment.logPath, position: fault.position, offset: fault.offset, bytesTruncated: fileBytes - fault.position, reason: fault.reason})
  await segment.truncateToPosition(segment.sizeBytes)
}

async function refuseOrDrop(dir: string, fault: LogFault, laterBaseOffsets: number[], options: LoadOptions, recoveryPoint: number): Promise<void> {
  if (laterBaseOffsets.length === 0) return
  if (options.readOnly) {
    options.logger.warn('stopping at a bad batch; later segments are not read', {fault, segmentsSkipped: laterBaseOffsets.length})
    return
  }
  refuseDamage(fault, recoveryPoint)
  for (const baseOffset of laterBaseOffsets) {
    options.logger.warn('deleted a segment after the truncated tail', {segment: path.join(dir, segmentFileName(baseOffset, '.log'))})
    for (const suffix of ['.log', '.index', '.timeindex'] as const) {
      await unlink(path.join(dir, segmentFileName(baseOffset, suffix))).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error
      })
    }
  }
}
