/**
 * Damage: what a partition's files hold that no crash can have left behind, so that neither
 * recovery nor a read may quietly cut it away or serve it (recovery.ts says precisely which
 * faults are damage and which are torn tails). A damaged partition is taken offline alone:
 * the error carries the structured fault, so the caller (the broker, an offline reader) can
 * report it and keep serving everything else, and names the offline repair.
 */
import path from 'node:path'
import {LignumError} from '../errors.js'

export type DamageKind =
  /** A batch whose length, header, offsets or CRC do not hold, where a crash cannot tear one. */
  | 'damaged-batch'
  /** A segment starts after the previous one ends: the segment between them is gone. */
  | 'missing-segment'
  /** A segment starts before the previous one ends: two files claim the same offsets. */
  | 'overlapping-segment'

export interface PartitionDamage {
  kind: DamageKind
  reason: string
  /** The `.log` file the damage is in (for a missing segment: the first file after the gap). */
  file: string
  /** Byte position in `file` where the first bad batch starts (0 for a segment gap). */
  position: number
  /** The offset the first bad batch (or the missing segment) should have started at. */
  offset: number
}

/** The offline command that repairs the partition in `partitionDir` (`<data-dir>/<topic>-<partition>`). */
export function repairCommandFor(partitionDir: string, topic: string, partition: number): string {
  return `lignum segments repair --data-dir ${path.dirname(partitionDir)} -t ${topic} -p ${partition}`
}

export function describeDamage(damage: PartitionDamage): string {
  return `${damage.file} at position ${damage.position} (offset ${damage.offset}): ${damage.reason}`
}

/** A partition whose files are damaged: it stays offline, unchanged, until repaired. */
export class PartitionDamagedError extends LignumError {
  constructor(
    readonly damage: PartitionDamage,
    readonly topic: string,
    readonly partition: number,
    readonly dir: string,
    /** Where the damage was met: opening the log, or reading it while serving. */
    readonly foundWhile: 'open' | 'read' = 'open',
  ) {
    const stopFirst = foundWhile === 'read' ? 'stop the node, then ' : ''
    super(
      'PARTITION_DAMAGED',
      `partition ${topic}-${partition} is damaged: ${describeDamage(damage)}; nothing was changed`,
      {hint: `see what is lost with "lignum segments inspect --verify" and repair it offline (${stopFirst}run: ${repairCommandFor(dir, topic, partition)})`},
    )
  }
}
