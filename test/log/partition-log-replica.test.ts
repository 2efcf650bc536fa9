/**
 * The log's side of replication: leader epochs start inside the serialized append, a
 * follower's append keeps the leader's offsets and epochs, and retention stops at the high
 * watermark.
 */
import {expect} from 'chai'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../../src/errors.js'
import {PartitionLog, type PartitionLogConfig} from '../../src/log/partition-log.js'
import {batchPositions, decodeRecordBatch, encodeRecordBatch, setBaseOffset, setPartitionLeaderEpoch} from '../../src/format/record-batch.js'
import {batchOf, memoryLogger, scratchDir} from './helpers.js'

const TIMESTAMP = 1_700_000_000_000

/** A batch as a leader wrote it: its offsets and epoch already in the header, CRC still valid (they are outside it). */
function leaderBatch(values: string[], baseOffset: number, epoch: number): Buffer {
  const batch = encodeRecordBatch(values.map((value) => ({key: null, value: Buffer.from(value), timestamp: TIMESTAMP})))
  setBaseOffset(batch, baseOffset)
  setPartitionLeaderEpoch(batch, epoch)
  return batch
}

function headersOf(batches: Buffer): {baseOffset: number; epoch: number; values: string[]}[] {
  return [...batchPositions(batches)].map(({position, header}) => ({
    baseOffset: header.baseOffset,
    epoch: header.partitionLeaderEpoch,
    values: decodeRecordBatch(batches, position).records.map((record) => record.value?.toString() ?? ''),
  }))
}

async function expectRejected(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught)
  expect(error, 'expected a LignumError').to.be.instanceOf(LignumError)
  expect((error as LignumError).code).to.equal(code)
  expect((error as LignumError).message).to.match(message)
}

