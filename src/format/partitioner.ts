/**
 * Kafka's default partitioner, so a keyed record lands on the partition a Kafka client would
 * pick: murmur2 (seed 0x9747b28c, 32-bit arithmetic) of the key bytes, made non-negative by
 * masking the sign bit, modulo the partition count. Unkeyed records stick to one partition per
 * batch and move on to the next batch's partition, spreading load without tiny batches.
 */

const MURMUR2_SEED = 0x9747b28c
const MURMUR2_M = 0x5bd1e995

export function murmur2(data: Uint8Array): number {
  const length = data.length
  let h = (MURMUR2_SEED ^ length) | 0
  const fullWordsBytes = length & ~3
  for (let i = 0; i < fullWordsBytes; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
    k = Math.imul(k, MURMUR2_M)
    k ^= k >>> 24
    k = Math.imul(k, MURMUR2_M)
    h = Math.imul(h, MURMUR2_M) ^ k
  }
  const tailBytes = length & 3
  if (tailBytes === 3) h ^= data[fullWordsBytes + 2] << 16
  if (tailBytes >= 2) h ^= data[fullWordsBytes + 1] << 8
  if (tailBytes >= 1) {
    h ^= data[fullWordsBytes]
    h = Math.imul(h, MURMUR2_M)
  }
  h ^= h >>> 13
  h = Math.imul(h, MURMUR2_M)
  h ^= h >>> 15
  return h | 0
}

/** The partition Kafka's DefaultPartitioner/BuiltInPartitioner gives a keyed record. */
export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  return (murmur2(key) & 0x7fffffff) % partitionCount
}

/** Chooses partitions for unkeyed records: the same one until `next()` is called after a batch. */
export class StickyPartitioner {
  private current = -1

  choose(partitionCount: number): number {
    if (this.current < 0 || this.current >= partitionCount) this.current = Math.floor(Math.random() * partitionCount)
    return this.current
  }

  /** Called when a batch for the current partition is sent, so the next batch goes elsewhere. */
  next(partitionCount: number): void {
    this.current = partitionCount > 1 ? (this.current + 1) % partitionCount : 0
  }
}
