/**
 * The offline repair of a damaged partition (`lignum segments repair`): the Kafka-like choice,
 * truncation to the last good batch. The partition keeps every whole batch before the first
 * damage; everything from it to the end leaves the log. Nothing is deleted: what leaves is
 * moved into a quarantine folder beside the partition, `<topic>-<partition>.damaged/<time>/`
 * (the bytes cut from the damaged segment as `<segment>.log.cut-at-<position>`, and every
 * later segment whole, with its indexes), for the operator to inspect or delete.
 *
 * Why everything after the damage goes, even intact later segments: offsets must stay dense,
 * and a log cannot skip the lost range. So a missing middle segment costs the segments after
 * it too; the next record appended takes the first lost offset, as after Kafka's unclean
 * truncation (consumers past it are told their offset is out of range).
 *
 * The plan is made first, from a read-only scan that CRC-checks every segment (an open checks
 * only what follows the recovery point), so the operator sees exactly what will go before
 * anything changes. Applying it: later segments move last first and the cut comes last, so a
 * repair interrupted by a crash leaves the same damage and can simply be run again. The
 * caller holds the data directory's lock: no server may run while files move.
 */
import {mkdir, open, rename, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../errors.js'
import {scanBatches} from './batch-scanner.js'
import type {PartitionDamage} from './damage.js'
import {defaultPartitionLogConfig, PartitionLog} from './partition-log.js'
import {listSegmentBaseOffsets, loadSegments, writeRecoveryPoint} from './recovery.js'
import {segmentFileName} from './segment.js'
import {selectPartitions} from './log-reader.js'

export const QUARANTINE_SUFFIX = '.damaged'
/** Cut bytes are copied to the quarantine in chunks of this size: bounded memory for any segment. */
const COPY_CHUNK_BYTES = 1024 * 1024

/** One file (or the tail of one) that leaves the log. */
export interface RepairDrop {
  file: string
  /** Where the cut starts; 0 with `whole` for a segment that moves entirely. */
  fromPosition: number
  whole: boolean
  bytes: number
  /** Batches whose headers still parse in what is dropped, and the records they hold. */
  batches: number
  records: number
  /** Offsets of those batches; -1 when none parses. */
  firstOffset: number
  lastOffset: number
  /** Bytes past the last batch header that parses (no batch can be read from them). */
  unreadableBytes: number
}

export interface RepairPlan {
  dataDir: string
  topic: string
  partition: number
  dir: string
  /** The first damage a full CRC scan finds (a torn tail counts too); null: nothing to repair. */
  damage: PartitionDamage | null
  /** What the log holds after the repair. */
  keep: {logStartOffset: number; logEndOffset: number; records: number; segments: number}
  quarantineDir: string
  drops: RepairDrop[]
  totals: {bytes: number; batches: number; records: number}
}

export async function planRepair(dataDir: string, topic: string, partition: number, nowMs = Date.now()): Promise<RepairPlan> {
  const [location] = await selectPartitions(dataDir, topic, partition)
  const dir = location.dir
  const baseOffsets = await listSegmentBaseOffsets(dir)
  if (baseOffsets.length === 0) throw new LignumError('DATA_DIR', `${dir} holds no segment files (<base offset>.log); there is nothing to repair`)
  const loaded = await loadSegments(dir, {readOnly: true, crcFromOffset: 0, indexIntervalBytes: defaultPartitionLogConfig.indexIntervalBytes, nowMs, logger: {info() {}, warn() {}}})
  const keptSegments = loaded.segments.map((segment) => ({baseOffset: segment.baseOffset, nextOffset: segment.nextOffset}))
  for (const segment of loaded.segments) await segment.closeHandle()
  const quarantineDir = path.join(`${dir}${QUARANTINE_SUFFIX}`, new Date(nowMs).toISOString().replaceAll(':', '-'))
  const base = {dataDir, topic, partition, dir, quarantineDir}
  const logStartOffset = keptSegments[0]?.baseOffset ?? baseOffsets[0]
  if (loaded.fault === null) {
    const logEndOffset = keptSegments.at(-1)?.nextOffset ?? logStartOffset
    return {...base, damage: null, keep: {logStartOffset, logEndOffset, records: logEndOffset - logStartOffset, segments: keptSegments.length}, drops: [], totals: {bytes: 0, batches: 0, records: 0}}
  }
  const damage: PartitionDamage = loaded.damage ?? {kind: 'damaged-batch', reason: `${loaded.fault.reason} (a torn tail past the recovery point: a writable open would cut it too)`, file: loaded.fault.path, position: loaded.fault.position, offset: loaded.fault.offset}
  const drops = await dropsFor(dir, baseOffsets, damage)
  const wholeMoves = drops.filter((drop) => drop.whole).length
  return {
    ...base,
    damage,
    keep: {logStartOffset, logEndOffset: damage.offset, records: damage.offset - logStartOffset, segments: baseOffsets.length - wholeMoves},
    drops,
    totals: {
      bytes: drops.reduce((sum, drop) => sum + drop.bytes, 0),
      batches: drops.reduce((sum, drop) => sum + drop.batches, 0),
      records: drops.reduce((sum, drop) => sum + drop.records, 0),
    },
  }
}

/** A damaged batch cuts its own segment; a segment gap moves the first file after it. Every later segment moves whole. */
async function dropsFor(dir: string, baseOffsets: number[], damage: PartitionDamage): Promise<RepairDrop[]> {
  const damagedIndex = baseOffsets.findIndex((offset) => path.join(dir, segmentFileName(offset, '.log')) === damage.file)
  if (damagedIndex < 0) throw new LignumError('INTERNAL', `the damaged file ${damage.file} is not among the segments of ${dir}`)
  const drops: RepairDrop[] = []
  const firstWhole = damage.kind === 'damaged-batch' ? damagedIndex + 1 : damagedIndex
  if (damage.kind === 'damaged-batch') drops.push(await describeBytes(damage.file, damage.position, false))
  for (const offset of baseOffsets.slice(firstWhole)) drops.push(await describeBytes(path.join(dir, segmentFileName(offset, '.log')), 0, true))
  return drops
}

async function describeBytes(file: string, fromPosition: number, whole: boolean): Promise<RepairDrop> {
  const handle = await open(file, 'r')
  try {
    const fileBytes = (await handle.stat()).size
    let batches = 0
    let records = 0
    let firstOffset = -1
    let lastOffset = -1
    const result = scanBatches({
      fd: handle.fd,
      startPosition: fromPosition,
      endPosition: fileBytes,
      expectedOffset: null,
      verifyCrc: false,
      onBatch: (header) => {
        batches++
        records += header.lastOffsetDelta + 1
        if (firstOffset < 0) firstOffset = header.baseOffset
        lastOffset = header.lastOffset
      },
    })
    return {file, fromPosition, whole, bytes: fileBytes - fromPosition, batches, records, firstOffset, lastOffset, unreadableBytes: fileBytes - result.endPosition}
  } finally {
    await handle.close()
  }
}

/** Carries out a plan made by planRepair (with the data directory locked), then opens the log once to prove it whole. */
export async function applyRepair(plan: RepairPlan): Promise<{logEndOffset: number}> {
  if (plan.damage === null) throw new LignumError('INVALID_ARGUMENT', `${plan.topic}-${plan.partition} has no damage; there is nothing to repair`)
  await mkdir(plan.quarantineDir, {recursive: true})
  const cut = plan.drops.find((drop) => !drop.whole)
  if (cut) await copyTail(cut.file, cut.fromPosition, path.join(plan.quarantineDir, `${path.basename(cut.file)}.cut-at-${cut.fromPosition}`))
  for (const drop of [...plan.drops].reverse()) {
    if (!drop.whole) continue
    for (const suffix of ['.log', '.index', '.timeindex']) {
      const from = drop.file.replace(/\.log$/, suffix)
      await rename(from, path.join(plan.quarantineDir, path.basename(from))).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error
      })
    }
  }
  if (cut) await truncateDurably(cut.file, cut.fromPosition)
  await syncDirectory(plan.quarantineDir)
  await syncDirectory(path.dirname(plan.quarantineDir))
  await syncDirectory(plan.dir)
  // Everything kept was on disk and passed its CRC: the recovery point is the new end.
  await writeRecoveryPoint(plan.dir, plan.keep.logEndOffset)
  await writeFile(path.join(plan.quarantineDir, 'REPAIR.json'), JSON.stringify({repairedAtMs: Date.now(), ...plan}, null, 2) + '\n')
  // A writable open rebuilds the cut segment's indexes and drops leader epochs past the end.
  const log = await PartitionLog.open(plan.dir, {}, {logger: {info() {}, warn() {}}})
  const logEndOffset = log.logEndOffset
  await log.close()
  return {logEndOffset}
}

async function copyTail(file: string, fromPosition: number, target: string): Promise<void> {
  const source = await open(file, 'r')
  const copy = await open(target, 'wx')
  try {
    const size = (await source.stat()).size
    const chunk = Buffer.allocUnsafe(COPY_CHUNK_BYTES)
    for (let position = fromPosition; position < size; ) {
      const {bytesRead} = await source.read(chunk, 0, Math.min(chunk.length, size - position), position)
      if (bytesRead === 0) break
      await copy.write(chunk, 0, bytesRead)
      position += bytesRead
    }
    await copy.datasync()
  } finally {
    await source.close()
    await copy.close()
  }
}

async function truncateDurably(file: string, position: number): Promise<void> {
  const handle = await open(file, 'r+')
  try {
    await handle.truncate(position)
    await handle.datasync()
  } finally {
    await handle.close()
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
