/**
 * A partition the broker holds offline because its files are damaged (log/damage.ts): its log
 * is not open, nothing is read from or written to it, and every request for it is answered
 * with the damage and the offline repair. The node serves every other partition. It stays so
 * until the node restarts after `lignum segments repair`.
 */
import {repairCommandFor, type PartitionDamage, type PartitionDamagedError} from '../log/damage.js'

export class DamagedPartition {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly dir: string,
    /** What opening (or first reading) the log threw: the error every request gets. */
    readonly error: PartitionDamagedError,
  ) {}

  get damage(): PartitionDamage {
    return this.error.damage
  }

  get repairCommand(): string {
    return repairCommandFor(this.dir, this.topic, this.partition)
  }

  /** Nothing is open. */
  async close(): Promise<void> {}
}
