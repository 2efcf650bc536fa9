/**
 * Idempotent produce, as Kafka does it: a producer stamps each batch with its producer id and
 * the sequence number of its first record (fields the v2 batch header already has). A
 * partition remembers the last few batches of each producer; a batch that arrives again (a
 * retry after a lost acknowledgement) is answered with the offsets it was given the first
 * time instead of being appended twice. Batches without a producer id (-1) are not tracked.
 * After a restart the table is rebuilt from the batch headers at the end of the log.
 */
import {batchPositions} from '../log/record-batch.js'

export interface BatchOffsets {
  baseOffset: number
  lastOffset: number
}

export interface SequencedBatch {
  baseSequence: number
  lastSequence: number
  /** Pending while the first append is under way, so a retry that overtakes it waits for it. */
  offsets: Promise<BatchOffsets>
}

// Kafka keeps five batches per producer: its producers have at most five in flight, so a
// retry can only be one of the last five.
export const BATCHES_REMEMBERED_PER_PRODUCER = 5
// Bounds the table's memory; the producer idle longest is forgotten first.
export const PRODUCERS_REMEMBERED_MAX = 10_000
// Kafka's sequence numbers are int32 and wrap to 0.
const SEQUENCE_MODULUS = 2 ** 31

export function lastSequenceOf(baseSequence: number, recordCount: number): number {
  return (baseSequence + recordCount - 1) % SEQUENCE_MODULUS
}

export class ProducerStateTable {
  private readonly producers = new Map<number, SequencedBatch[]>()

  /** The earlier append of this very batch, if it is a retry of one of the producer's last batches. */
  findDuplicate(producerId: number, baseSequence: number, lastSequence: number): SequencedBatch | undefined {
    return this.producers.get(producerId)?.find((batch) => batch.baseSequence === baseSequence && batch.lastSequence === lastSequence)
  }

  /** Drops a batch whose append failed, so that its retry is appended. */
  forget(producerId: number, batch: SequencedBatch): void {
    const batches = this.producers.get(producerId)
    if (!batches) return
    const index = batches.indexOf(batch)
    if (index >= 0) batches.splice(index, 1)
  }

  remember(producerId: number, batch: SequencedBatch): void {
    let batches = this.producers.get(producerId)
    if (batches) this.producers.delete(producerId)
    else batches = []
    // Re-inserting keeps the Map in order of last use, so the first key is the idlest producer.
    this.producers.set(producerId, batches)
    batches.push(batch)
    if (batches.length > BATCHES_REMEMBERED_PER_PRODUCER) batches.shift()
    if (this.producers.size > PRODUCERS_REMEMBERED_MAX) this.producers.delete(this.producers.keys().next().value as number)
  }

  /** Learns the producers' batches from concatenated batches read back from the log, in order. */
  rememberFromLog(batches: Buffer): void {
    for (const {header} of batchPositions(batches)) {
      if (header.producerId < 0 || header.baseSequence < 0) continue
      this.remember(header.producerId, {
        baseSequence: header.baseSequence,
        lastSequence: lastSequenceOf(header.baseSequence, header.recordCount),
        offsets: Promise.resolve({baseOffset: header.baseOffset, lastOffset: header.lastOffset}),
      })
    }
  }
}
