/**
 * Idempotent produce, as Kafka does it: a producer stamps each batch with its producer id,
 * producer epoch and the sequence number of its first record (fields the v2 batch header
 * already has). A partition remembers the last few batches of each producer and checks every
 * new batch against them (Kafka's ProducerAppendInfo.checkSequence):
 *
 * - a batch equal to one of the last five (same epoch, first and last sequence) is a retry
 *   after a lost acknowledgement: answered with the offsets it was given the first time;
 * - otherwise, in the same epoch, its first sequence must be the last one plus 1 (wrapping
 *   after 2^31 - 1 to 0). A gap, or an older sequence that is not a remembered duplicate, is
 *   refused with OUT_OF_ORDER_SEQUENCE and nothing is appended;
 * - a newer epoch starts the producer afresh at sequence 0; an older epoch is fenced
 *   (INVALID_PRODUCER_EPOCH);
 * - a producer the partition does not know is accepted at any sequence: its state may have
 *   been lost (retention deleted its batches, or the table forgot an idle producer), and
 *   Kafka since KIP-360 accepts it too rather than failing a producer that did nothing wrong.
 *
 * Batches without a producer id (-1) are not tracked. The table is rebuilt after a restart
 * from a snapshot (producer-snapshot.ts) and the batches after it.
 */
import {LignumError} from '../errors.js'

export interface BatchOffsets {
  baseOffset: number
  lastOffset: number
}

export interface ProducerBatch {
  producerEpoch: number
  baseSequence: number
  lastSequence: number
  /** Pending while the first append is under way, so a retry that overtakes it waits for it. */
  offsets: Promise<BatchOffsets>
  /** Set once the batch is written: what a snapshot records. */
  written?: BatchOffsets & {maxTimestamp: number}
}

/** What a snapshot holds and a log replay learns: a batch already in the log. */
export interface WrittenProducerBatch {
  producerId: number
  producerEpoch: number
  baseSequence: number
  lastSequence: number
  baseOffset: number
  lastOffset: number
  maxTimestamp: number
}

export interface SequencedBatchHeader {
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordCount: number
}

// Kafka keeps five batches per producer: its producers have at most five in flight, so a
// retry can only be one of the last five.
export const BATCHES_REMEMBERED_PER_PRODUCER = 5
// Bounds the table's memory; the producer idle longest is forgotten first.
export const PRODUCERS_REMEMBERED_MAX = 10_000
// Kafka's sequence numbers are int32 and wrap to 0.
export const SEQUENCE_MODULUS = 2 ** 31

export function lastSequenceOf(baseSequence: number, recordCount: number): number {
  return (baseSequence + recordCount - 1) % SEQUENCE_MODULUS
}

function nextSequenceAfter(sequence: number): number {
  return (sequence + 1) % SEQUENCE_MODULUS
}

