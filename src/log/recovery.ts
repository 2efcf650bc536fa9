/**
 * Opening a partition directory: finds its segments, scans them, and repairs what a crash
 * can leave behind, and only that. Every segment's batch headers are scanned (that rebuilds
 * the indexes); segments holding offsets at or past the recovery point (the last offset known
 * to be on disk, written by the log after each fdatasync) are CRC-checked too.
 *
 * What a scan can find, and what each is:
 *
 * - A torn tail: the first bad batch (length, header, offsets or CRC) is in the LAST segment
 *   and starts at or past the recovery point. Those bytes were never known to be on disk: a
 *   crash (kill -9, power loss) leaves exactly this. A writable open truncates the segment at
 *   the last whole batch and logs what it cut; that is normal crash recovery.
 * - Damage: anything else, which no crash can leave:
 *   - a bad batch below the recovery point: it was once fdatasync'd whole (a batch cut short
 *     after a clean stop is this case, since a clean close moves the recovery point to the end);
 *   - a bad batch in a segment that another segment follows: a roll fdatasyncs a segment
 *     before it creates the next one, so a closed segment was whole on disk;
 *   - a gap or an overlap between segments (a middle segment deleted or copied in): no
 *     operation of the log leaves one (retention removes from the front, truncation from the
 *     end).
 *   A writable open changes nothing and throws PartitionDamagedError carrying the structured
 *   fault (damage.ts), so the caller can take this partition offline and serve the rest; a
 *   read-only open stops there and reports it. `lignum segments repair` fixes it offline.
 *   (Kafka flushes a rolled segment in the background, so a Kafka directory left by kill -9
 *   can show the second case and then needs the repair; Lignum's own never does.)
 *
 * Segments wholly below the recovery point are not CRC-checked here (a full read of every
 * old segment at each start would cost too much): segment.ts checks each of their batches the
 * first time a read returns it, refuses one that fails and the log reports it once; the
 * partition keeps serving the rest, its framing being intact.
 *
 * The recovery point file (`lignum-recovery-point`, Lignum's own; Kafka keeps the same number
 * in a per-directory `recovery-point-offset-checkpoint`) is text:
 *
 *   0          version
 *   1500       every offset below this was fdatasync'd
 */
import path from 'node:path'
import {replaceFileAtomically} from './atomic-file.js'
import {PartitionDamagedError, type PartitionDamage} from './damage.js'
import {fileSystem} from './file-system.js'
import {parseSegmentFileName, Segment, segmentFileName} from './segment.js'
import type {OpenFile} from './segment-handles.js'
import {parsePartitionDirName} from './topic-name.js'

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
  /** Damage an operator must repair; loggers without it report it as a warning. */
  error?(message: string, fields?: object): void
}

export interface LoadOptions {
  readOnly: boolean
  /** CRC-check every segment holding offsets at or past this (default: the recovery point; 0 checks all). */
  crcFromOffset?: number
  indexIntervalBytes: number
  nowMs: number
  logger: LogLogger
  openFile?: OpenFile
}

export interface LoadedSegments {
  segments: Segment[]
  /** The first bad batch a read-only open stopped at, if any. */
  fault: LogFault | null
  /** That fault, when it is damage rather than a torn tail (read-only opens; a writable one throws). */
  damage: PartitionDamage | null
  recoveryPoint: number
}

export async function listSegmentBaseOffsets(dir: string): Promise<number[]> {
  const names = await fileSystem().readdir(dir)
  const offsets: number[] = []
  for (const name of names) {
    const offset = parseSegmentFileName(name)
    if (offset !== null) offsets.push(offset)
  }
  return offsets.sort((a, b) => a - b)
}

export async function readRecoveryPoint(dir: string): Promise<number> {
  try {
    const lines = (await fileSystem().readTextFile(path.join(dir, RECOVERY_POINT_FILE))).split('\n')
    const offset = Number(lines[1])
    // A missing or unreadable checkpoint only costs a full CRC scan: start from zero.
    return lines[0] === '0' && Number.isSafeInteger(offset) && offset >= 0 ? offset : 0
  } catch {
    return 0
  }
}

