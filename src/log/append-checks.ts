/**
 * What an append checks before anything is written: the batches of one append, whole, with
 * their CRCs and records (a leader's from a client, a follower's from its leader). A refused
 * append writes nothing.
 */
import {LignumError} from '../errors.js'
import {validateRecords, type BatchOrigin} from '../format/batch-validator.js'
import {BATCH_HEADER_BYTES, isBatchCrcValid, readBatchHeader, type BatchHeader} from '../format/record-batch.js'

export interface ValidatedBatch {
  position: number
  header: BatchHeader
}

/** The records the batches hold: their offsets are dense, so the offsets they take. */
export function recordsIn(validated: ValidatedBatch[]): number {
  let records = 0
  for (const {header} of validated) records += header.lastOffsetDelta + 1
  return records
}

/**
 * Whole v2 batches with valid CRCs whose records hold by the rules for `origin`
 * (batch-validator.ts: every record parses, offset deltas 0..n-1, count, timestamps, bounded
 * decompression, no control batch from a client; a follower's copy is 'log', its leader
 * checked it as a client's), or CORRUPT_RECORD / INVALID_RECORD naming the first fault.
 */
export function validateBatches(batches: Buffer, origin: BatchOrigin): ValidatedBatch[] {
  const rejected = 'append rejected, nothing written: '
  const corrupt = (position: number, why: string) => new LignumError('CORRUPT_RECORD', `${rejected}the batch at byte ${position} ${why}`)
  const validated: ValidatedBatch[] = []
  let position = 0
  while (position < batches.length) {
    if (position + BATCH_HEADER_BYTES > batches.length) throw corrupt(position, `is cut short (${batches.length - position} bytes, a header alone is ${BATCH_HEADER_BYTES})`)
    const header = readBatchHeader(batches, position)
    if (position + header.sizeBytes > batches.length) throw corrupt(position, `claims ${header.sizeBytes} bytes but ${batches.length - position} remain`)
    if (!isBatchCrcValid(batches, position)) throw corrupt(position, 'fails its CRC-32C check')
    validateRecords(batches, position, header, {origin, where: `the batch at byte ${position}`, prefix: rejected})
    validated.push({position, header})
    position += header.sizeBytes
  }
  if (validated.length === 0) throw new LignumError('INVALID_ARGUMENT', 'append of an empty buffer; send at least one record batch')
  return validated
}

/**
 * A follower's batches follow each other without a gap. A batch larger than segmentBytes is
 * taken (as the leader took it): it is written to a segment of its own.
 */
export function checkFollowerBatches(validated: ValidatedBatch[]): void {
  for (let index = 0; index < validated.length; index++) {
    const {position, header} = validated[index]
    const previous = validated[index - 1]?.header
    if (previous && header.baseOffset !== previous.lastOffset + 1) {
      throw new LignumError('CORRUPT_RECORD', `follower append rejected, nothing written: the batch at byte ${position} starts at offset ${header.baseOffset}, not right after the previous batch's last offset ${previous.lastOffset}`)
    }
  }
}
