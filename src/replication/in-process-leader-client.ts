/**
 * A LeaderClient that calls the leader's Partition objects directly: three replicas in one
 * process (tests) or in a deterministic simulator, without a transport. `reachable = false`
 * models a broken link: calls reject as a dropped connection would (the fetcher backs off).
 *
 * Invariant, as every LeaderClient: the leader's answers (fenced, not leader, out of range)
 * come back as `error` in the answer; only a broken link rejects.
 */
import type {Partition} from '../broker/partition.js'
import {LignumError} from '../errors.js'
import type {EpochEndOffsetAnswer, LeaderClient, ReplicaFetchAnswer, ReplicaFetchParams} from './replication-interfaces.js'

export type PartitionLookup = (topic: string, partition: number) => Partition | undefined

export class InProcessLeaderClient implements LeaderClient {
  reachable = true

  constructor(private readonly partitions: PartitionLookup) {}

  async offsetsForLeaderEpoch(topic: string, partition: number, epoch: number, leaderEpoch: number): Promise<EpochEndOffsetAnswer> {
    const leader = this.partitionOrThrow(topic, partition)
    try {
      return leader.leaderEndOffsetForEpoch(epoch, leaderEpoch)
    } catch (error) {
      return {epoch: -1, endOffset: -1, error: asLignumError(error)}
    }
  }

  async fetch(params: ReplicaFetchParams, signal?: AbortSignal): Promise<ReplicaFetchAnswer> {
    const leader = this.partitionOrThrow(params.topic, params.partition)
    try {
      const result = await leader.fetchForReplica({...params, replicaLogEndOffset: params.logEndOffset, replicaIncarnation: params.incarnation}, signal)
      this.checkReachable()
      return {batches: result.batches, highWatermark: result.highWatermark, logStartOffset: result.logStartOffset, logEndOffset: result.logEndOffset}
    } catch (error) {
      this.checkReachable()
      return {batches: Buffer.alloc(0), highWatermark: -1, logStartOffset: leader.logStartOffset, logEndOffset: -1, error: asLignumError(error)}
    }
  }

  private partitionOrThrow(topic: string, partition: number): Partition {
    this.checkReachable()
    const found = this.partitions(topic, partition)
    if (!found) throw new LignumError('UNAVAILABLE', `the leader holds no partition ${topic}-${partition}`)
    return found
  }

  private checkReachable(): void {
    if (!this.reachable) throw new LignumError('UNAVAILABLE', 'the link to the leader is down')
  }
}

function asLignumError(error: unknown): LignumError {
  if (error instanceof LignumError) return error
  return new LignumError('INTERNAL', (error as Error).message, {cause: error})
}