describe('PartitionLog replication seams', () => {
  let dir: string
  let cleanup: () => Promise<void>
  const opened: PartitionLog[] = []

  async function openLog(config: Partial<PartitionLogConfig> = {}, options: Parameters<typeof PartitionLog.open>[2] = {}): Promise<PartitionLog> {
    const log = await PartitionLog.open(path.join(dir, 'orders-0'), {flushPolicy: 'never', ...config}, {logger: memoryLogger(), ...options})
    opened.push(log)
    return log
  }

  beforeEach(async () => ({dir, cleanup} = await scratchDir()))
  afterEach(async () => {
    for (const log of opened.splice(0)) await log.close()
    await cleanup()
  })

  describe('leader epochs in the append', () => {
    it('records a new epoch at the offset of its first append and writes the checkpoint', async () => {
      const log = await openLog()
      await log.append(batchOf(['a', 'b']), {leaderEpoch: 0})
      await log.append(batchOf(['c']), {leaderEpoch: 0})
      expect(await readFile(path.join(dir, 'orders-0', 'leader-epoch-checkpoint'), 'utf8')).to.equal('0\n1\n0 0\n')
      await log.append(batchOf(['d']), {leaderEpoch: 3})
      expect(log.latestEpoch).to.equal(3)
      expect(log.epochEntries()).to.deep.equal([{epoch: 0, startOffset: 0}, {epoch: 3, startOffset: 3}])
      expect(log.endOffsetFor(0)).to.deep.equal({epoch: 0, endOffset: 3})
      expect(log.endOffsetFor(3)).to.deep.equal({epoch: 3, endOffset: 4})
    })

    it('records epoch starts in call order when appends of two epochs are grouped', async () => {
      const log = await openLog()
      await Promise.all([log.append(batchOf(['a']), {leaderEpoch: 1}), log.append(batchOf(['b', 'c']), {leaderEpoch: 1}), log.append(batchOf(['d']), {leaderEpoch: 2})])
      expect(log.epochEntries()).to.deep.equal([{epoch: 1, startOffset: 0}, {epoch: 2, startOffset: 3}])
    })

    it('keeps the epochs across a reopen', async () => {
      const first = await openLog()
      await first.append(batchOf(['a']), {leaderEpoch: 0})
      await first.append(batchOf(['b']), {leaderEpoch: 1})
      await first.close()
      const reopened = await openLog()
      expect(reopened.epochEntries()).to.deep.equal([{epoch: 0, startOffset: 0}, {epoch: 1, startOffset: 1}])
    })

    it('calls onWritten inside the serialized append, before the next queued operation', async () => {
      const events: string[] = []
      const log = await openLog({}, {onRoll: async (baseOffset) => void events.push(`roll@${baseOffset}`)})
      const appended = log.append(batchOf(['a', 'b']), {onWritten: (info) => events.push(`written ${info.baseOffset}-${info.lastOffset}`)})
      const rolled = log.roll()
      await Promise.all([appended, rolled])
      expect(events).to.deep.equal(['written 0-1', 'roll@2'])
    })
  })

  describe('appendAsFollower', () => {
    it('keeps the leader\'s offsets and epochs and learns the epochs from the batches', async () => {
      const log = await openLog()
      const batches = Buffer.concat([leaderBatch(['a', 'b'], 0, 0), leaderBatch(['c'], 2, 0), leaderBatch(['d', 'e'], 3, 4)])
      const info = await log.appendAsFollower(batches)
      expect(info).to.include({baseOffset: 0, lastOffset: 4, recordCount: 5})
      expect(log.logEndOffset).to.equal(5)
      expect(headersOf((await log.read(0)).batches)).to.deep.equal([
        {baseOffset: 0, epoch: 0, values: ['a', 'b']},
        {baseOffset: 2, epoch: 0, values: ['c']},
        {baseOffset: 3, epoch: 4, values: ['d', 'e']},
      ])
      expect(log.epochEntries()).to.deep.equal([{epoch: 0, startOffset: 0}, {epoch: 4, startOffset: 3}])
      expect(await readFile(path.join(dir, 'orders-0', 'leader-epoch-checkpoint'), 'utf8')).to.equal('0\n2\n0 0\n4 3\n')
    })

    it('refuses batches that do not start at the log end offset, and writes nothing', async () => {
      const log = await openLog()
      await log.appendAsFollower(leaderBatch(['a'], 0, 0))
      await expectRejected(log.appendAsFollower(leaderBatch(['gap'], 5, 0)), 'OFFSET_OUT_OF_RANGE', /starts at offset 5 but the log ends at 1/)
      await expectRejected(log.appendAsFollower(leaderBatch(['again'], 0, 0)), 'OFFSET_OUT_OF_RANGE', /starts at offset 0 but the log ends at 1/)
      expect(log.logEndOffset).to.equal(1)
      expect(log.segments()[0].batchCount).to.equal(1)
    })

    it('refuses batches with a gap between them, and writes nothing', async () => {
      const log = await openLog()
      const gapped = Buffer.concat([leaderBatch(['a'], 0, 0), leaderBatch(['b'], 2, 0)])
      await expectRejected(log.appendAsFollower(gapped), 'CORRUPT_RECORD', /starts at offset 2, not right after the previous batch's last offset 0/)
      expect(log.logEndOffset).to.equal(0)
      expect(log.segments()[0].sizeBytes).to.equal(0)
    })

    it('refuses a batch whose CRC fails, and writes nothing', async () => {
      const log = await openLog()
      const bad = leaderBatch(['a'], 0, 0)
      bad[bad.length - 1] ^= 1
      await expectRejected(log.appendAsFollower(bad), 'CORRUPT_RECORD', /CRC/)
      expect(log.logEndOffset).to.equal(0)
    })

    it('spreads the batches over segments by segmentBytes and keeps offsets dense', async () => {
      const one = leaderBatch(['v0'], 0, 0).length
      const log = await openLog({segmentBytes: one * 2})
      const batches = Buffer.concat([0, 1, 2, 3, 4].map((offset) => leaderBatch([`v${offset}`], offset, offset < 3 ? 0 : 1)))
      await log.appendAsFollower(batches)
      expect(log.segments().map((segment) => [segment.baseOffset, segment.batchCount])).to.deep.equal([[0, 2], [2, 2], [4, 1]])
      expect(log.epochEntries()).to.deep.equal([{epoch: 0, startOffset: 0}, {epoch: 1, startOffset: 3}])
      await log.appendAsFollower(leaderBatch(['v5'], 5, 1))
      expect(log.logEndOffset).to.equal(6)
    })

    it('takes a follower append after a leader\'s appends once the offsets line up', async () => {
      const log = await openLog()
      await log.append(batchOf(['a', 'b']), {leaderEpoch: 0})
      await log.appendAsFollower(leaderBatch(['c'], 2, 1))
      expect(log.epochEntries()).to.deep.equal([{epoch: 0, startOffset: 0}, {epoch: 1, startOffset: 2}])
    })
  })

  describe('restartAt', () => {
    it('empties the log and starts it past its old end, forgetting the epochs, and reopens there', async () => {
      const log = await openLog({segmentBytes: 200})
      for (let base = 0; base < 6; base += 2) await log.appendAsFollower(leaderBatch(['a', 'b'], base, 1))
      expect(log.segments().length).to.be.greaterThan(1)
      expect(await log.restartAt(100)).to.equal(100)
      expect(log.logStartOffset).to.equal(100)
      expect(log.latestEpoch).to.equal(-1)
      expect(log.segments().map((segment) => segment.baseOffset)).to.deep.equal([100])
      await log.appendAsFollower(leaderBatch(['z'], 100, 2))
      expect(headersOf((await log.read(100)).batches)).to.deep.equal([{baseOffset: 100, epoch: 2, values: ['z']}])
      await log.close()
      const reopened = await openLog()
      expect([reopened.logStartOffset, reopened.logEndOffset, reopened.latestEpoch]).to.deep.equal([100, 101, 2])
      expect(reopened.endOffsetFor(1)).to.deep.equal({epoch: -1, endOffset: -1})
    })
  })

  describe('retention and the high watermark', () => {
    it('never deletes a segment holding an offset at or past the high watermark', async () => {
      const one = batchOf(['v0'], TIMESTAMP).length
      const log = await openLog({segmentBytes: one * 2, retentionMs: 1000})
      for (let index = 0; index < 6; index++) await log.append(batchOf([`v${index}`], TIMESTAMP))
      // Segments [0,1] [2,3] [4,5], all expired. The high watermark 3 lies inside the second.
      expect(await log.applyRetention(TIMESTAMP + 10_000, {highWatermark: 3})).to.deep.equal({deletedSegments: 1})
      expect(log.logStartOffset).to.equal(2)
      expect(await log.applyRetention(TIMESTAMP + 10_000, {highWatermark: 4})).to.deep.equal({deletedSegments: 1})
      expect(log.logStartOffset).to.equal(4)
      expect(await log.applyRetention(TIMESTAMP + 10_000, {highWatermark: 6})).to.deep.equal({deletedSegments: 1})
      expect(log.logStartOffset).to.equal(6)
    })
  })
})
