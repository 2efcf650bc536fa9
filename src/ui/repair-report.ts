/**
 * Text rendering of `lignum segments repair`: the damage, what the partition keeps, and a row
 * per file (or file tail) that leaves it, with bytes, batches, records and offsets, so the
 * operator confirms knowing exactly what goes.
 */
import path from 'node:path'
import type {RepairDrop, RepairPlan} from '../log/repair.js'
import {renderTable} from './topic-table.js'

function plural(count: number, word: string, words = `${word}s`): string {
  return `${count} ${count === 1 ? word : words}`
}

function offsets(drop: RepairDrop): string {
  if (drop.firstOffset < 0) return '-'
  return `${drop.firstOffset} to ${drop.lastOffset}`
}

function what(drop: RepairDrop): string {
  const extra = drop.unreadableBytes > 0 ? `, ${drop.unreadableBytes} bytes unreadable` : ''
  return drop.whole ? `whole segment, with its indexes${extra}` : `cut from position ${drop.fromPosition}; the segment keeps what is before${extra}`
}

export function renderRepairPlan(plan: RepairPlan): string {
  const name = `${plan.topic}-${plan.partition}`
  if (plan.damage === null) {
    return `${name} has no damage: every batch's length, offsets and CRC-32C hold (offsets ${plan.keep.logStartOffset} to ${plan.keep.logEndOffset - 1}); nothing to repair.`
  }
  const {keep, totals} = plan
  const kept = keep.records > 0 ? `offsets ${keep.logStartOffset} to ${keep.logEndOffset - 1} (${plural(keep.records, 'record')})` : `no records (the log restarts at offset ${keep.logEndOffset})`
  const rows = plan.drops.map((drop) => [path.basename(drop.file), drop.bytes, drop.batches, drop.records, offsets(drop), what(drop)])
  return [
    `${name} is damaged (${plan.damage.kind}): ${plan.damage.file} at position ${plan.damage.position} (offset ${plan.damage.offset}): ${plan.damage.reason}`,
    '',
    `The repair keeps ${kept} in ${plural(keep.segments, 'segment')}, and moves out of the log into ${plan.quarantineDir}:`,
    renderTable(['FILE', 'BYTES', 'BATCHES', 'RECORDS', 'OFFSETS', 'WHAT'], rows)
      .split('\n')
      .map((line) => `  ${line}`)
      .join('\n'),
    '',
    `In all ${totals.bytes} bytes, ${plural(totals.batches, 'batch', 'batches')} and ${plural(totals.records, 'record')} leave the log; offsets from ${keep.logEndOffset} on are lost and the next record appended gets offset ${keep.logEndOffset}.`,
  ].join('\n')
}

export function renderRepairDone(plan: RepairPlan, logEndOffset: number): string {
  return `Repaired ${plan.topic}-${plan.partition}: its log now ends at offset ${logEndOffset}; what left it is in ${plan.quarantineDir}. Start the node to serve it again.`
}
