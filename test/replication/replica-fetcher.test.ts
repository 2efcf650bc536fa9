import {expect} from 'chai'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Partition} from '../../src/broker/partition.js'
import {LignumError} from '../../src/errors.js'
import {setBaseOffset, setPartitionLeaderEpoch} from '../../src/format/record-batch.js'
import {InProcessLeaderClient} from '../../src/replication/in-process-leader-client.js'
import {ReplicaFetcher, type ReplicaFetcherConfig} from '../../src/replication/replica-fetcher.js'
import type {EpochEndOffsetAnswer, LeaderClient, ReplicaFetchAnswer, ReplicaFetchParams} from '../../src/replication/replication-interfaces.js'
import {ManualClock, recordingLogger} from '../helpers/manual-clock.js'
import {eventually, quiet, recordsBatch, TIMESTAMP, TOPIC} from './replicas.js'

function epochBatch(values: string[], baseOffset: number, epoch: number): Buffer {
  const batch = recordsBatch(values)
  setBaseOffset(batch, baseOffset)
  setPartitionLeaderEpoch(batch, epoch)
  return batch
}

/** A leader that answers from a script, and records what it was asked. */
class ScriptedLeader implements LeaderClient {
  fetches: ReplicaFetchParams[] = []
  /** The follower's log end offset as each fetch was sent, when the test says whose it is. */
  followerEndsAtFetch: number[] = []
  follower: Partition | undefined
  constructor(private readonly answers: ((params: ReplicaFetchParams) => ReplicaFetchAnswer | Promise<ReplicaFetchAnswer>)[], private readonly epochEnd: EpochEndOffsetAnswer = {epoch: 1, endOffset: 4}) {}

  async offsetsForLeaderEpoch(): Promise<EpochEndOffsetAnswer> {
    return this.epochEnd
  }

  fetch(params: ReplicaFetchParams, signal?: AbortSignal): Promise<ReplicaFetchAnswer> {
    this.fetches.push(params)
    if (this.follower) this.followerEndsAtFetch.push(this.follower.logEndOffset)
    const next = this.answers.shift()
    if (next) return Promise.resolve(next(params))
    // Nothing scripted: hold the fetch open until the fetcher stops.
    return new Promise((resolve) => signal?.addEventListener('abort', () => resolve({batches: Buffer.alloc(0), highWatermark: -1, logStartOffset: 0, logEndOffset: -1}), {once: true}))
  }
}

