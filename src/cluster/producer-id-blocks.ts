/**
 * Producer ids unique across the cluster, handed out as Kafka's ProducerIdManager does: one
 * Consul key holds the start of the next free block of ids (a bare decimal number), and a node
 * that needs ids reserves the block there by advancing the key with check-and-set. It then
 * hands out the block's ids one by one, from memory, and reserves the next block when this one
 * runs out.
 *
 * Invariants: a block is used only after the check-and-set that reserved it succeeded, so two
 * nodes (or two reservations of one node) never hold overlapping blocks; ids are handed out
 * in increasing order and each at most once per process. A node that restarts reserves a new
 * block: the rest of its old one is never used, which costs ids, not uniqueness.
 */
import {LignumError} from '../errors.js'
import {assert} from '../assert.js'
import type {ConsulApi, KvEntry} from './consul-api.js'
import {encodeValue} from './consul-api.js'
import type {ClusterKeys} from './cluster-keys.js'

// Kafka's block size: one Consul write per thousand producer sessions keeps Consul out of the
// producers' start-up path, and a restart wastes at most a thousand ids of a 2^53 range.
export const PRODUCER_ID_BLOCK_SIZE = 1000
// Producer ids travel as int64 but are JavaScript numbers here: stay within exact integers.
const PRODUCER_ID_MAX = Number.MAX_SAFE_INTEGER
// Nodes reserving together lose check-and-set races; each retry re-reads the key, and past
// this many lost races in a row something else is rewriting the key.
const RESERVE_ATTEMPTS_MAX = 50

export interface ProducerIdBlock {
  /** First id of the block. */
  start: number
  /** One past its last id. */
  end: number
}

/** The Consul key holding the next free block start, beside the cluster's other keys. */
export function producerIdBlockKey(keys: ClusterKeys): string {
  return `${keys.prefix}producer-id-block`
}

export class ProducerIdBlocks {
  private block: ProducerIdBlock | undefined
  private next = 0
  /** At most one reservation at a time: callers that ran out together share it. */
  private reserving: Promise<void> | undefined

  constructor(
    private readonly api: Pick<ConsulApi, 'kvGet' | 'transaction'>,
    private readonly key: string,
    private readonly blockSize = PRODUCER_ID_BLOCK_SIZE,
  ) {
    assert(Number.isSafeInteger(blockSize) && blockSize > 0, `producer id block size ${blockSize} must be a positive integer`)
  }

  /** The next unused producer id, reserving a block in Consul when this node's block is used up. */
  async nextId(): Promise<number> {
    for (;;) {
      if (this.block && this.next < this.block.end) return this.next++
      this.reserving ??= this.reserveBlock().finally(() => (this.reserving = undefined))
      await this.reserving
    }
  }

  /** The block this node hands ids from now, for status and tests. */
  get currentBlock(): ProducerIdBlock | undefined {
    return this.block
  }

  private async reserveBlock(): Promise<void> {
    for (let attempt = 0; attempt < RESERVE_ATTEMPTS_MAX; attempt++) {
      const entry = await this.api.kvGet(this.key)
      const start = parseBlockStart(entry, this.key)
      const end = start + this.blockSize
      if (end > PRODUCER_ID_MAX) throw new LignumError('INTERNAL', `the cluster has used every producer id up to ${start}; no further block can be reserved`)
      // Index 0 creates the key only if it is absent; otherwise the write lands only if nobody wrote since the read.
      const result = await this.api.transaction([{KV: {Verb: 'cas', Key: this.key, Value: encodeValue(String(end)), Index: entry?.modifyIndex ?? 0}}])
      if (result.ok) {
        assert(this.block === undefined || start >= this.block.end, `producer id block ${start} reserved below the previous one ending at ${this.block?.end}`)
        this.block = {start, end}
        this.next = start
        return
      }
    }
    throw new LignumError('UNAVAILABLE', `could not reserve a block of producer ids at ${this.key} in Consul after ${RESERVE_ATTEMPTS_MAX} tries: other writers kept changing it; retry`)
  }
}

function parseBlockStart(entry: KvEntry | undefined, key: string): number {
  if (entry === undefined || entry.value === null || entry.value === '') return 0
  const start = Number(entry.value)
  if (!Number.isSafeInteger(start) || start < 0 || !/^\d+$/.test(entry.value)) {
    throw new LignumError('INTERNAL', `Consul key ${key} holds "${entry.value}", not the start of the next producer id block; it must be a non-negative integer (do not edit it by hand)`)
  }
  return start
}
