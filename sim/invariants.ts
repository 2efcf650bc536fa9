/**
 * The checks run after every simulated step, over what every live replica's log holds (read
 * from its files) and what clients were told. Violations, by name:
 * - lost: an acknowledged record missing from a live in-sync replica (the controller may
 *   elect any of them), or, once healed, from any replica;
 * - changed: an acknowledged offset holding another value, or two values acknowledged at one offset;
 * - duplicated: one value at two offsets below a replica's high watermark;
 * - divergent: two replicas differing below the lower of their high watermarks;
 * - high-watermark: above a replica's own log end, above a live in-sync member's log end on
 *   the leader, or going back on a leader within one leadership;
 * - phantom: a record a consumer saw, missing or different on an in-sync replica;
 * - dense: offsets in a log not consecutive.
 */
import type {Partition} from '../src/broker/partition.js'
import {batchPositions, decodeRecordBatch} from '../src/format/record-batch.js'
import type {PartitionLog} from '../src/log/partition-log.js'

// Reads of a log while mirroring it go in pieces of this size.
const MIRROR_READ_BYTES = 256 * 1024

export interface ReplicaView {
  id: number
  /** The node's process life: a new one starts a new mirror. */
  life: number
  partition: Partition
}

export interface ControlView {
  leader: number
  leaderEpoch: number
  isr: readonly number[]
}

/** What one replica's log holds, kept in step with it: values by offset. */
interface Mirror {
  life: number
  values: string[]
  /** Changes whenever a value already mirrored may have changed (a new life, a truncation): what was checked against the older values is checked again. */
  generation: number
  /** Offsets below this hold distinct values (checked below the high watermark); value -> offset for them. */
  distinctBelow: number
  offsets: Map<string, number>
  /** Per expectation (acknowledged, seen): how many of its entries this mirror was found to hold. */
  held: Map<string, number>
}

/** Two mirrors agreed below `agreedBelow` when they had these generations. */
interface Agreement {
  generationOne: number
  generationTwo: number
  agreedBelow: number
}

// Node ids are small: a pair's key is one number, no string built per pair per step.
const PAIR_KEY_BASE = 1024

export interface CheckerOptions {
  /**
   * True (a process crash loses nothing written): every live in-sync replica must hold every
   * acknowledged record at every step. False (power loss may cut a replica's unsynced tail):
   * the leader must, at every step, and every replica once healed.
   */
  everyInSyncReplicaHoldsCommitted: boolean
}

export class InvariantChecker {
  readonly violations: string[] = []
  /** Offset -> value, as producers were acknowledged. */
  readonly acknowledged = new Map<number, string>()
  /** Offset -> value, as consumers saw them. */
  readonly seen = new Map<number, string>()
  /** The same entries in the order they arrived, so a replica is checked only against new ones. */
  private readonly expected = {acknowledged: [] as [number, string][], seen: [] as [number, string][]}
  private readonly agreements = new Map<number, Agreement>()
  private generations = 0
  private readonly mirrors = new Map<number, Mirror>()
  /** Replicas whose log refused a read (damage detected), with why. */
  readonly damaged = new Map<number, string>()
  /** Per node: the leadership (process life and epoch) and the highest high watermark it had. */
  private readonly leaderWatermarks = new Map<number, {key: string; highWatermark: number}>()

  constructor(private readonly options: CheckerOptions = {everyInSyncReplicaHoldsCommitted: true}) {}

  recordAcknowledged(offset: number, value: string): void {
    const before = this.acknowledged.get(offset)
    if (before !== undefined && before !== value) this.fail(`changed: offset ${offset} acknowledged as ${before} and as ${value}`)
    if (before === undefined) this.expected.acknowledged.push([offset, value])
    this.acknowledged.set(offset, value)
  }

  recordSeen(offset: number, value: string): void {
    const before = this.seen.get(offset)
    if (before !== undefined && before !== value) this.fail(`phantom: a consumer saw ${before} and later ${value} at offset ${offset}`)
    if (before === undefined) this.expected.seen.push([offset, value])
    this.seen.set(offset, value)
  }

