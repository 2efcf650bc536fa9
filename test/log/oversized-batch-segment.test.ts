/**
 * A batch larger than segmentBytes is written to a segment of its own, as Kafka does (roll,
 * then append), by a leader and by a follower; recovery, the indexes, reads and
 * `segments inspect --verify` hold for such segments.
 */
import {expect} from 'chai'
import path from 'node:path'
import {batchPositions, decodeRecordBatch, encodeRecordBatch, type LogRecord} from '../../src/format/record-batch.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {runCli} from '../helpers/cli.js'
import {batchOf, memoryLogger, scratchDir} from './helpers.js'

const SEGMENT_BYTES = 4096
const TIMESTAMP = 1_700_000_000_000

function bigBatch(label: string, records: number): Buffer {
  return encodeRecordBatch(Array.from({length: records}, (_, index) => ({key: null, value: Buffer.from(`${label}-${index}-${'x'.repeat(100)}`), timestamp: TIMESTAMP + index})))
}

async function readAll(log: PartitionLog): Promise<LogRecord[]> {
  const records: LogRecord[] = []
  let offset = log.logStartOffset
  while (offset < log.logEndOffset) {
    const {batches, nextOffset} = await log.read(offset, {maxBytes: 1024})
    for (const {position} of batchPositions(batches)) records.push(...decodeRecordBatch(batches, position).records.filter((record) => record.offset >= offset))
    expect(nextOffset).to.be.greaterThan(offset)
    offset = nextOffset
  }
  return records
}

describe('log: a batch larger than segmentBytes', () => {
  it('goes to a segment of its own, and recovery, reads, indexes and segments inspect --verify hold', async () => {
    const {dir, cleanup} = await scratchDir()
    try {
      const at = path.join(dir, 'wide-0')
      const config = {segmentBytes: SEGMENT_BYTES, indexIntervalBytes: 512, flushPolicy: 'never' as const}
      const log = await PartitionLog.open(at, config, {logger: memoryLogger()})
      const big = bigBatch('big', 200)
      expect(big.length).to.be.above(SEGMENT_BYTES * 4)
      await log.append(batchOf(['a', 'b']))
      const placed = await log.append(Buffer.from(big))
      expect(placed).to.include({baseOffset: 2, lastOffset: 201, positionBytes: 0})
      await log.append(batchOf(['c']))
      // One append of several batches, together past segmentBytes: one new segment.
      await log.append(Buffer.concat([bigBatch('pair-1', 30), bigBatch('pair-2', 30)]))
      await log.append(batchOf(['d']))
      const segments = log.segments().map((segment) => ({baseOffset: segment.baseOffset, sizeBytes: segment.sizeBytes}))
      expect(segments.map((segment) => segment.baseOffset)).to.deep.equal([0, 2, 202, 203, 263])
      expect(segments[1].sizeBytes).to.equal(big.length)
      expect(await readAll(log)).to.have.length(264)
      await log.close()

      const reopened = await PartitionLog.open(at, config, {logger: memoryLogger()})
      expect(reopened.logEndOffset).to.equal(264)
      expect((await readAll(reopened)).map((record) => record.offset)).to.deep.equal(Array.from({length: 264}, (_, offset) => offset))
      // Offsets inside the big segment are found through its index.
      const {batches} = await reopened.read(150, {maxBytes: 1})
      expect(readOffsets(batches)).to.deep.equal([2, 201])
      await reopened.close()

      const verified = await runCli(['segments', 'inspect', '--data-dir', dir, '--verify'])
      expect(verified.code, verified.stdout + verified.stderr).to.equal(0)
    } finally {
      await cleanup()
    }
  })

  it("is taken by a follower from its leader's log into a segment of its own", async () => {
    const {dir, cleanup} = await scratchDir()
    try {
      const config = {segmentBytes: SEGMENT_BYTES, flushPolicy: 'never' as const}
      const leader = await PartitionLog.open(path.join(dir, 'leader-0'), {...config, segmentBytes: 1024 * 1024}, {logger: memoryLogger()})
      await leader.append(batchOf(['a']), {leaderEpoch: 0})
      await leader.append(bigBatch('big', 100), {leaderEpoch: 0})
      await leader.append(batchOf(['b']), {leaderEpoch: 0})
      const {batches} = await leader.read(0, {maxBytes: 1024 * 1024})
      const follower = await PartitionLog.open(path.join(dir, 'follower-0'), config, {logger: memoryLogger()})
      await follower.appendAsFollower(batches)
      expect(follower.segments().map((segment) => segment.baseOffset)).to.deep.equal([0, 1, 101])
      expect(follower.logEndOffset).to.equal(102)
      await Promise.all([leader.close(), follower.close()])
    } finally {
      await cleanup()
    }
  })
})

function readOffsets(batches: Buffer): number[] {
  const [first] = [...batchPositions(batches)]
  return [first.header.baseOffset, first.header.lastOffset]
}
