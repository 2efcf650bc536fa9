import {expect} from 'chai'
import {cp, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Partition, type PartitionOptions, type PartitionRole} from '../../src/broker/partition.js'
import {decodeProducerSnapshot, encodeProducerSnapshot} from '../../src/broker/producer-snapshot.js'
import {LignumError} from '../../src/errors.js'
import {batchPositions, decodeRecordBatch, encodeRecordBatch, setBaseOffset, setPartitionLeaderEpoch} from '../../src/format/record-batch.js'
import type {PartitionLogConfig} from '../../src/log/partition-log.js'
import {ManualClock, recordingLogger, settle} from '../helpers/manual-clock.js'

const TIMESTAMP = 1_700_000_000_000

function plainBatch(values: string[], timestamp = TIMESTAMP): Buffer {
  return encodeRecordBatch(values.map((value) => ({key: null, value: Buffer.from(value), timestamp})))
}

function producerBatch(producerId: number, baseSequence: number, values: string[], producerEpoch = 0): Buffer {
  return encodeRecordBatch(values.map((value) => ({key: null, value: Buffer.from(value), timestamp: TIMESTAMP})), {producerId, producerEpoch, baseSequence})
}

/** A batch as a leader wrote it, offsets and epoch in its header. */
function leaderBatch(values: string[], baseOffset: number, epoch: number, producer?: {producerId: number; baseSequence: number}): Buffer {
  const batch = producer ? producerBatch(producer.producerId, producer.baseSequence, values) : plainBatch(values)
  setBaseOffset(batch, baseOffset)
  setPartitionLeaderEpoch(batch, epoch)
  return batch
}

function epochsOf(batches: Buffer): number[] {
  return [...batchPositions(batches)].map(({header}) => header.partitionLeaderEpoch)
}

function valuesOf(batches: Buffer): string[] {
  return [...batchPositions(batches)].flatMap(({position}) => decodeRecordBatch(batches, position).records.map((record) => record.value?.toString() ?? ''))
}

async function rejection(promise: Promise<unknown>): Promise<LignumError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught)
  expect(error, 'expected a LignumError').to.be.instanceOf(LignumError)
  return error as LignumError
}

