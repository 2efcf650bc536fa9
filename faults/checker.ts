/**
 * The fault suite's checker, in the spirit of Jepsen's Kafka workload: a pure function from
 * what the producers were told, what the consumers saw and what every replica holds after the
 * faults healed, to counts of each kind of violation. It does no I/O, so every kind is proven
 * by hand-built inputs in test/faults/checker.test.ts.
 *
 * Invariants it relies on: every produced value is unique in a run (the workload numbers them),
 * so a value found at two offsets is a duplicate and not two writes. The reference log of a
 * partition is the first replica the caller lists (the leader after healing); the others are
 * compared with it below the high watermark (divergence). Losses of acks=1 records are counted
 * apart and are not violations: acks=1 promises one copy, which a failure may take away.
 */

export type Acks = 1 | 'all'

/** What the producer was told about one value: an offset, or an error (the value may or may not be stored). */
export type ProduceOutcome = {kind: 'acknowledged'; offset: number} | {kind: 'failed'}

export interface ProducedRecord {
  value: string
  partition: number
  acks: Acks
  outcome: ProduceOutcome
  /** When the producer was handed the value and when its answer came (ms, one clock for the run). */
  sentAtMs: number
  answeredAtMs: number
}

export interface ObservedRecord {
  partition: number
  offset: number
  value: string
}

export interface ConsumerObservations {
  consumer: string
  records: ObservedRecord[]
}

export interface StoredRecord {
  offset: number
  value: string
}

/** One replica's copy of one partition, read after healing. */
export interface ReplicaLog {
  node: string
  partition: number
  records: StoredRecord[]
}

/**
 * A span of time in which the partition had fewer live replicas than its min ISR. An acks=all
 * acknowledgement answered inside it is a single-copy ack if the record was handed to the
 * producer inside it too, or if its offset is at or above `copiedBelowOffset`: the end of the
 * stopped followers' logs, read from their files while they were stopped.
 */
export interface UnderReplicatedWindow {
  partition: number
  fromMs: number
  toMs: number
  copiedBelowOffset?: number
}

export interface CheckInput {
  produced: ProducedRecord[]
  consumers: ConsumerObservations[]
  /** Every replica of every partition; per partition the first listed is the reference (the leader). */
  replicas: ReplicaLog[]
  /** Per partition, the high watermark after healing: replicas must agree below it. */
  highWatermarks: Map<number, number>
  underReplicatedWindows?: UnderReplicatedWindow[]
}

export interface Violations {
  /** acks=all acknowledged values found nowhere in the final log. */
  lost: number
  /** Values stored at more than one offset. */
  duplicated: number
  /** acks=all acknowledged offsets that hold another value. */
  changed: number
  /** (partition, offset) positions below the high watermark where replicas differ. */
  divergent: number
  /** Times a consumer's offset in a partition did not move forward. */
  nonMonotonic: number
  /** Records a consumer saw that the final log does not hold at that offset. */
  phantom: number
  /** acks=all values acknowledged while the partition could not have had min ISR copies. */
  underReplicatedAcks: number
}

export interface CheckResult {
  violations: Violations
  acknowledged: number
  failed: number
  /** acks=1 acknowledged values missing from the final log: reported, never a failure. */
  lostAcks1: number
  /** A few examples per kind, for a person reading a failing run. */
  examples: Partial<Record<keyof Violations, string[]>>
}

const EXAMPLES_PER_KIND = 5

/** Index of a partition's reference log: offset to value, and value to the offsets holding it. */
interface FinalLog {
  byOffset: Map<number, string>
  offsetsOf: Map<string, number[]>
}