describe('ReplicaFetcher', () => {
  let root: string
  let clock: ManualClock
  let follower: Partition
  let fetcher: ReplicaFetcher | undefined

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'lignum-fetcher-'))
    clock = new ManualClock(TIMESTAMP)
    follower = await Partition.open(TOPIC, 0, path.join(root, `${TOPIC}-0`), {flushPolicy: 'never'}, {logger: recordingLogger(), clock, role: 'follower', leaderEpoch: 1})
    await follower.appendAsFollower(epochBatch(['a', 'b'], 0, 1))
    await follower.appendAsFollower(epochBatch(['c', 'd'], 2, 1))
  })
  afterEach(async () => {
    await fetcher?.stop()
    await follower.close()
    await rm(root, {recursive: true, force: true})
  })

  function start(leader: LeaderClient, config: Partial<ReplicaFetcherConfig> = {}): ReplicaFetcher {
    fetcher = new ReplicaFetcher({partition: follower, replicaId: 2, leaderId: 1, leaderEpoch: 1, client: leader, clock, logger: recordingLogger(), config: {backoffMs: 1000, ...config}})
    fetcher.start()
    return fetcher
  }

  it('starts over at the leader\'s log start when it fell below it (OFFSET_OUT_OF_RANGE)', async () => {
    const outOfRange = new LignumError('OFFSET_OUT_OF_RANGE', 'below the log start')
    const leader = new ScriptedLeader([
      () => ({batches: Buffer.alloc(0), highWatermark: -1, logStartOffset: 100, logEndOffset: -1, error: outOfRange}),
      (params) => ({batches: params.fetchOffset === 100 ? epochBatch(['z'], 100, 1) : Buffer.alloc(0), highWatermark: 101, logStartOffset: 100, logEndOffset: 101}),
    ])
    start(leader)
    await eventually(() => follower.logEndOffset === 101, 'the follower to append at the leader\'s log start')
    expect(leader.fetches.map((params) => params.fetchOffset)).to.deep.equal([4, 100, 101])
    expect(follower.logStartOffset).to.equal(100)
    expect(follower.highWatermark).to.equal(101)
  })

  it('stops on FENCED_LEADER_EPOCH and on NOT_LEADER, waiting for new partition state', async () => {
    for (const code of ['FENCED_LEADER_EPOCH', 'NOT_LEADER'] as const) {
      const leader = new ScriptedLeader([() => ({batches: Buffer.alloc(0), highWatermark: -1, logStartOffset: 0, logEndOffset: -1, error: new LignumError(code, 'stale')})])
      const running = start(leader)
      await eventually(() => running.phase === 'stopped', `the fetcher to stop on ${code}`)
      expect(running.stoppedBy?.code).to.equal(code)
      clock.advance(60_000)
      await quiet()
      expect(leader.fetches.length).to.equal(1)
    }
  })

  it('backs off by the injected clock after a broken link, then fetches again', async () => {
    const leader = new ScriptedLeader([
      () => Promise.reject(new LignumError('UNAVAILABLE', 'the link is down')),
      () => ({batches: epochBatch(['e'], 4, 1), highWatermark: 5, logStartOffset: 0, logEndOffset: 5}),
    ])
    const running = start(leader)
    await eventually(() => running.phase === 'backoff', 'the fetcher to back off')
    clock.advance(999)
    await quiet()
    expect(leader.fetches.length).to.equal(1)
    clock.advance(1)
    await eventually(() => follower.logEndOffset === 5, 'the retry to append')
    expect(follower.highWatermark).to.equal(5)
  })

  it('catching up, sends the next fetch from the answer\'s end before appending it, with doubled bytes, reporting only what it appended; near the log end it appends first', async () => {
    // Records large enough that every answer is full for the size asked (at least half of it).
    const large = (values: string[]) => values.map((value) => value.repeat(1100))
    const answer = (values: string[], baseOffset: number, leaderLogEndOffset: number) => () => ({batches: epochBatch(large(values), baseOffset, 1), highWatermark: 4, logStartOffset: 0, logEndOffset: leaderLogEndOffset})
    // Catching up while the leader holds at least as much again as an answer did; then an answer
    // with only one record left behind it, and one at the log end.
    const leader = new ScriptedLeader([answer(['e', 'f'], 4, 20), answer(['g', 'h'], 6, 20), answer(['i', 'j'], 8, 20), answer(['k', 'l'], 10, 13), answer(['m'], 12, 13)])
    leader.follower = follower
    const running = start(leader, {fetchMaxBytes: 1000, catchUpFetchMaxBytes: 4000})
    await eventually(() => leader.fetches.length === 6, 'the fetch after the log end was reached')
    expect(follower.logEndOffset).to.equal(13)
    expect(leader.fetches.map((params) => params.fetchOffset)).to.deep.equal([4, 6, 8, 10, 12, 13])
    // What the follower had appended when each request left, never the answer still being appended.
    expect(leader.fetches.map((params) => params.logEndOffset)).to.deep.equal([4, 4, 6, 8, 12, 13])
    expect(leader.fetches.map((params) => params.logEndOffset)).to.deep.equal(leader.followerEndsAtFetch)
    expect(leader.fetches.map((params) => params.maxBytes)).to.deep.equal([1000, 2000, 4000, 4000, 1000, 1000])
    expect(running.pipelinedFetches).to.equal(3)
    expect(follower.highWatermark).to.equal(4)
  })

  it('drops the answer fetched behind an append that failed, backs off, and fetches again from what it holds', async () => {
    const damaged = epochBatch(['e', 'f'], 4, 1)
    damaged[damaged.length - 1] ^= 0xff
    const leader = new ScriptedLeader([
      () => ({batches: damaged, highWatermark: 4, logStartOffset: 0, logEndOffset: 20}),
      () => ({batches: epochBatch(['g', 'h'], 6, 1), highWatermark: 4, logStartOffset: 0, logEndOffset: 20}),
      () => ({batches: epochBatch(['e2', 'f2'], 4, 1), highWatermark: 6, logStartOffset: 0, logEndOffset: 6}),
    ])
    // Asking for little, so the damaged answer counts as full: the next fetch goes out before its append.
    const running = start(leader, {fetchMaxBytes: 100})
    await eventually(() => running.phase === 'backoff', 'the fetcher to back off after the failed append')
    expect(follower.logEndOffset).to.equal(4)
    clock.advance(1000)
    await eventually(() => follower.logEndOffset === 6, 'the retry from the log end to append')
    expect(leader.fetches.map((params) => params.fetchOffset).slice(0, 3)).to.deep.equal([4, 6, 4])
    const read = await follower.fetch(4, 1 << 20, 0)
    expect(read.batches.length).to.be.greaterThan(0)
    expect(read.nextOffset).to.equal(6)
  })

  it('never lets a real leader count it as holding more than it appended while it catches up in pipelined fetches', async () => {
    const leader = await Partition.open(TOPIC, 0, path.join(root, 'leader', `${TOPIC}-0`), {flushPolicy: 'never'}, {logger: recordingLogger(), clock, role: 'leader', leaderEpoch: 1})
    try {
      leader.becomeLeader(1, {replicaId: 1, replicas: [1, 2], isr: [1, 2], minInsyncReplicas: 1})
      for (let index = 0; index < 60; index++) await leader.appendAsLeader(epochBatch([`v${index}`, `w${index}`], 0, 1))
      const empty = await Partition.open(TOPIC, 0, path.join(root, 'empty', `${TOPIC}-0`), {flushPolicy: 'never'}, {logger: recordingLogger(), clock, role: 'follower', leaderEpoch: 1})
      const inProcess = new InProcessLeaderClient(() => leader)
      const violations: string[] = []
      const checked: LeaderClient = {
        offsetsForLeaderEpoch: (...args) => inProcess.offsetsForLeaderEpoch(...args),
        fetch(params, signal) {
          const answered = inProcess.fetch(params, signal)
          // The leader recorded the fetch synchronously: what it counts must be in the follower's log now.
          const counted = leader.followerState(2)?.logEndOffset ?? -1
          if (counted > empty.logEndOffset) violations.push(`leader counts ${counted}, follower holds ${empty.logEndOffset}`)
          if (leader.highWatermark > empty.logEndOffset) violations.push(`high watermark ${leader.highWatermark} past the follower's ${empty.logEndOffset}`)
          return answered
        },
      }
      const catchingUp = new ReplicaFetcher({partition: empty, replicaId: 2, leaderId: 1, leaderEpoch: 1, client: checked, clock, logger: recordingLogger(), config: {fetchMaxBytes: 200, catchUpFetchMaxBytes: 800}})
      try {
        catchingUp.start()
        await eventually(() => empty.logEndOffset === leader.logEndOffset && leader.highWatermark === leader.logEndOffset, 'the follower to catch up and the high watermark to reach the log end')
        expect(catchingUp.pipelinedFetches).to.be.greaterThan(5)
        expect(violations).to.deep.equal([])
      } finally {
        await catchingUp.stop()
        await empty.close()
      }
    } finally {
      await leader.close()
    }
  })

  it('refuses a catch-up fetch size below the fetch size, and given only a larger fetch size never asks for less while behind', async () => {
    const options = {partition: follower, replicaId: 2, leaderId: 1, leaderEpoch: 1, client: new ScriptedLeader([]), clock, logger: recordingLogger()}
    expect(() => new ReplicaFetcher({...options, config: {fetchMaxBytes: 2000, catchUpFetchMaxBytes: 1000}})).to.throw(LignumError, /fetchMaxBytes \(2000\) <= catchUpFetchMaxBytes \(1000\)/)
    const big = 32 * 1024 * 1024
    const leader = new ScriptedLeader([() => ({batches: epochBatch(['e'], 4, 1), highWatermark: 4, logStartOffset: 0, logEndOffset: 20})])
    start(leader, {fetchMaxBytes: big})
    await eventually(() => leader.fetches.length === 2, 'the fetch after an answer that was behind')
    expect(leader.fetches.map((params) => params.maxBytes)).to.deep.equal([big, big])
  })

  it('keeping pace with a leader that appends during every fetch, does not pipeline, and the leader keeps counting it caught up (no ISR shrink)', async () => {
    const leader = await Partition.open(TOPIC, 0, path.join(root, 'leader', `${TOPIC}-0`), {flushPolicy: 'never'}, {logger: recordingLogger(), clock, role: 'leader', leaderEpoch: 1})
    const empty = await Partition.open(TOPIC, 0, path.join(root, 'empty', `${TOPIC}-0`), {flushPolicy: 'never'}, {logger: recordingLogger(), clock, role: 'follower', leaderEpoch: 1})
    const appendsMax = 30
    let appends = 0
    const shrinks: number[] = []
    const inProcess = new InProcessLeaderClient(() => leader)
    // A producer's next batch lands while each fetch is read: every answer ends below the
    // leader's log end by what it held, yet the follower is keeping pace.
    const producing: LeaderClient = {
      offsetsForLeaderEpoch: (...args) => inProcess.offsetsForLeaderEpoch(...args),
      async fetch(params, signal) {
        const answer = await inProcess.fetch(params, signal)
        if (appends === appendsMax || answer.error) return answer
        appends++
        clock.advance(1000)
        // 30 s of the injected clock pass: a follower not counted as caught up would be proposed out.
        if (leader.proposeIsrShrink(clock.nowMs(), 10_000) !== null) shrinks.push(clock.nowMs())
        await leader.appendAsLeader(epochBatch(['p', 'q', 'r', 's', 't'], 0, 1))
        return {...answer, logEndOffset: leader.logEndOffset}
      },
    }
    const keepingPace = new ReplicaFetcher({partition: empty, replicaId: 2, leaderId: 1, leaderEpoch: 1, client: producing, clock, logger: recordingLogger()})
    try {
      leader.becomeLeader(1, {replicaId: 1, replicas: [1, 2], isr: [1, 2], minInsyncReplicas: 1})
      await leader.appendAsLeader(epochBatch(['p', 'q', 'r', 's', 't'], 0, 1))
      keepingPace.start()
      await eventually(() => appends === appendsMax && empty.logEndOffset === leader.logEndOffset && leader.highWatermark === leader.logEndOffset, 'the follower to keep up with every append')
      expect(shrinks, 'times an ISR shrink was proposed').to.deep.equal([])
      expect(keepingPace.pipelinedFetches).to.equal(0)
    } finally {
      await keepingPace.stop()
      await empty.close()
      await leader.close()
    }
  })
})