  /** The step's checks; `healed` adds that every replica holds every acknowledged record. */
  async check(replicas: ReplicaView[], control: ControlView, healed = false): Promise<void> {
    const logs = new Map<number, string[]>()
    for (const replica of replicas) logs.set(replica.id, await this.mirror(replica))
    const leaderReplica = replicas.find((replica) => replica.id === control.leader)
    // Leads: acts as leader (cluster-replication.ts's guard), not merely named in a state given to an earlier process of its node.
    if (leaderReplica && this.damaged.has(leaderReplica.id) && leaderReplica.partition.actsAsLeader) {
      this.fail(`damaged-leader: node ${leaderReplica.id} leads with a log that refuses reads (${this.damaged.get(leaderReplica.id)})`)
    }
    // A damaged replica refuses what it cannot read; it is judged by whether it leads (above), not by what it holds.
    const readable = replicas.filter((replica) => !this.damaged.has(replica.id))
    for (const replica of readable) this.checkReplica(replica, logs.get(replica.id) as string[])
    this.checkAgreement(readable, logs)
    const strict = healed || this.options.everyInSyncReplicaHoldsCommitted
    const isrMembers = readable.filter((replica) => (strict ? healed || control.isr.includes(replica.id) : replica.id === control.leader && replica.partition.actsAsLeader))
    for (const replica of isrMembers) {
      const log = logs.get(replica.id) as string[]
      this.checkHolds(replica.id, log, 'acknowledged', 'lost', 'acknowledged')
      this.checkHolds(replica.id, log, 'seen', 'phantom', 'seen by a consumer')
    }
    const leader = replicas.find((replica) => replica.id === control.leader)
    if (leader && leader.partition.role === 'leader' && leader.partition.leaderEpoch === control.leaderEpoch) {
      this.checkLeader(leader, replicas.filter((replica) => control.isr.includes(replica.id)))
    }
  }

  private checkReplica(replica: ReplicaView, log: string[]): void {
    const {partition, id} = replica
    if (partition.highWatermark > partition.logEndOffset) this.fail(`high-watermark: node ${id} has high watermark ${partition.highWatermark} above its log end ${partition.logEndOffset}`)
    // Offsets below distinctBelow were checked against values that have not changed since (else the generation, and the mirror's cache, would be new).
    const mirror = this.mirrors.get(id) as Mirror
    for (let offset = mirror.distinctBelow; offset < Math.min(partition.highWatermark, log.length); offset++) {
      const earlier = mirror.offsets.get(log[offset])
      if (earlier !== undefined) this.fail(`duplicated: node ${id} holds ${log[offset]} at offsets ${earlier} and ${offset} below its high watermark`)
      else mirror.offsets.set(log[offset], offset)
      mirror.distinctBelow = offset + 1
    }
  }

  private checkAgreement(replicas: ReplicaView[], logs: Map<number, string[]>): void {
    for (let a = 0; a < replicas.length; a++) {
      for (let b = a + 1; b < replicas.length; b++) {
        const one = replicas[a]
        const two = replicas[b]
        const below = Math.min(one.partition.highWatermark, two.partition.highWatermark)
        const logOne = logs.get(one.id) as string[]
        const logTwo = logs.get(two.id) as string[]
        const pair = one.id * PAIR_KEY_BASE + two.id
        const generationOne = (this.mirrors.get(one.id) as Mirror).generation
        const generationTwo = (this.mirrors.get(two.id) as Mirror).generation
        let known = this.agreements.get(pair)
        if (!known || known.generationOne !== generationOne || known.generationTwo !== generationTwo) {
          known = {generationOne, generationTwo, agreedBelow: 0}
          this.agreements.set(pair, known)
        }
        let offset = known.agreedBelow
        for (; offset < below; offset++) {
          if (logOne[offset] !== logTwo[offset]) {
            this.fail(`divergent: nodes ${one.id} and ${two.id} differ at offset ${offset} (${logOne[offset]} / ${logTwo[offset]}) below high watermarks ${one.partition.highWatermark}/${two.partition.highWatermark}`)
            break
          }
        }
        known.agreedBelow = Math.max(offset, known.agreedBelow)
      }
    }
  }