export function check(input: CheckInput): CheckResult {
  const examples: CheckResult['examples'] = {}
  const note = (kind: keyof Violations, text: string) => {
    const list = (examples[kind] ??= [])
    if (list.length < EXAMPLES_PER_KIND) list.push(text)
  }
  const finals = referenceLogs(input.replicas)
  const violations: Violations = {lost: 0, duplicated: 0, changed: 0, divergent: 0, nonMonotonic: 0, phantom: 0, underReplicatedAcks: 0}
  let acknowledged = 0
  let failed = 0
  let lostAcks1 = 0
  for (const record of input.produced) {
    if (record.outcome.kind === 'failed') {
      failed++
      continue
    }
    acknowledged++
    const final = finals.get(record.partition) ?? emptyLog()
    const missing = !final.offsetsOf.has(record.value)
    if (record.acks === 1) {
      if (missing) lostAcks1++
      continue
    }
    if (missing) {
      violations.lost++
      note('lost', `${record.value} acknowledged at ${record.partition}/${record.outcome.offset}`)
    }
    const held = final.byOffset.get(record.outcome.offset)
    if (held !== undefined && held !== record.value) {
      violations.changed++
      note('changed', `${record.partition}/${record.outcome.offset} acknowledged for ${record.value} holds ${held}`)
    }
  }
  for (const [partition, final] of finals) {
    for (const [value, offsets] of final.offsetsOf) {
      if (offsets.length < 2) continue
      violations.duplicated++
      note('duplicated', `${value} at ${partition}/${offsets.join(',')}`)
    }
  }
  violations.divergent = countDivergence(input.replicas, input.highWatermarks, (text) => note('divergent', text))
  for (const consumer of input.consumers) {
    violations.nonMonotonic += countNonMonotonic(consumer, (text) => note('nonMonotonic', text))
    for (const seen of consumer.records) {
      if (finals.get(seen.partition)?.byOffset.get(seen.offset) === seen.value) continue
      violations.phantom++
      note('phantom', `${consumer.consumer} saw ${seen.value} at ${seen.partition}/${seen.offset}`)
    }
  }
  violations.underReplicatedAcks = countUnderReplicatedAcks(input.produced, input.underReplicatedWindows ?? [], (text) => note('underReplicatedAcks', text))
  return {violations, acknowledged, failed, lostAcks1, examples}
}

export function totalViolations(violations: Violations): number {
  return Object.values(violations).reduce((sum, count) => sum + count, 0)
}

function emptyLog(): FinalLog {
  return {byOffset: new Map(), offsetsOf: new Map()}
}

function referenceLogs(replicas: ReplicaLog[]): Map<number, FinalLog> {
  const finals = new Map<number, FinalLog>()
  for (const replica of replicas) {
    if (finals.has(replica.partition)) continue
    const final = emptyLog()
    for (const record of replica.records) {
      final.byOffset.set(record.offset, record.value)
      const offsets = final.offsetsOf.get(record.value) ?? []
      offsets.push(record.offset)
      final.offsetsOf.set(record.value, offsets)
    }
    finals.set(replica.partition, final)
  }
  return finals
}

/** Positions below the high watermark where some replica holds another value than the reference, or none. */
function countDivergence(replicas: ReplicaLog[], highWatermarks: Map<number, number>, note: (text: string) => void): number {
  const byPartition = new Map<number, ReplicaLog[]>()
  for (const replica of replicas) byPartition.set(replica.partition, [...(byPartition.get(replica.partition) ?? []), replica])
  let divergent = 0
  for (const [partition, logs] of byPartition) {
    const highWatermark = highWatermarks.get(partition) ?? 0
    const maps = logs.map((log) => new Map(log.records.map((record) => [record.offset, record.value])))
    for (let offset = 0; offset < highWatermark; offset++) {
      const values = new Set(maps.map((map) => map.get(offset)))
      if (values.size === 1) continue
      divergent++
      note(`${partition}/${offset}: ${logs.map((log, index) => `${log.node}=${maps[index]!.get(offset) ?? 'missing'}`).join(' ')}`)
    }
  }
  return divergent
}

function countNonMonotonic(consumer: ConsumerObservations, note: (text: string) => void): number {
  const last = new Map<number, number>()
  let count = 0
  for (const seen of consumer.records) {
    const previous = last.get(seen.partition)
    if (previous !== undefined && seen.offset <= previous) {
      count++
      note(`${consumer.consumer}: ${seen.partition}/${seen.offset} after ${previous}`)
    }
    last.set(seen.partition, seen.offset)
  }
  return count
}

function countUnderReplicatedAcks(produced: ProducedRecord[], windows: UnderReplicatedWindow[], note: (text: string) => void): number {
  let count = 0
  for (const record of produced) {
    if (record.acks !== 'all' || record.outcome.kind !== 'acknowledged') continue
    const offset = record.outcome.offset
    const inside = windows.find((window) =>
      window.partition === record.partition && record.answeredAtMs >= window.fromMs && record.answeredAtMs <= window.toMs
      && (record.sentAtMs >= window.fromMs || (window.copiedBelowOffset !== undefined && offset >= window.copiedBelowOffset)))
    if (!inside) continue
    count++
    note(`${record.value} acknowledged at ${record.partition}/${offset}, sent ${record.sentAtMs - inside.fromMs} ms and answered ${record.answeredAtMs - inside.fromMs} ms after too few replicas were live (their copies end below ${inside.copiedBelowOffset ?? 'its send'})`)
  }
  return count
}