interface ProducerEntry {
  epoch: number
  /** Oldest first, at most BATCHES_REMEMBERED_PER_PRODUCER. */
  batches: ProducerBatch[]
}

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>()

  constructor(private readonly partitionName: string) {}

  get producerCount(): number {
    return this.producers.size
  }

  /**
   * The earlier append of this batch when it is a retry; undefined when it is the producer's
   * next batch; throws OUT_OF_ORDER_SEQUENCE or INVALID_PRODUCER_EPOCH when it must be refused.
   */
  check(batch: SequencedBatchHeader): ProducerBatch | undefined {
    const entry = this.producers.get(batch.producerId)
    if (entry === undefined || entry.batches.length === 0) {
      if (entry !== undefined && batch.producerEpoch < entry.epoch) throw this.fenced(batch, entry.epoch)
      return undefined
    }
    const lastSequence = lastSequenceOf(batch.baseSequence, batch.recordCount)
    if (batch.producerEpoch < entry.epoch) throw this.fenced(batch, entry.epoch)
    if (batch.producerEpoch > entry.epoch) {
      if (batch.baseSequence === 0) return undefined
      throw new LignumError('OUT_OF_ORDER_SEQUENCE', `producer ${batch.producerId} began epoch ${batch.producerEpoch} on ${this.partitionName} at sequence ${batch.baseSequence}; a new producer epoch starts at sequence 0`)
    }
    const duplicate = entry.batches.find((known) => known.baseSequence === batch.baseSequence && known.lastSequence === lastSequence)
    if (duplicate) return duplicate
    const last = entry.batches[entry.batches.length - 1]
    const expected = nextSequenceAfter(last.lastSequence)
    if (batch.baseSequence === expected) return undefined
    const ahead = (batch.baseSequence - expected + SEQUENCE_MODULUS) % SEQUENCE_MODULUS
    if (ahead < SEQUENCE_MODULUS / 2) {
      throw new LignumError('OUT_OF_ORDER_SEQUENCE', `producer ${batch.producerId} sent sequence ${batch.baseSequence} on ${this.partitionName} but the next one is ${expected}: ${ahead} records are missing before it; nothing was appended (the producer must restart with a new epoch)`)
    }
    throw new LignumError('OUT_OF_ORDER_SEQUENCE', `producer ${batch.producerId} sent sequences ${batch.baseSequence} to ${lastSequence} on ${this.partitionName}, which are not after its last sequence ${last.lastSequence} and are not one of its last ${BATCHES_REMEMBERED_PER_PRODUCER} batches; nothing was appended`)
  }

  private fenced(batch: SequencedBatchHeader, currentEpoch: number): LignumError {
    return new LignumError('INVALID_PRODUCER_EPOCH', `producer ${batch.producerId} sent epoch ${batch.producerEpoch} on ${this.partitionName}, older than its current epoch ${currentEpoch}: an older instance of the producer is fenced`)
  }

  /** Records a batch about to be appended (checked first); a newer epoch forgets the older one's batches. */
  remember(producerId: number, batch: ProducerBatch): void {
    let entry = this.producers.get(producerId)
    if (entry) this.producers.delete(producerId)
    if (!entry || batch.producerEpoch !== entry.epoch) entry = {epoch: batch.producerEpoch, batches: []}
    // Re-inserting keeps the Map in order of last use, so the first key is the idlest producer.
    this.producers.set(producerId, entry)
    entry.batches.push(batch)
    if (entry.batches.length > BATCHES_REMEMBERED_PER_PRODUCER) entry.batches.shift()
    if (this.producers.size > PRODUCERS_REMEMBERED_MAX) this.producers.delete(this.producers.keys().next().value as number)
  }

  /** Drops a batch whose append failed, so that its retry is appended. */
  forget(producerId: number, batch: ProducerBatch): void {
    const entry = this.producers.get(producerId)
    if (!entry) return
    const index = entry.batches.indexOf(batch)
    if (index >= 0) entry.batches.splice(index, 1)
  }

  /** Learns a batch already in the log (from a snapshot or a replay), in log order. */
  rememberWritten(batch: WrittenProducerBatch): void {
    const offsets = {baseOffset: batch.baseOffset, lastOffset: batch.lastOffset}
    this.remember(batch.producerId, {
      producerEpoch: batch.producerEpoch,
      baseSequence: batch.baseSequence,
      lastSequence: batch.lastSequence,
      offsets: Promise.resolve(offsets),
      written: {...offsets, maxTimestamp: batch.maxTimestamp},
    })
  }

  /** Every remembered batch already written below `offset`, each producer's oldest first: what a snapshot at `offset` holds. */
  writtenBatchesBelow(offset: number): WrittenProducerBatch[] {
    const batches: WrittenProducerBatch[] = []
    for (const [producerId, entry] of this.producers) {
      for (const batch of entry.batches) {
        if (batch.written === undefined || batch.written.lastOffset >= offset) continue
        batches.push({producerId, producerEpoch: batch.producerEpoch, baseSequence: batch.baseSequence, lastSequence: batch.lastSequence, ...batch.written})
      }
    }
    return batches
  }

  clear(): void {
    this.producers.clear()
  }
}