/** Replaced atomically and durably, like every checkpoint. */
export async function writeRecoveryPoint(dir: string, offset: number): Promise<void> {
  await replaceFileAtomically(path.join(dir, RECOVERY_POINT_FILE), `0\n${offset}\n`)
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
  // A read-only open stops at the first fault; the caller reports it (later segments are not read).
  const stopped = (fault: LogFault, damage: PartitionDamage | null): LoadedSegments => ({segments, fault, damage, recoveryPoint})
  for (let index = 0; index < baseOffsets.length; index++) {
    const baseOffset = baseOffsets[index]
    const previous = segments.at(-1)
    if (previous && previous.nextOffset !== baseOffset) {
      const damage = segmentGap(dir, baseOffset, previous.nextOffset)
      if (!options.readOnly) throw damagedError(dir, damage)
      return stopped({path: damage.file, position: 0, offset: damage.offset, reason: damage.reason}, damage)
    }
    const isLast = index === baseOffsets.length - 1
    const crcFromOffset = options.crcFromOffset ?? (options.readOnly && isLast ? -1 : recoveryPoint)
    const opened = await Segment.open(dir, baseOffset, {readOnly: options.readOnly, crcFromOffset, indexIntervalBytes: options.indexIntervalBytes, nowMs: options.nowMs, openFile: options.openFile})
    // Only the last segment stays active; the handles of the others go to the shared cache.
    previous?.deactivate()
    segments.push(opened.segment)
    if (opened.indexesRepaired && !options.readOnly && opened.fault === null) {
      options.logger.info('rebuilt a missing or stale index', {segment: opened.segment.logPath})
    }
    if (opened.fault === null) continue
    const fault: LogFault = {path: opened.segment.logPath, ...opened.fault}
    const damage = isLast && fault.offset >= recoveryPoint ? null : damagedBatch(fault, recoveryPoint)
    if (options.readOnly) return stopped(fault, damage)
    if (damage !== null) throw damagedError(dir, damage)
    options.logger.warn('truncated a torn tail after a crash', {segment: fault.path, position: fault.position, offset: fault.offset, bytesTruncated: opened.fileBytes - fault.position, reason: fault.reason})
    await opened.segment.truncateToPosition(opened.segment.sizeBytes)
    // A recovered segment ends its time index as Kafka's LogSegment.recover leaves it.
    opened.segment.seal()
  }
  return {segments, fault: null, damage: null, recoveryPoint}
}

/** Why a bad batch that is not a torn tail is damage, in its reason. */
function damagedBatch(fault: LogFault, recoveryPoint: number): PartitionDamage {
  const why = fault.offset < recoveryPoint
    ? `offsets below ${recoveryPoint} were on disk whole before (the recovery point), so this is damage, not a torn write`
    : 'later segments follow this one, and a segment is on disk whole before the next is created, so this is damage, not a torn write'
  return {kind: 'damaged-batch', reason: `${fault.reason}; ${why}`, file: fault.path, position: fault.position, offset: fault.offset}
}

function segmentGap(dir: string, baseOffset: number, expectedOffset: number): PartitionDamage {
  const file = path.join(dir, segmentFileName(baseOffset, '.log'))
  if (baseOffset > expectedOffset) {
    return {kind: 'missing-segment', reason: `offsets ${expectedOffset} to ${baseOffset - 1} are missing: the previous segment ends before ${expectedOffset} but this one starts at ${baseOffset} (a segment file was deleted or moved)`, file, position: 0, offset: expectedOffset}
  }
  return {kind: 'overlapping-segment', reason: `this segment starts at offset ${baseOffset} but the previous one already holds offsets up to ${expectedOffset - 1} (a segment file was copied in)`, file, position: 0, offset: expectedOffset}
}

function damagedError(dir: string, damage: PartitionDamage): PartitionDamagedError {
  const name = parsePartitionDirName(path.basename(dir))
  return new PartitionDamagedError(damage, name?.topic ?? path.basename(dir), name?.partition ?? 0, dir)
}