describe('Partition', () => {
  let root: string
  let dir: string
  let clock: ManualClock
  let logger: ReturnType<typeof recordingLogger>
  const opened: Partition[] = []

  async function open(role: PartitionRole = 'leader', config: Partial<PartitionLogConfig> = {}, options: Partial<PartitionOptions> = {}, at = dir): Promise<Partition> {
    const partition = await Partition.open('orders', 0, at, {flushPolicy: 'never', ...config}, {logger, clock, role, leaderEpoch: 0, ...options})
    opened.push(partition)
    return partition
  }

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'lignum-partition-'))
    dir = path.join(root, 'orders-0')
    clock = new ManualClock(TIMESTAMP)
    logger = recordingLogger()
  })
  afterEach(async () => {
    for (const partition of opened.splice(0)) await partition.close()
    await rm(root, {recursive: true, force: true})
  })

  describe('role and leader epoch', () => {
    it('leads at epoch 0: stamps every batch and writes the leader-epoch-checkpoint with epoch 0 at offset 0', async () => {
      const partition = await open()
      await partition.appendAsLeader(plainBatch(['a', 'b']))
      expect(await readFile(path.join(dir, 'leader-epoch-checkpoint'), 'utf8')).to.equal('0\n1\n0 0\n')
      partition.becomeLeader(3)
      await partition.appendAsLeader(plainBatch(['c']))
      const {batches} = await partition.fetch(0, 1 << 20, 0)
      expect(epochsOf(batches)).to.deep.equal([0, 3])
      expect(partition.endOffsetForEpoch(0)).to.deep.equal({epoch: 0, endOffset: 2})
      expect(partition.latestLogEpoch).to.equal(3)
    })

    it('refuses an older epoch, a leader append on a follower and a follower append on a leader', async () => {
      const partition = await open()
      partition.becomeLeader(2)
      expect(() => partition.becomeFollower(1)).to.throw(LignumError, /epoch 1 is older/)
      expect((await rejection(partition.appendAsFollower(leaderBatch(['x'], 0, 2)))).message).to.match(/a leader takes no follower appends/)
      partition.becomeFollower(2)
      expect((await rejection(partition.appendAsLeader(plainBatch(['x'])))).code).to.equal('NOT_LEADER')
      expect(partition.logEndOffset).to.equal(0)
    })

    it('as a follower, keeps the leader\'s offsets and epochs and learns the epochs', async () => {
      const partition = await open('follower')
      await partition.appendAsFollower(Buffer.concat([leaderBatch(['a'], 0, 1), leaderBatch(['b', 'c'], 1, 4)]))
      expect(partition.logEndOffset).to.equal(3)
      expect(partition.endOffsetForEpoch(1)).to.deep.equal({epoch: 1, endOffset: 1})
      expect((await rejection(partition.appendAsFollower(leaderBatch(['d'], 7, 4)))).code).to.equal('OFFSET_OUT_OF_RANGE')
    })

    it("answers a client's OffsetForLeaderEpoch and ListOffsets epochs from the batches' epochs, fenced by the client's current epoch", async () => {
      const partition = await open()
      await partition.appendAsLeader(plainBatch(['a', 'b']))
      partition.becomeLeader(3)
      await partition.appendAsLeader(plainBatch(['c']))
      partition.becomeLeader(5)
      // Epoch 5 has written nothing yet: epoch 3 still reaches the log end.
      expect(partition.clientEndOffsetForEpoch(5, 0)).to.deep.equal({epoch: 0, endOffset: 2})
      expect(partition.clientEndOffsetForEpoch(-1, 4)).to.deep.equal({epoch: 3, endOffset: 3})
      expect(partition.clientEndOffsetForEpoch(5, 5)).to.deep.equal({epoch: 3, endOffset: 3})
      expect(() => partition.clientEndOffsetForEpoch(4, 3)).to.throw(LignumError).with.property('code', 'FENCED_LEADER_EPOCH')
      expect(() => partition.clientEndOffsetForEpoch(6, 3)).to.throw(LignumError).with.property('code', 'UNKNOWN_LEADER_EPOCH')
      expect(partition.listedOffsetEpoch(-1, 3)).to.equal(3)
      expect(partition.listedOffsetEpoch(-2, 0)).to.equal(0)
      expect(partition.listedOffsetEpoch(TIMESTAMP, 2)).to.equal(3)
      partition.becomeFollower(6)
      expect(() => partition.clientEndOffsetForEpoch(6, 3)).to.throw(LignumError).with.property('code', 'NOT_LEADER')
      expect(() => partition.clientEndOffsetForEpoch(5, 3)).to.throw(LignumError).with.property('code', 'FENCED_LEADER_EPOCH')
    })

    it('answers the same epochs after a reopen and after its damaged leader-epoch-checkpoint is rebuilt from the batches', async () => {
      const partition = await open()
      await partition.appendAsLeader(plainBatch(['a', 'b']))
      partition.becomeLeader(3)
      await partition.appendAsLeader(plainBatch(['c']))
      await partition.close()
      opened.splice(opened.indexOf(partition), 1)
      await writeFile(path.join(dir, 'leader-epoch-checkpoint'), 'not a checkpoint')
      const reopened = await open('leader', {}, {leaderEpoch: 3})
      expect(reopened.clientEndOffsetForEpoch(3, 0)).to.deep.equal({epoch: 0, endOffset: 2})
      expect(reopened.clientEndOffsetForEpoch(3, 3)).to.deep.equal({epoch: 3, endOffset: 3})
    })
  })

  describe('high watermark', () => {
    it('on a follower follows the leader, never past its own log end, and bounds fetches', async () => {
      const partition = await open('follower')
      await partition.appendAsFollower(Buffer.concat([leaderBatch(['a'], 0, 0), leaderBatch(['b'], 1, 0), leaderBatch(['c'], 2, 0)]))
      expect(partition.highWatermark).to.equal(0)
      partition.updateHighWatermarkFromLeader(2)
      expect(partition.highWatermark).to.equal(2)
      expect(valuesOf((await partition.fetch(0, 1 << 20, 0)).batches)).to.deep.equal(['a', 'b'])
      partition.updateHighWatermarkFromLeader(99)
      expect(partition.highWatermark).to.equal(3)
    })

    it('serves a follower read (KIP-392) below its own high watermark, and wakes a long poll there when the leader\'s high watermark reaches it', async () => {
      const partition = await open('follower')
      await partition.appendAsFollower(Buffer.concat([leaderBatch(['a'], 0, 0), leaderBatch(['b'], 1, 0), leaderBatch(['c'], 2, 0)]))
      partition.updateHighWatermarkFromLeader(1)
      const first = await partition.fetchAsFollower(0, 1 << 20, 0)
      expect(valuesOf(first.batches)).to.deep.equal(['a'])
      expect(first.highWatermark).to.equal(1)
      // Held on this follower but not known to be committed: the read waits instead of refusing.
      let answered = false
      const waiting = partition.fetchAsFollower(2, 1 << 20, 60_000).then((result) => {
        answered = true
        return result
      })
      partition.updateHighWatermarkFromLeader(2)
      await settle()
      expect(answered, 'still below offset 2').to.equal(false)
      partition.updateHighWatermarkFromLeader(3)
      expect(valuesOf((await waiting).batches)).to.deep.equal(['c'])
      // Past the wait with nothing committed there: an empty answer, not an error.
      const empty = partition.fetchAsFollower(3, 1 << 20, 500)
      clock.advance(500)
      expect((await empty).batches.length).to.equal(0)
      expect((await rejection(partition.fetchAsFollower(4, 1 << 20, 0))).code).to.equal('OFFSET_OUT_OF_RANGE')
      expect(clock.pendingTasks).to.equal(0)
    })

    it('refuses a follower read once the partition leads, so the reader goes back to the leader path', async () => {
      const partition = await open('follower')
      partition.becomeLeader(1)
      expect((await rejection(partition.fetchAsFollower(0, 1 << 20, 0))).code).to.equal('NOT_LEADER')
    })

    it('restarts a follower at min(checkpoint, log end) and a leader at its log end', async () => {
      const first = await open('follower')
      await first.appendAsFollower(Buffer.concat([leaderBatch(['a', 'b'], 0, 0), leaderBatch(['c', 'd', 'e'], 2, 0)]))
      first.updateHighWatermarkFromLeader(2)
      await first.close()
      expect(await readFile(path.join(dir, 'high-watermark-checkpoint'), 'utf8')).to.equal('0\n2\n')
      const follower = await open('follower')
      expect(follower.highWatermark).to.equal(2)
      await follower.close()
      await writeFile(path.join(dir, 'high-watermark-checkpoint'), '0\n40\n')
      const ahead = await open('follower')
      expect(ahead.highWatermark).to.equal(5)
      await ahead.close()
      await writeFile(path.join(dir, 'high-watermark-checkpoint'), '0\n1\n')
      const leader = await open('leader')
      expect(leader.highWatermark).to.equal(5)
    })

    it('writes the checkpoint atomically only when the high watermark moved', async () => {
      const partition = await open('follower')
      await partition.appendAsFollower(leaderBatch(['a', 'b'], 0, 0))
      partition.updateHighWatermarkFromLeader(1)
      await partition.checkpointHighWatermark()
      expect(await readFile(path.join(dir, 'high-watermark-checkpoint'), 'utf8')).to.equal('0\n1\n')
      await writeFile(path.join(dir, 'high-watermark-checkpoint'), 'changed behind its back')
      await partition.checkpointHighWatermark()
      expect(await readFile(path.join(dir, 'high-watermark-checkpoint'), 'utf8')).to.equal('changed behind its back')
      expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).to.deep.equal([])
    })

    it('reads a damaged checkpoint as none, and says so', async () => {
      await (await open('follower')).close()
      await writeFile(path.join(dir, 'high-watermark-checkpoint'), 'garbage')
      const partition = await open('follower')
      expect(partition.highWatermark).to.equal(0)
      expect(logger.lines.some((line) => line.level === 'warn' && /high watermark checkpoint is damaged/.test(line.message))).to.equal(true)
    })

    it('waits for the high watermark to cover an offset, and times out by the injected clock', async () => {
      const partition = await open('follower')
      await partition.appendAsFollower(leaderBatch(['a', 'b', 'c'], 0, 0))
      let covered = false
      const waiting = partition.waitForHighWatermark(1, 1000).then(() => (covered = true))
      clock.advance(999)
      await settle()
      expect(covered).to.equal(false)
      partition.updateHighWatermarkFromLeader(2)
      await waiting
      expect(covered).to.equal(true)
      const timingOut = partition.waitForHighWatermark(2, 1000)
      clock.advance(1000)
      const error = await rejection(timingOut)
      expect(error.code).to.equal('REQUEST_TIMED_OUT')
      expect(error.retriable).to.equal(true)
      expect(clock.pendingTasks).to.equal(0)
    })

    it('ends a long poll at the high watermark after maxWaitMs of the injected clock, or at once on an append', async () => {
      const partition = await open()
      let answered = false
      const polling = partition.fetch(0, 1 << 20, 500).then((result) => {
        answered = true
        return result
      })
      clock.advance(499)
      await settle()
      expect(answered).to.equal(false)
      clock.advance(1)
      expect((await polling).batches.length).to.equal(0)
      const woken = partition.fetch(0, 1 << 20, 60_000)
      await partition.appendAsLeader(plainBatch(['now']))
      expect(valuesOf((await woken).batches)).to.deep.equal(['now'])
      expect(clock.pendingTasks).to.equal(0)
    })

    it('keeps retention from deleting a segment at or past the high watermark', async () => {
      const one = leaderBatch(['v0'], 0, 0).length
      const partition = await open('follower', {segmentBytes: one * 2, retentionMs: 1000})
      await partition.appendAsFollower(Buffer.concat([0, 1, 2, 3, 4, 5].map((offset) => leaderBatch([`v${offset}`], offset, 0))))
      clock.advance(60_000)
      expect(await partition.applyRetention()).to.deep.equal({deletedSegments: 0})
      partition.updateHighWatermarkFromLeader(3)
      expect(await partition.applyRetention()).to.deep.equal({deletedSegments: 1})
      expect(partition.logStartOffset).to.equal(2)
    })
  })

  describe('idempotent producers', () => {
    it('refuses a gap in a producer\'s sequence and appends nothing (15 then 100)', async () => {
      const partition = await open()
      await partition.appendAsLeader(producerBatch(7, 0, Array.from({length: 16}, (_, index) => `r${index}`)))
      const error = await rejection(partition.appendAsLeader(producerBatch(7, 100, ['jump'])))
      expect(error.code).to.equal('OUT_OF_ORDER_SEQUENCE')
      expect(error.retriable).to.equal(false)
      expect(error.message).to.match(/sent sequence 100 on orders-0 but the next one is 16/)
      expect(partition.logEndOffset).to.equal(16)
      await partition.appendAsLeader(producerBatch(7, 16, ['next']))
      expect(partition.logEndOffset).to.equal(17)
    })

    it('refuses an overlapping older batch that is not one of the last ones, and appends nothing', async () => {
      const partition = await open()
      await partition.appendAsLeader(producerBatch(7, 0, ['a', 'b', 'c']))
      await partition.appendAsLeader(producerBatch(7, 3, ['d', 'e']))
      const error = await rejection(partition.appendAsLeader(producerBatch(7, 2, ['c', 'd'])))
      expect(error.code).to.equal('OUT_OF_ORDER_SEQUENCE')
      expect(error.message).to.match(/sequences 2 to 3 .* not after its last sequence 4/)
      expect(partition.logEndOffset).to.equal(5)
    })

    it('answers a retry of one of the last five batches with its first offsets, and counts it', async () => {
      const partition = await open()
      const offsets = []
      for (let batch = 0; batch < 6; batch++) offsets.push(await partition.appendAsLeader(producerBatch(7, batch * 2, [`a${batch}`, `b${batch}`])))
      const retried = await partition.appendAsLeader(producerBatch(7, 4, ['a2', 'b2']))
      expect(retried).to.deep.equal({baseOffset: 4, lastOffset: 5, duplicate: true})
      expect(partition.duplicatesAnswered).to.equal(1)
      expect(partition.logEndOffset).to.equal(12)
      // The first batch is no longer among the last five: refused, not appended again.
      expect((await rejection(partition.appendAsLeader(producerBatch(7, 0, ['a0', 'b0'])))).code).to.equal('OUT_OF_ORDER_SEQUENCE')
      expect(partition.logEndOffset).to.equal(12)
    })

    it('does not answer a damaged copy of a retry as a duplicate', async () => {
      const partition = await open()
      await partition.appendAsLeader(producerBatch(7, 0, ['a']))
      const damaged = producerBatch(7, 0, ['a'])
      damaged[damaged.length - 1] ^= 1
      expect((await rejection(partition.appendAsLeader(damaged))).code).to.equal('CORRUPT_RECORD')
      expect(partition.duplicatesAnswered).to.equal(0)
    })

    it('takes an unknown producer at any sequence, starts a new epoch at 0, fences an older epoch', async () => {
      const partition = await open()
      await partition.appendAsLeader(producerBatch(8, 500, ['late joiner']))
      await partition.appendAsLeader(producerBatch(8, 501, ['next']))
      expect((await rejection(partition.appendAsLeader(producerBatch(8, 5, ['x'], 1)))).message).to.match(/a new producer epoch starts at sequence 0/)
      await partition.appendAsLeader(producerBatch(8, 0, ['new epoch'], 1))
      const fenced = await rejection(partition.appendAsLeader(producerBatch(8, 502, ['zombie'], 0)))
      expect(fenced.code).to.equal('INVALID_PRODUCER_EPOCH')
      expect(partition.logEndOffset).to.equal(3)
    })

    it('wraps sequences after 2^31 - 1 to 0', async () => {
      const partition = await open()
      await partition.appendAsLeader(producerBatch(9, 2 ** 31 - 2, ['x', 'y']))
      await partition.appendAsLeader(producerBatch(9, 0, ['wrapped']))
      expect(partition.logEndOffset).to.equal(3)
    })

    it('refuses several batches of an idempotent producer in one request', async () => {
      const partition = await open()
      const error = await rejection(partition.appendAsLeader(Buffer.concat([producerBatch(9, 0, ['a']), producerBatch(9, 1, ['b'])])))
      expect(error.message).to.match(/one record batch per partition and request/)
    })

    it('learns producers from a follower\'s appends, so a new leader dedupes their retries', async () => {
      const partition = await open('follower')
      await partition.appendAsFollower(leaderBatch(['a'], 0, 0, {producerId: 11, baseSequence: 0}))
      partition.becomeLeader(1)
      expect(await partition.appendAsLeader(producerBatch(11, 0, ['a']))).to.deep.equal({baseOffset: 0, lastOffset: 0, duplicate: true})
    })
  })

  describe('producer snapshots', () => {
    const one = producerBatch(1, 0, ['v0']).length

    it('writes a snapshot in Kafka\'s format at every roll and at a clean close', async () => {
      const partition = await open('leader', {segmentBytes: one * 2})
      for (let sequence = 0; sequence < 5; sequence++) await partition.appendAsLeader(producerBatch(1, sequence, [`v${sequence}`]))
      const snapshots = (await readdir(dir)).filter((name) => name.endsWith('.snapshot'))
      expect(snapshots).to.deep.equal(['00000000000000000002.snapshot', '00000000000000000004.snapshot'])
      const atFour = decodeProducerSnapshot(await readFile(path.join(dir, snapshots[1])), snapshots[1])
      expect(atFour.map((batch) => [batch.producerId, batch.baseSequence, batch.baseOffset])).to.deep.equal([[1, 0, 0], [1, 1, 1], [1, 2, 2], [1, 3, 3]])
      await partition.close()
      expect((await readdir(dir)).filter((name) => name.endsWith('.snapshot'))).to.deep.equal([...snapshots, '00000000000000000005.snapshot'])
    })

    it('rebuilds from the snapshot, not the log: a batch retention deleted is still deduplicated after a crash', async () => {
      const partition = await open('leader', {segmentBytes: one * 2, retentionMs: 1000})
      await partition.appendAsLeader(producerBatch(1, 0, ['only in the first segment']))
      for (let sequence = 0; sequence < 4; sequence++) await partition.appendAsLeader(producerBatch(2, sequence, [`v${sequence}`]))
      clock.advance(60_000)
      // A leader's high watermark is its log end: every segment goes, the active one after a roll.
      await partition.applyRetention()
      expect(partition.logStartOffset).to.equal(5)
      await partition.appendAsLeader(producerBatch(2, 4, ['v4']))
      await partition.flush()
      // A crash image: the directory as it is while the partition is open (no close snapshot).
      const crashed = path.join(root, 'crashed', 'orders-0')
      await cp(dir, crashed, {recursive: true})
      const reopened = await open('leader', {segmentBytes: one * 2}, {}, crashed)
      expect(await reopened.appendAsLeader(producerBatch(1, 0, ['only in the first segment']))).to.deep.equal({baseOffset: 0, lastOffset: 0, duplicate: true})
      expect(await reopened.appendAsLeader(producerBatch(2, 3, ['v3']))).to.deep.equal({baseOffset: 4, lastOffset: 4, duplicate: true})
      // The active segment was replayed on top of the snapshot.
      expect(await reopened.appendAsLeader(producerBatch(2, 4, ['v4']))).to.deep.equal({baseOffset: 5, lastOffset: 5, duplicate: true})
      expect(reopened.logEndOffset).to.equal(6)
    })

    it('falls back to replaying the whole log when the snapshot is damaged, and logs it', async () => {
      const partition = await open('leader', {segmentBytes: one * 2})
      for (let sequence = 0; sequence < 3; sequence++) await partition.appendAsLeader(producerBatch(3, sequence, [`v${sequence}`]))
      await partition.close()
      opened.splice(opened.indexOf(partition), 1)
      for (const name of (await readdir(dir)).filter((entry) => entry.endsWith('.snapshot'))) await writeFile(path.join(dir, name), 'not a snapshot')
      const reopened = await open('leader', {segmentBytes: one * 2})
      expect(logger.lines.filter((line) => line.level === 'warn').map((line) => line.message)).to.include.members([
        'producer snapshot unreadable; trying an older one or the whole log',
        'no usable producer snapshot; rebuilding producer state from the whole log',
      ])
      expect(await reopened.appendAsLeader(producerBatch(3, 0, ['v0']))).to.deep.equal({baseOffset: 0, lastOffset: 0, duplicate: true})
    })

    it('on a follower\'s truncation, drops the snapshots past the new end and forgets the batches cut away', async () => {
      const follower = await open('follower', {segmentBytes: one * 2})
      const batches = [0, 1, 2, 3, 4].map((offset) => leaderBatch([`v${offset}`], offset, 0, {producerId: 4, baseSequence: offset}))
      await follower.appendAsFollower(Buffer.concat(batches))
      await follower.close()
      opened.splice(opened.indexOf(follower), 1)
      const reopened = await open('follower', {segmentBytes: one * 2})
      expect((await readdir(dir)).filter((name) => name.endsWith('.snapshot'))).to.include('00000000000000000004.snapshot')
      expect(await reopened.truncateTo(3)).to.equal(3)
      expect((await readdir(dir)).filter((name) => name.endsWith('.snapshot'))).to.deep.equal(['00000000000000000002.snapshot'])
      reopened.becomeLeader(1)
      // Sequence 3 was cut away: it is the producer's next batch again, appended at offset 3.
      expect(await reopened.appendAsLeader(producerBatch(4, 3, ['v3 again']))).to.deep.equal({baseOffset: 3, lastOffset: 3, duplicate: false})
      expect(await reopened.appendAsLeader(producerBatch(4, 2, ['v2']))).to.deep.equal({baseOffset: 2, lastOffset: 2, duplicate: true})
    })

    it('on a follower, a snapshot taken at a roll inside one append holds the batches of that append before the roll', async () => {
      // The leader's segments may be larger than this follower's, so one fetch answer spans rolls here.
      const follower = await open('follower', {segmentBytes: one * 2})
      const batches = [0, 1, 2, 3, 4].map((offset) => leaderBatch([`v${offset}`], offset, 0, {producerId: 4, baseSequence: offset}))
      await follower.appendAsFollower(Buffer.concat(batches))
      const atFour = decodeProducerSnapshot(await readFile(path.join(dir, '00000000000000000004.snapshot')), 'snapshot')
      expect(atFour.map((batch) => batch.baseSequence)).to.deep.equal([0, 1, 2, 3])
      // Reloading producer state (as a truncation does) starts from that snapshot.
      await follower.truncateTo(5)
      follower.becomeLeader(1)
      for (let sequence = 0; sequence < 5; sequence++) {
        expect(await follower.appendAsLeader(producerBatch(4, sequence, [`v${sequence}`])), `retry of sequence ${sequence}`).to.deep.equal({baseOffset: sequence, lastOffset: sequence, duplicate: true})
      }
    })

    it('encodes Kafka\'s snapshot layout: version 1, CRC-32C, 46-byte entries', () => {
      const bytes = encodeProducerSnapshot([{producerId: 5, producerEpoch: 2, baseSequence: 10, lastSequence: 12, baseOffset: 100, lastOffset: 102, maxTimestamp: TIMESTAMP}])
      expect(bytes.length).to.equal(10 + 46)
      expect(bytes.readInt16BE(0)).to.equal(1)
      expect(bytes.readInt32BE(6)).to.equal(1)
      expect(bytes.readBigInt64BE(10)).to.equal(5n)
      expect(bytes.readInt16BE(18)).to.equal(2)
      expect(bytes.readInt32BE(20)).to.equal(12)
      expect(bytes.readBigInt64BE(24)).to.equal(102n)
      expect(bytes.readInt32BE(32)).to.equal(2)
      expect(decodeProducerSnapshot(bytes, 'x')).to.deep.equal([{producerId: 5, producerEpoch: 2, baseSequence: 10, lastSequence: 12, baseOffset: 100, lastOffset: 102, maxTimestamp: TIMESTAMP}])
      bytes[bytes.length - 1] ^= 1
      expect(() => decodeProducerSnapshot(bytes, 'x')).to.throw(LignumError, /CRC-32C/)
    })
  })
})