  private checkHolds(id: number, log: string[], which: 'acknowledged' | 'seen', kind: string, how: string): void {
    const mirror = this.mirrors.get(id) as Mirror
    const expected = this.expected[which]
    // Entries before `held` were found in this mirror's values, unchanged since (same generation).
    for (let index = mirror.held.get(which) ?? 0; index < expected.length; index++) {
      const [offset, value] = expected[index]
      if (log[offset] !== value) {
        this.fail(`${kind}: ${value} ${how} at offset ${offset}, but in-sync node ${id} holds ${log[offset] ?? 'nothing'} there (log end ${log.length})`)
        return
      }
      mirror.held.set(which, index + 1)
    }
  }

  private checkLeader(leader: ReplicaView, isrMembers: ReplicaView[]): void {
    const {partition} = leader
    const key = `${leader.life}/${partition.leaderEpoch}`
    const before = this.leaderWatermarks.get(leader.id)
    if (before && before.key === key && partition.highWatermark < before.highWatermark) {
      this.fail(`high-watermark: leader ${leader.id} went back from ${before.highWatermark} to ${partition.highWatermark} at epoch ${partition.leaderEpoch}`)
    }
    this.leaderWatermarks.set(leader.id, {key, highWatermark: Math.max(partition.highWatermark, before?.key === key ? before.highWatermark : 0)})
    // Power loss may cut an in-sync replica's tail until the controller takes it out of the ISR.
    if (!this.options.everyInSyncReplicaHoldsCommitted) return
    for (const member of isrMembers) {
      if (partition.highWatermark > member.partition.logEndOffset) {
        this.fail(`high-watermark: leader ${leader.id} has high watermark ${partition.highWatermark} above in-sync node ${member.id}'s log end ${member.partition.logEndOffset}`)
      }
    }
  }

  /** The replica's values by offset, reading only what is new since the last step. */
  private async mirror(replica: ReplicaView): Promise<string[]> {
    let mirror = this.mirrors.get(replica.id)
    if (!mirror || mirror.life !== replica.life) {
      this.damaged.delete(replica.id)
      mirror = this.newMirror(replica.life)
      this.mirrors.set(replica.id, mirror)
    }
    const log = (replica.partition as unknown as {log: PartitionLog}).log
    const damageKnown = log.damageFound !== null
    const end = replica.partition.logEndOffset
    if (mirror.values.length > end) {
      const values = mirror.values.slice(0, end)
      mirror = {...this.newMirror(replica.life), values}
      this.mirrors.set(replica.id, mirror)
    }
    while (mirror.values.length < end) {
      const from = mirror.values.length
      let read
      try {
        read = await log.read(from, {maxBytes: MIRROR_READ_BYTES})
      } catch (error) {
        // A damaged batch (a flipped bit) is refused, never served: the replica holds nothing readable past it.
        this.damaged.set(replica.id, `${(error as Error).message}`)
        // The checker only looks: what its read found is for the node's own reads and verification to find.
        if (!damageKnown) (log as unknown as {firstDamageFoundByRead: unknown}).firstDamageFoundByRead = null
        break
      }
      if (read.batches.length === 0) break
      for (const {position} of batchPositions(read.batches)) {
        for (const record of decodeRecordBatch(read.batches, position).records) {
          if (record.offset !== mirror.values.length) {
            this.fail(`dense: node ${replica.id} holds offset ${record.offset} after ${mirror.values.length - 1}`)
            return mirror.values
          }
          mirror.values.push(record.value?.toString() ?? '')
        }
      }
    }
    return mirror.values
  }

  private newMirror(life: number): Mirror {
    return {life, values: [], generation: ++this.generations, distinctBelow: 0, offsets: new Map(), held: new Map()}
  }

  private fail(violation: string): void {
    if (!this.violations.includes(violation)) this.violations.push(violation)
  }
}
