/**
 * Leader epochs as a client sees them (Kafka's KIP-320): the fencing of a request that names
 * the leader epoch its metadata gives, the end of an epoch as a consumer asks for it when it
 * validates its position after a leader change (OffsetForLeaderEpoch), and the epoch a listed
 * offset lies in (ListOffsets).
 *
 * Every answer comes from the log's leader-epoch history (the leader-epoch checkpoint, which
 * the batches' partitionLeaderEpoch feeds and rebuilds when damaged), and the epoch a request
 * is fenced against is the partition's, which the cluster's catalog gives it: so Metadata's
 * leader_epoch, the epochs stamped in batches and these answers name one sequence.
 *
 * Invariant: `entries` strictly increase in epoch and start offset (the checkpoint's own).
 */
import {LignumError} from '../errors.js'
import type {EpochEntry} from '../log/leader-epoch-checkpoint.js'

/** Kafka's "no epoch": a client that does not name one is not fenced; an unknown epoch's answer. */
export const NO_EPOCH = -1
const NO_OFFSET = -1

export interface EpochEnd {
  epoch: number
  endOffset: number
}

/**
 * A client's current_leader_epoch against the partition's `epoch`: older is FENCED_LEADER_EPOCH
 * (its metadata is stale), newer UNKNOWN_LEADER_EPOCH (this node has not applied that leadership
 * yet). Both are retriable: the client refreshes its metadata and asks again.
 */
export function checkClientLeaderEpoch(partitionName: string, epoch: number, currentLeaderEpoch: number): void {
  if (currentLeaderEpoch === NO_EPOCH) return
  if (currentLeaderEpoch < epoch) throw new LignumError('FENCED_LEADER_EPOCH', `${partitionName} is at leader epoch ${epoch}; the client's metadata names epoch ${currentLeaderEpoch}: it refreshes its metadata and retries`)
  if (currentLeaderEpoch > epoch) throw new LignumError('UNKNOWN_LEADER_EPOCH', `${partitionName} is at leader epoch ${epoch} on this node and has not applied epoch ${currentLeaderEpoch} yet; retry shortly`)
}

/**
 * Where `requested` ends on this log, as Kafka's leader answers a consumer: the largest epoch at
 * or below it and the start of the next epoch (the log end for the latest). An epoch older than
 * the whole history is answered with itself and the first epoch's start, as Kafka does: the
 * records before it are gone, and a consumer past that point truncates to it rather than reset.
 * No epoch asked for, or no history at all: {-1, -1}.
 */
export function epochEndForClient(entries: readonly EpochEntry[], logEndOffset: number, requested: number): EpochEnd {
  if (requested === NO_EPOCH || entries.length === 0) return {epoch: NO_EPOCH, endOffset: NO_OFFSET}
  const first = entries[0]!
  if (requested < first.epoch) return {epoch: requested, endOffset: first.startOffset}
  let found = 0
  while (found + 1 < entries.length && entries[found + 1]!.epoch <= requested) found++
  const next = entries[found + 1]
  return {epoch: entries[found]!.epoch, endOffset: next ? next.startOffset : logEndOffset}
}

/** The epoch `offset` was written in: that of the last epoch starting at or before it; -1 before every epoch. */
export function epochAtOffset(entries: readonly EpochEntry[], offset: number): number {
  let epoch = NO_EPOCH
  for (const entry of entries) {
    if (entry.startOffset > offset) break
    epoch = entry.epoch
  }
  return epoch
}