describe('Partition as a replicated leader', () => {
  let root: string
  let clock: ManualClock
  const opened: Partition[] = []
  const LAG_MAX_MS = 10_000

  async function leaderOf(isr = [1, 2, 3], minInsyncReplicas = 2): Promise<Partition> {
    const partition = await Partition.open('orders', 0, path.join(root, `orders-${opened.length}`), {flushPolicy: 'never'}, {logger: recordingLogger(), clock, role: 'follower', leaderEpoch: 0})
    opened.push(partition)
    partition.becomeLeader(1, {replicaId: 1, replicas: [1, 2, 3], isr, minInsyncReplicas})
    return partition
  }

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'lignum-partition-leader-'))
    clock = new ManualClock(TIMESTAMP)
  })
  afterEach(async () => {
    for (const partition of opened.splice(0)) await partition.close()
    await rm(root, {recursive: true, force: true})
  })

  it('sets the high watermark to the smallest log end offset in the ISR, its own included, and never moves it back', async () => {
    const partition = await leaderOf()
    await partition.appendAsLeader(plainBatch(['a', 'b', 'c', 'd']))
    expect(partition.highWatermark, 'followers have not fetched').to.equal(0)
    partition.recordFollowerFetch(2, 4, clock.nowMs())
    expect(partition.highWatermark).to.equal(0)
    partition.recordFollowerFetch(3, 2, clock.nowMs())
    expect(partition.highWatermark).to.equal(2)
    partition.recordFollowerFetch(3, 4, clock.nowMs())
    expect(partition.highWatermark).to.equal(4)
    // A follower reporting less (it restarted and truncated) does not move it back.
    partition.recordFollowerFetch(3, 1, clock.nowMs())
    expect(partition.highWatermark).to.equal(4)
    // A replica out of the ISR does not hold it back.
    partition.applyIsr([1, 2], 1)
    await partition.appendAsLeader(plainBatch(['e']))
    partition.recordFollowerFetch(2, 5, clock.nowMs())
    expect(partition.highWatermark).to.equal(5)
  })

  it('resolves acks=all when a follower fetch advances the high watermark past the batch', async () => {
    const partition = await leaderOf([1, 2])
    const {lastOffset} = await partition.appendAsLeader(plainBatch(['a', 'b']), {acks: 'all'})
    let done = false
    const waiting = partition.waitForHighWatermark(lastOffset, 30_000).then(() => (done = true))
    partition.recordFollowerFetch(2, 1, clock.nowMs())
    await settle()
    expect(done).to.equal(false)
    partition.recordFollowerFetch(2, 2, clock.nowMs())
    await waiting
    expect(done).to.equal(true)
  })

  it('answers an acks=all write NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below its minimum before the write was committed, and acknowledges it once enough replicas hold it', async () => {
    const partition = await leaderOf()
    const {lastOffset} = await partition.appendAsLeader(plainBatch(['a']), {acks: 'all'})
    const replicated = partition.waitForReplication(lastOffset, 30_000)
    // Both followers stopped fetching and left the ISR: the leader alone moves the high watermark.
    partition.applyIsr([1], 1)
    expect(partition.highWatermark).to.equal(1)
    expect((await rejection(replicated)).code).to.equal('NOT_ENOUGH_REPLICAS_AFTER_APPEND')
    // The retry of an idempotent producer is answered from the log; it is acknowledged only with enough copies.
    expect((await rejection(partition.waitForReplication(lastOffset, 30_000))).code).to.equal('NOT_ENOUGH_REPLICAS_AFTER_APPEND')
    partition.recordFollowerFetch(2, 1, clock.nowMs())
    partition.applyIsr([1, 2], 1)
    await partition.waitForReplication(lastOffset, 30_000)
  })

  it('acts on nothing while its leadership guard fails (a lapsed lease): no appends, no high watermark advance, no ISR change, acks=all waiters fail NOT_LEADER; resumes when it holds again', async () => {
    const partition = await leaderOf([1, 2])
    let leaseHeld = true
    partition.setLeadershipGuard(() => leaseHeld)
    const {lastOffset} = await partition.appendAsLeader(plainBatch(['a', 'b']), {acks: 'all'})
    const waiting = rejection(partition.waitForHighWatermark(lastOffset, 30_000))
    leaseHeld = false
    partition.recordFollowerFetch(2, 2, clock.nowMs())
    expect(partition.highWatermark, 'a follower caught up, but the lease lapsed').to.equal(0)
    for (const acks of ['all', 1] as const) {
      expect((await rejection(partition.appendAsLeader(plainBatch(['c']), {acks}))).code, `acks=${acks}`).to.equal('NOT_LEADER')
    }
    expect((await waiting).code).to.equal('NOT_LEADER')
    expect(partition.logEndOffset).to.equal(2)
    clock.advance(LAG_MAX_MS * 2)
    expect(partition.proposeIsrShrink(clock.nowMs(), LAG_MAX_MS)).to.equal(null)
    leaseHeld = true
    partition.leadershipResumed()
    expect(partition.highWatermark).to.equal(2)
    await partition.appendAsLeader(plainBatch(['c']), {acks: 1})
    expect(partition.logEndOffset).to.equal(3)
  })

  it('answers no replica fetch and no epoch end while its leadership guard fails (a restarted node\'s unconfirmed leadership): a follower would truncate to it', async () => {
    const partition = await leaderOf([1, 2])
    let confirmed = true
    partition.setLeadershipGuard(() => confirmed)
    await partition.appendAsLeader(plainBatch(['a', 'b']), {acks: 1})
    confirmed = false
    expect((await rejection(partition.fetchForReplica({replicaId: 2, fetchOffset: 0, leaderEpoch: 1, maxBytes: 1 << 20, maxWaitMs: 0}))).code).to.equal('UNAVAILABLE')
    expect(() => partition.leaderEndOffsetForEpoch(1, 1)).to.throw(LignumError).with.property('code', 'UNAVAILABLE')
    confirmed = true
    expect(partition.leaderEndOffsetForEpoch(1, 1)).to.deep.equal({epoch: 1, endOffset: 2})
    expect((await partition.fetchForReplica({replicaId: 2, fetchOffset: 0, leaderEpoch: 1, maxBytes: 1 << 20, maxWaitMs: 0})).logEndOffset).to.equal(2)
  })

  it('refuses acks=all with NOT_ENOUGH_REPLICAS before appending when the ISR is below its minimum; acks=1 appends', async () => {
    const partition = await leaderOf([1], 2)
    const error = await rejection(partition.appendAsLeader(plainBatch(['a']), {acks: 'all'}))
    expect(error.code).to.equal('NOT_ENOUGH_REPLICAS')
    expect(partition.logEndOffset).to.equal(0)
    await partition.appendAsLeader(plainBatch(['a']), {acks: 1})
    expect(partition.logEndOffset).to.equal(1)
  })

  it('proposes dropping a follower not caught up within replicaLagMaxMs, counting a catch-up to the log end of its previous fetch', async () => {
    const partition = await leaderOf()
    await partition.appendAsLeader(plainBatch(['a', 'b']))
    partition.recordFollowerFetch(2, 2, clock.nowMs())
    partition.recordFollowerFetch(3, 2, clock.nowMs())
    const caughtUpAt = clock.nowMs()
    // Steady appends: follower 2 keeps reaching the end the leader had at its previous fetch.
    for (let step = 1; step <= 12; step++) {
      await partition.appendAsLeader(plainBatch([`v${step}`]))
      clock.advance(1000)
      partition.recordFollowerFetch(2, partition.logEndOffset - 1, clock.nowMs())
    }
    expect(partition.followerState(2)!.lastCaughtUpTimeMs).to.be.greaterThan(caughtUpAt)
    expect(partition.proposeIsrShrink(caughtUpAt + LAG_MAX_MS, LAG_MAX_MS)).to.equal(null)
    expect(partition.proposeIsrShrink(clock.nowMs(), LAG_MAX_MS)).to.deep.equal([1, 2])
    // Proposed only: the ISR is unchanged until applied.
    expect(partition.isr).to.deep.equal([1, 2, 3])
  })

  it('proposes taking a follower back once its log end offset reached the high watermark', async () => {
    const partition = await leaderOf([1, 2])
    await partition.appendAsLeader(plainBatch(['a', 'b', 'c']))
    partition.recordFollowerFetch(2, 3, clock.nowMs())
    expect(partition.highWatermark).to.equal(3)
    partition.recordFollowerFetch(3, 2, clock.nowMs())
    expect(partition.proposeIsrExpand(3)).to.equal(null)
    const caughtUp: number[] = []
    partition.onFollowerCaughtUp = (id) => caughtUp.push(id)
    partition.recordFollowerFetch(3, 3, clock.nowMs())
    expect(caughtUp).to.deep.equal([3])
    expect(partition.proposeIsrExpand(3)).to.deep.equal([1, 2, 3])
    expect(partition.proposeIsrExpand(2), 'already in the ISR').to.equal(null)
  })

  it('does not count a restarted follower caught up on its earlier process\'s fetches: a fetch at a new incarnation starts it over (KIP-903)', async () => {
    const partition = await leaderOf()
    await partition.appendAsLeader(plainBatch(['a', 'b', 'c', 'd']))
    partition.recordFollowerFetch(2, 4, clock.nowMs(), 'two-first')
    partition.recordFollowerFetch(3, 4, clock.nowMs(), 'three-first')
    expect(partition.followerIncarnation(2)).to.equal('two-first')
    await partition.appendAsLeader(plainBatch(['e']))
    clock.advance(LAG_MAX_MS / 2)
    // Power loss on follower 2: its new process fetches from where its synced log ends.
    partition.recordFollowerFetch(2, 1, clock.nowMs(), 'two-second')
    partition.recordFollowerFetch(3, 5, clock.nowMs(), 'three-first')
    expect(partition.followerIncarnation(2)).to.equal('two-second')
    expect(partition.followerState(2)).to.deep.include({logEndOffset: 1, lastCaughtUpTimeMs: 0})
    // Its first process caught up half a lag bound ago; that says nothing about this one.
    expect(partition.proposeIsrShrink(clock.nowMs(), LAG_MAX_MS)).to.deep.equal([1, 3])
    // The same process fetching again is not a restart.
    partition.recordFollowerFetch(3, 5, clock.nowMs(), 'three-first')
    expect(partition.followerState(3)?.lastCaughtUpTimeMs).to.equal(clock.nowMs())
  })

  it('takes the incarnations the control plane recorded for its ISR as known, so a follower restarted before this leadership is seen as restarted', async () => {
    const partition = await Partition.open('orders', 0, path.join(root, 'orders-9'), {flushPolicy: 'never'}, {logger: recordingLogger(), clock, role: 'follower', leaderEpoch: 0})
    opened.push(partition)
    partition.becomeLeader(1, {replicaId: 1, replicas: [1, 2, 3], isr: [1, 2, 3], isrIncarnations: {2: 'two-first', 3: 'three-first'}, minInsyncReplicas: 2})
    await partition.appendAsLeader(plainBatch(['a', 'b']))
    expect(partition.followerIncarnation(2)).to.equal('two-first')
    partition.recordFollowerFetch(2, 0, clock.nowMs(), 'two-second')
    partition.recordFollowerFetch(3, 0, clock.nowMs(), 'three-first')
    // Follower 3 keeps the lag bound the new leadership gave it; follower 2's restart took it away.
    expect(partition.proposeIsrShrink(clock.nowMs(), LAG_MAX_MS)).to.deep.equal([1, 3])
  })

  it('acts on an ISR change only once applied; an aborted change keeps the old ISR; an apply for another epoch is refused', async () => {
    const partition = await leaderOf()
    partition.beginIsrChange([1, 2])
    expect(partition.proposeIsrShrink(clock.nowMs() + 60_000, LAG_MAX_MS), 'one change at a time').to.equal(null)
    partition.abortIsrChange()
    expect(partition.isr).to.deep.equal([1, 2, 3])
    expect(partition.pendingIsr).to.equal(null)
    expect((await rejection(Promise.resolve().then(() => partition.applyIsr([1, 2], 0)))).code).to.equal('FENCED_LEADER_EPOCH')
    partition.applyIsr([1, 2], 1)
    expect(partition.isr).to.deep.equal([1, 2])
  })

  it('while an expansion is being written, waits for the newcomer too before committing', async () => {
    const partition = await leaderOf([1, 2])
    await partition.appendAsLeader(plainBatch(['a']))
    partition.recordFollowerFetch(2, 1, clock.nowMs())
    partition.recordFollowerFetch(3, 1, clock.nowMs())
    expect(partition.highWatermark).to.equal(1)
    partition.beginIsrChange([1, 2, 3])
    await partition.appendAsLeader(plainBatch(['b']))
    partition.recordFollowerFetch(2, 2, clock.nowMs())
    expect(partition.highWatermark, 'replica 3 may be elected once the write lands').to.equal(1)
    partition.recordFollowerFetch(3, 2, clock.nowMs())
    expect(partition.highWatermark).to.equal(2)
  })

  it('answers replica fetches past the high watermark up to its log end, fences a stale epoch, and keeps consumers below the high watermark', async () => {
    const partition = await leaderOf([1, 2])
    await partition.appendAsLeader(plainBatch(['a', 'b']))
    const forReplica = await partition.fetchForReplica({replicaId: 2, fetchOffset: 0, leaderEpoch: 1, maxBytes: 1 << 20, maxWaitMs: 0})
    expect(valuesOf(forReplica.batches)).to.deep.equal(['a', 'b'])
    expect(forReplica.highWatermark).to.equal(0)
    const forConsumer = await partition.fetch(0, 1 << 20, 0)
    expect(forConsumer.batches.length).to.equal(0)
    expect((await rejection(partition.fetchForReplica({replicaId: 2, fetchOffset: 2, leaderEpoch: 0, maxBytes: 1 << 20, maxWaitMs: 0}))).code).to.equal('FENCED_LEADER_EPOCH')
    expect((await rejection(partition.fetchForReplica({replicaId: 2, fetchOffset: 3, leaderEpoch: 1, maxBytes: 1 << 20, maxWaitMs: 0}))).code).to.equal('OFFSET_OUT_OF_RANGE')
    partition.becomeFollower(2)
    // Named leader of epoch 2 before it took that role: the replica retries.
    expect((await rejection(partition.fetchForReplica({replicaId: 2, fetchOffset: 2, leaderEpoch: 2, maxBytes: 1 << 20, maxWaitMs: 0}))).code).to.equal('UNKNOWN_LEADER_EPOCH')
    expect((await rejection(partition.fetchForReplica({replicaId: 2, fetchOffset: 2, leaderEpoch: 1, maxBytes: 1 << 20, maxWaitMs: 0}))).code).to.equal('NOT_LEADER')
  })

  it("answers a consumer empty, not out of range, between the high watermark and the log end (a new leader's trailing high watermark), and out of range past the log end", async () => {
    const partition = await leaderOf([1, 2])
    await partition.appendAsLeader(plainBatch(['a', 'b']))
    expect(partition.highWatermark).to.equal(0)
    for (const offset of [1, 2]) {
      const answer = await partition.fetch(offset, 1 << 20, 0)
      expect({bytes: answer.batches.length, highWatermark: answer.highWatermark}, `offset ${offset}`).to.deep.equal({bytes: 0, highWatermark: 0})
    }
    expect((await rejection(partition.fetch(3, 1 << 20, 0))).code).to.equal('OFFSET_OUT_OF_RANGE')
    await partition.fetchForReplica({replicaId: 2, fetchOffset: 2, leaderEpoch: 1, maxBytes: 1 << 20, maxWaitMs: 0})
    expect(valuesOf((await partition.fetch(1, 1 << 20, 0)).batches)).to.deep.equal(['a', 'b'])
  })

  it('ends a replica long poll at its log end on an append', async () => {
    const partition = await leaderOf([1, 2])
    let answered = false
    const polling = partition.fetchForReplica({replicaId: 2, fetchOffset: 0, leaderEpoch: 1, maxBytes: 1 << 20, maxWaitMs: 5000}).then((result) => {
      answered = true
      return result
    })
    await settle()
    expect(answered).to.equal(false)
    await partition.appendAsLeader(plainBatch(['a']))
    expect(valuesOf((await polling).batches)).to.deep.equal(['a'])
  })
})
