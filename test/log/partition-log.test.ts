import {expect} from 'chai'
import {cp, readdir, readFile, rm, stat, truncate, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../../src/errors.js'
import {PartitionDamagedError, PartitionLog, type PartitionLogConfig} from '../../src/log/partition-log.js'
import {batchPositions, decodeRecordBatch, encodeRecordBatch, type LogRecord} from '../../src/format/record-batch.js'
import {batchOf, diskSeam, memoryLogger, scratchDir} from './helpers.js'

const TIMESTAMP = 1_700_000_000_000

async function readAll(log: PartitionLog, fromOffset = log.logStartOffset): Promise<LogRecord[]> {
  const records: LogRecord[] = []
  let offset = fromOffset
  while (offset < log.logEndOffset) {
    const {batches, nextOffset} = await log.read(offset, {maxBytes: 4096})
    for (const {position} of batchPositions(batches)) records.push(...decodeRecordBatch(batches, position).records.filter((r) => r.offset >= offset))
    expect(nextOffset).to.be.greaterThan(offset)
    offset = nextOffset
  }
  return records
}

function values(records: LogRecord[]): string[] {
  return records.map((record) => record.value?.toString() ?? '<null>')
}

/** Same-sized batches ("v00".."v99"), so exact byte limits can be computed from one of them. */
function fixedBatch(index: number, timestamp = TIMESTAMP): Buffer {
  return batchOf([`v${String(index).padStart(2, '0')}`], timestamp)
}
const FIXED_BATCH_BYTES = fixedBatch(0).length

describe('PartitionLog', () => {
  let dir: string
  let cleanup: () => Promise<void>
  const opened: PartitionLog[] = []

  async function openLog(config: Partial<PartitionLogConfig> = {}, options: Parameters<typeof PartitionLog.open>[2] = {}, at = path.join(dir, 'orders-0')): Promise<PartitionLog> {
    const log = await PartitionLog.open(at, {flushPolicy: 'never', ...config}, {logger: memoryLogger(), ...options})
    opened.push(log)
    return log
  }

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
  })

  afterEach(async () => {
    for (const log of opened.splice(0)) await log.close()
    await cleanup()
  })

  describe('append and read', () => {
    it('assigns dense offsets, reads them back, and keeps them across a reopen', async () => {
      let log = await openLog()
      expect(log.topic).to.equal('orders')
      expect(log.partition).to.equal(0)
      const first = await log.append(batchOf(['a', 'b', 'c']))
      const second = await log.append(batchOf(['d']))
      expect(first).to.include({baseOffset: 0, lastOffset: 2, recordCount: 3, positionBytes: 0})
      expect(second).to.include({baseOffset: 3, lastOffset: 3, recordCount: 1})
      expect(log.logEndOffset).to.equal(4)
      await log.close()
      log = await openLog()
      expect([log.logStartOffset, log.logEndOffset]).to.deep.equal([0, 4])
      expect(values(await readAll(log))).to.deep.equal(['a', 'b', 'c', 'd'])
    })

    it('appends several batches in one call, rewriting their base offsets in place', async () => {
      const log = await openLog()
      await log.append(batchOf(['x']))
      const joined = Buffer.concat([batchOf(['a', 'b']), batchOf(['c'])])
      const info = await log.append(joined)
      expect(info).to.include({baseOffset: 1, lastOffset: 3})
      expect([...batchPositions(joined)].map((entry) => entry.header.baseOffset)).to.deep.equal([1, 3])
      expect((await readAll(log)).map((record) => record.offset)).to.deep.equal([0, 1, 2, 3])
    })

    it('orders concurrent appends by call time and shares fsyncs under flush policy always', async () => {
      const seam = diskSeam()
      const log = await openLog({flushPolicy: 'always'}, {openFile: seam.openFile})
      seam.datasyncs = 0
      const acknowledged: number[] = []
      const infos = await Promise.all(
        Array.from({length: 20}, (_, index) =>
          log.append(batchOf([`m${index}`])).then((info) => {
            acknowledged.push(seam.datasyncs)
            return info
          }),
        ),
      )
      expect(infos.map((info) => info.baseOffset)).to.deep.equal(Array.from({length: 20}, (_, index) => index))
      // Every append waited for an fdatasync, and the twenty shared one or two of them.
      expect(Math.min(...acknowledged)).to.be.at.least(1)
      expect(seam.datasyncs).to.be.within(1, 2)
      expect(values(await readAll(log))).to.deep.equal(Array.from({length: 20}, (_, index) => `m${index}`))
    })

    it('writes concurrent appends as groups, split at segment limits and around other operations', async () => {
      const log = await openLog({segmentBytes: FIXED_BATCH_BYTES * 3})
      const before = Array.from({length: 7}, (_, index) => log.append(fixedBatch(index)))
      const rolled = log.roll()
      const after = Array.from({length: 2}, (_, index) => log.append(fixedBatch(7 + index)))
      const infos = await Promise.all([...before, ...after])
      await rolled
      expect(infos.map((info) => info.baseOffset)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8])
      expect(infos.map((info) => info.positionBytes)).to.deep.equal([0, 1, 2, 0, 1, 2, 0, 0, 1].map((n) => n * FIXED_BATCH_BYTES))
      expect(log.segments().map((segment) => [segment.baseOffset, segment.lastOffset])).to.deep.equal([[0, 2], [3, 5], [6, 6], [7, 8]])
      expect(values(await readAll(log))).to.deep.equal(Array.from({length: 9}, (_, index) => `v0${index}`))
    })

    it('rejects only the bad append among concurrent ones', async () => {
      const log = await openLog()
      const bad = batchOf(['bad'])
      bad[bad.length - 1] ^= 1
      const results = await Promise.allSettled([log.append(batchOf(['a'])), log.append(bad), log.append(batchOf(['b']))])
      expect(results.map((result) => result.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled'])
      expect(values(await readAll(log))).to.deep.equal(['a', 'b'])
    })

    it('sets the leader epoch on appended batches when given one', async () => {
      const log = await openLog()
      await log.append(batchOf(['a']), {leaderEpoch: 5})
      const {batches} = await log.read(0)
      expect(decodeRecordBatch(batches).header.partitionLeaderEpoch).to.equal(5)
    })

    it('rejects a corrupt or partial buffer and writes nothing', async () => {
      const log = await openLog()
      await log.append(batchOf(['kept']))
      const sizeBefore = log.segments()[0].sizeBytes
      const flipped = batchOf(['bad'])
      flipped[flipped.length - 1] ^= 0xff
      for (const bad of [flipped, Buffer.concat([batchOf(['ok']), batchOf(['cut']).subarray(0, 40)]), Buffer.alloc(0)]) {
        const error = await log.append(bad).catch((caught: unknown) => caught)
        expect(error).to.be.instanceOf(LignumError)
      }
      expect(await log.append(flipped).catch((error: LignumError) => error.code)).to.equal('CORRUPT_RECORD')
      expect(log.logEndOffset).to.equal(1)
      expect(log.segments()[0].sizeBytes).to.equal(sizeBefore)
      expect((await stat(log.segments()[0].path)).size).to.equal(sizeBefore)
    })

    it('reads the whole batch that contains an offset, as Kafka does', async () => {
      const log = await openLog()
      await log.append(batchOf(['a', 'b', 'c']))
      await log.append(batchOf(['d', 'e']))
      const {batches, nextOffset} = await log.read(4, {maxBytes: 1})
      const decoded = decodeRecordBatch(batches)
      expect(decoded.header.baseOffset).to.equal(3)
      expect(nextOffset).to.equal(5)
      const middle = await log.read(1, {maxBytes: 1})
      expect(decodeRecordBatch(middle.batches).header.baseOffset).to.equal(0)
      expect(middle.nextOffset).to.equal(3)
    })

    it('stops before maxBytes but returns at least one whole batch', async () => {
      const log = await openLog()
      for (let index = 0; index < 10; index++) await log.append(fixedBatch(index))
      const two = await log.read(0, {maxBytes: FIXED_BATCH_BYTES * 2 + 5})
      expect(two.batches.length).to.equal(FIXED_BATCH_BYTES * 2)
      expect(two.nextOffset).to.equal(2)
      const one = await log.read(0, {maxBytes: 10})
      expect(one.batches.length).to.equal(FIXED_BATCH_BYTES)
    })

    it('returns only batches below upToOffset (the high watermark)', async () => {
      const log = await openLog()
      await log.append(batchOf(['a', 'b']))
      await log.append(batchOf(['c', 'd']))
      const below = await log.read(0, {upToOffset: 3})
      expect([...batchPositions(below.batches)].length).to.equal(1)
      expect(below.nextOffset).to.equal(2)
      const none = await log.read(2, {upToOffset: 3})
      expect(none.batches.length).to.equal(0)
      expect(none.nextOffset).to.equal(2)
    })

    it('answers empty at the log end and OFFSET_OUT_OF_RANGE outside the log', async () => {
      const log = await openLog()
      await log.append(batchOf(['a']))
      expect((await log.read(1)).batches.length).to.equal(0)
      for (const offset of [2, -1, 1.5]) {
        const error = await log.read(offset).catch((caught: LignumError) => caught)
        expect(error).to.be.instanceOf(LignumError).with.property('code', 'OFFSET_OUT_OF_RANGE')
      }
    })
  })

  describe('indexes', () => {
    it('adds an index entry after every indexIntervalBytes, keyed by the batch last offset', async () => {
      const log = await openLog({indexIntervalBytes: FIXED_BATCH_BYTES * 2})
      for (let index = 0; index < 10; index++) await log.append(fixedBatch(index))
      // An entry goes in once more than the interval has been appended since the last one: before batches 3, 6, 9.
      expect(log.segments()[0].indexEntries).to.equal(3)
      await log.close()
      const bytes = await readFile(path.join(dir, 'orders-0', '00000000000000000000.index'))
      const entries = Array.from({length: bytes.length / 8}, (_, entry) => [bytes.readInt32BE(entry * 8), bytes.readInt32BE(entry * 8 + 4)])
      expect(entries).to.deep.equal([3, 6, 9].map((offset) => [offset, offset * FIXED_BATCH_BYTES]))
      const timeBytes = await readFile(path.join(dir, 'orders-0', '00000000000000000000.timeindex'))
      // Kafka's rule: the largest timestamp so far, with the last offset of the first batch carrying it.
      expect(timeBytes.length).to.equal(12)
      expect(Number(timeBytes.readBigInt64BE(0))).to.equal(TIMESTAMP)
      expect(timeBytes.readInt32BE(8)).to.equal(0)
    })

    it('finds every offset through the index after a reopen', async () => {
      let log = await openLog({indexIntervalBytes: 0})
      for (let index = 0; index < 30; index++) await log.append(fixedBatch(index))
      await log.close()
      log = await openLog({indexIntervalBytes: 0})
      expect(log.segments()[0].indexEntries).to.equal(29)
      for (let offset = 0; offset < 30; offset++) {
        const {batches} = await log.read(offset, {maxBytes: 1})
        expect(decodeRecordBatch(batches).records[0].value?.toString()).to.equal(`v${String(offset).padStart(2, '0')}`)
      }
    })
  })

  describe('rolling', () => {
    it('rolls when the next append would pass segmentBytes, exactly at the limit', async () => {
      const log = await openLog({segmentBytes: FIXED_BATCH_BYTES * 3, indexIntervalBytes: 0})
      for (let index = 0; index < 7; index++) await log.append(fixedBatch(index))
      const segments = log.segments()
      expect(segments.map((segment) => [segment.baseOffset, segment.lastOffset, segment.sizeBytes])).to.deep.equal([
        [0, 2, FIXED_BATCH_BYTES * 3],
        [3, 5, FIXED_BATCH_BYTES * 3],
        [6, 6, FIXED_BATCH_BYTES],
      ])
      expect(segments[0].indexEntries).to.equal(2)
      const names = (await readdir(path.join(dir, 'orders-0'))).filter((name) => name.endsWith('.log'))
      expect(names).to.deep.equal(['00000000000000000000.log', '00000000000000000003.log', '00000000000000000006.log'])
      expect(values(await readAll(log))).to.have.length(7)
    })

    it('rolls when the active segment is older than segmentMs', async () => {
      let now = TIMESTAMP
      const log = await openLog({segmentMs: 1000}, {clock: () => now})
      await log.append(batchOf(['a']))
      now += 999
      await log.append(batchOf(['b']))
      expect(log.segments()).to.have.length(1)
      now += 1
      await log.append(batchOf(['c']))
      expect(log.segments().map((segment) => segment.baseOffset)).to.deep.equal([0, 2])
    })

    it('rolls on demand and never leaves an empty segment behind a roll', async () => {
      const log = await openLog()
      await log.roll()
      expect(log.segments()).to.have.length(1)
      await log.append(batchOf(['a']))
      await log.roll()
      await log.roll()
      expect(log.segments().map((segment) => segment.baseOffset)).to.deep.equal([0, 1])
    })
  })

  describe('retention', () => {
    it('deletes whole segments whose newest record is older than retentionMs', async () => {
      const log = await openLog({retentionMs: 1000})
      await log.append(batchOf(['old'], TIMESTAMP))
      await log.roll()
      await log.append(batchOf(['newer'], TIMESTAMP + 5000))
      await log.roll()
      await log.append(batchOf(['newest'], TIMESTAMP + 9000))
      expect(await log.applyRetention(TIMESTAMP + 5500)).to.deep.equal({deletedSegments: 1})
      expect(log.logStartOffset).to.equal(1)
      expect(values(await readAll(log))).to.deep.equal(['newer', 'newest'])
      expect(await log.read(0).catch((error: LignumError) => error.code)).to.equal('OFFSET_OUT_OF_RANGE')
      expect((await readdir(path.join(dir, 'orders-0'))).filter((name) => name.startsWith('00000000000000000000'))).to.deep.equal([])
    })

    it('deletes the oldest segments while the rest still hold retentionBytes', async () => {
      const log = await openLog({retentionBytes: FIXED_BATCH_BYTES * 2, retentionMs: -1, segmentBytes: FIXED_BATCH_BYTES})
      for (let index = 0; index < 5; index++) await log.append(fixedBatch(index))
      expect(log.segments()).to.have.length(5)
      expect(await log.applyRetention()).to.deep.equal({deletedSegments: 3})
      expect(log.segments().map((segment) => segment.baseOffset)).to.deep.equal([3, 4])
    })

    it('keeps everything with retention off, and rolls before deleting an expired active segment', async () => {
      const log = await openLog({retentionMs: -1})
      await log.append(batchOf(['a'], 0))
      expect(await log.applyRetention(TIMESTAMP)).to.deep.equal({deletedSegments: 0})
      const expiring = await openLog({retentionMs: 10}, {}, path.join(dir, 'expiring-0'))
      await expiring.append(batchOf(['a'], 0))
      expect(await expiring.applyRetention(TIMESTAMP)).to.deep.equal({deletedSegments: 1})
      expect([expiring.logStartOffset, expiring.logEndOffset]).to.deep.equal([1, 1])
    })
  })

  describe('reads by time', () => {
    it('finds the first offset whose timestamp is at or after a time, across segments', async () => {
      const log = await openLog({indexIntervalBytes: 0})
      for (let index = 0; index < 10; index++) await log.append(batchOf([`a${index}`, `b${index}`], TIMESTAMP + index * 100))
      await log.roll()
      await log.append(encodeRecordBatch([{key: null, value: Buffer.from('late'), timestamp: TIMESTAMP + 5000}, {key: null, value: Buffer.from('later'), timestamp: TIMESTAMP + 6000}]))
      expect(await log.offsetForTimestamp(0)).to.equal(0)
      expect(await log.offsetForTimestamp(TIMESTAMP + 300)).to.equal(6)
      expect(await log.offsetForTimestamp(TIMESTAMP + 301)).to.equal(8)
      expect(await log.offsetForTimestamp(TIMESTAMP + 5500)).to.equal(21)
      expect(await log.offsetForTimestamp(TIMESTAMP + 6001)).to.equal(null)
    })
  })

  describe('truncation', () => {
    it('drops everything at or after an offset, across segments, and appends after it', async () => {
      const log = await openLog({segmentBytes: FIXED_BATCH_BYTES * 2})
      for (let index = 0; index < 6; index++) await log.append(fixedBatch(index), {leaderEpoch: index < 4 ? 1 : 2})
      await log.truncateTo(3)
      expect(log.logEndOffset).to.equal(3)
      expect(log.segments().map((segment) => segment.baseOffset)).to.deep.equal([0, 2])
      expect(log.epochEntries()).to.deep.equal([{epoch: 1, startOffset: 0}])
      await log.append(batchOf(['after']))
      expect(values(await readAll(log))).to.deep.equal(['v00', 'v01', 'v02', 'after'])
    })

    it('drops the whole batch an offset falls in, and everything with an offset at the start', async () => {
      const log = await openLog()
      await log.append(batchOf(['a', 'b', 'c']))
      await log.truncateTo(1)
      expect(log.logEndOffset).to.equal(0)
      await log.append(batchOf(['d']))
      await log.truncateTo(0)
      expect([log.logStartOffset, log.logEndOffset]).to.deep.equal([0, 0])
      await log.append(batchOf(['e']))
      expect(values(await readAll(log))).to.deep.equal(['e'])
    })

    it('returns the new log end offset, and for a follower refuses an offset inside a batch', async () => {
      const log = await openLog()
      await log.append(batchOf(['a', 'b', 'c']))
      await log.append(batchOf(['d', 'e']))
      const refused = await log.truncateTo(4, {requireBatchBoundary: true}).catch((error: LignumError) => error)
      expect(refused).to.have.property('code', 'INVALID_ARGUMENT')
      expect((refused as LignumError).message).to.include('inside the batch of offsets 3 to 4')
      expect(log.logEndOffset).to.equal(5)
      expect(await log.truncateTo(9)).to.equal(5)
      expect(await log.truncateTo(3, {requireBatchBoundary: true})).to.equal(3)
      expect(await log.truncateTo(1)).to.equal(0)
    })

    it('cuts the indexes from their entries, not by scanning the segment again', async () => {
      const log = await openLog({indexIntervalBytes: FIXED_BATCH_BYTES})
      for (let index = 0; index < 40; index++) await log.append(fixedBatch(index))
      await log.flush()
      // Damage the first batch's header on disk: a rescan of the segment would stop there.
      const file = path.join(dir, 'orders-0', '00000000000000000000.log')
      const bytes = await readFile(file)
      bytes[16] = 9 // magic
      await writeFile(file, bytes)
      expect(await log.truncateTo(33)).to.equal(33)
      const [truncated] = log.segments()
      expect(truncated).to.include({lastOffset: 32, recordCount: 33, batchCount: 33, sizeBytes: 33 * FIXED_BATCH_BYTES, lastTimestamp: TIMESTAMP})
      expect(values(await readAll(log, 30))).to.deep.equal(['v30', 'v31', 'v32'])
      await log.append(fixedBatch(99))
      // What the cut left in memory is what a rebuild from the file gives, once repaired.
      await log.close()
      const repaired = await readFile(file)
      repaired[16] = 2
      await writeFile(file, repaired)
      const expected = log.segments()
      const logger = memoryLogger()
      const reopened = await openLog({indexIntervalBytes: FIXED_BATCH_BYTES}, {logger})
      expect(reopened.segments()).to.deep.equal(expected)
      expect(logger.lines.map((line) => line.message)).to.not.include('rebuilt a missing or stale index')
    })

    it('never lets a read see bytes a racing truncation removes, nor fail on the race (50 runs)', async () => {
      const outcomes: string[] = []
      for (let run = 0; run < 50; run++) {
        const at = path.join(dir, `race-${run}`)
        const log = await openLog({}, {}, at)
        for (let index = 0; index < 3; index++) await log.append(fixedBatch(index))
        const [read, truncated] = await Promise.allSettled([log.read(1), log.truncateTo(1)])
        expect(truncated.status).to.equal('fulfilled')
        expect(log.logEndOffset).to.equal(1)
        if (read.status === 'rejected') {
          outcomes.push(`rejected: ${(read.reason as Error).message}`)
        } else {
          const offsets = [...batchPositions(read.value.batches)].map((entry) => entry.header.baseOffset)
          outcomes.push(offsets.length === 0 ? 'empty' : `returned offsets ${offsets.join(',')}`)
        }
        expect(values(await readAll(log))).to.deep.equal(['v00'])
      }
      const tally = new Map<string, number>()
      for (const outcome of outcomes) tally.set(outcome, (tally.get(outcome) ?? 0) + 1)
      expect(Object.fromEntries(tally)).to.deep.equal({empty: 50})
    })
  })

  describe('recovery after a crash', () => {
    /** Appends without closing, then copies the files as a crash would leave them. */
    async function crashedCopy(batches: Buffer[]): Promise<string> {
      const log = await openLog({indexIntervalBytes: 0})
      for (const batch of batches) await log.append(batch)
      await log.flush() // index files written, as a periodic flush would have
      await log.append(batchOf(['unflushed tail']))
      const copy = path.join(dir, 'crashed', 'orders-0')
      await cp(path.join(dir, 'orders-0'), copy, {recursive: true})
      return copy
    }

    const fiveBatches = () => Array.from({length: 5}, (_, index) => fixedBatch(index))

    it('truncates a tail cut in the middle of a batch, and logs it', async () => {
      const copy = await crashedCopy(fiveBatches())
      const logFile = path.join(copy, '00000000000000000000.log')
      const size = (await stat(logFile)).size
      await truncate(logFile, size - 7)
      const logger = memoryLogger()
      const log = await openLog({indexIntervalBytes: 0}, {logger}, copy)
      expect(log.logEndOffset).to.equal(5)
      expect(values(await readAll(log))).to.deep.equal(['v00', 'v01', 'v02', 'v03', 'v04'])
      expect((await stat(logFile)).size).to.equal(5 * FIXED_BATCH_BYTES)
      const warning = logger.lines.find((line) => line.level === 'warn')
      expect(warning?.message).to.match(/torn tail/)
      expect(warning?.fields).to.include({position: 5 * FIXED_BATCH_BYTES, offset: 5, bytesTruncated: size - 7 - 5 * FIXED_BATCH_BYTES})
      await log.append(batchOf(['next']))
      expect(log.logEndOffset).to.equal(6)
    })

    it('truncates a last batch with a flipped byte (CRC)', async () => {
      const copy = await crashedCopy(fiveBatches())
      const logFile = path.join(copy, '00000000000000000000.log')
      const bytes = await readFile(logFile)
      bytes[bytes.length - 2] ^= 0x40
      await writeFile(logFile, bytes)
      const logger = memoryLogger()
      const log = await openLog({indexIntervalBytes: 0}, {logger}, copy)
      expect(log.logEndOffset).to.equal(5)
      expect(log.segments()[0]).to.include({batchCount: 5, sizeBytes: 5 * FIXED_BATCH_BYTES, indexEntries: 4})
      expect(logger.lines.some((line) => line.level === 'warn' && JSON.stringify(line.fields).includes('CRC'))).to.equal(true)
    })

    it('rebuilds a deleted index to the same bytes', async () => {
      const copy = await crashedCopy(fiveBatches())
      const indexFile = path.join(copy, '00000000000000000000.index')
      await rm(indexFile)
      const log = await openLog({indexIntervalBytes: 0}, {}, copy)
      expect(log.logEndOffset).to.equal(6)
      expect(log.segments()[0].indexEntries).to.equal(5)
      await log.close()
      const rebuilt = await readFile(indexFile)
      expect(Array.from({length: rebuilt.length / 8}, (_, entry) => rebuilt.readInt32BE(entry * 8))).to.deep.equal([1, 2, 3, 4, 5])
      expect(Array.from({length: rebuilt.length / 8}, (_, entry) => rebuilt.readInt32BE(entry * 8 + 4))).to.deep.equal([1, 2, 3, 4, 5].map((n) => n * FIXED_BATCH_BYTES))
    })

    it('takes a torn segment that later segments follow for damage, even with no recovery point', async () => {
      const log = await openLog({segmentBytes: FIXED_BATCH_BYTES * 2})
      for (let index = 0; index < 6; index++) await log.append(fixedBatch(index))
      const copy = path.join(dir, 'crashed', 'orders-0')
      await cp(path.join(dir, 'orders-0'), copy, {recursive: true})
      await truncate(path.join(copy, '00000000000000000002.log'), FIXED_BATCH_BYTES + 3)
      // A roll syncs a segment before it creates the next: no crash tears a segment another follows.
      await rm(path.join(copy, 'lignum-recovery-point'))
      const error = await PartitionLog.open(copy, {segmentBytes: FIXED_BATCH_BYTES * 2}, {logger: memoryLogger()}).catch((caught: PartitionDamagedError) => caught)
      expect(error).to.be.instanceOf(PartitionDamagedError)
      expect((error as PartitionDamagedError).damage).to.include({kind: 'damaged-batch', file: path.join(copy, '00000000000000000002.log'), position: FIXED_BATCH_BYTES, offset: 3})
      expect((await readdir(copy)).filter((name) => name.endsWith('.log'))).to.deep.equal(['00000000000000000000.log', '00000000000000000002.log', '00000000000000000004.log'])
      expect((await stat(path.join(copy, '00000000000000000002.log'))).size).to.equal(FIXED_BATCH_BYTES + 3)
    })

    it('refuses to open, changing nothing, when data below the recovery point is damaged', async () => {
      let log = await openLog()
      for (let index = 0; index < 3; index++) await log.append(fixedBatch(index))
      await log.close()
      const logFile = path.join(dir, 'orders-0', '00000000000000000000.log')
      const bytes = await readFile(logFile)
      bytes.writeInt32BE(1_000_000, FIXED_BATCH_BYTES + 8) // the second batch's length
      await writeFile(logFile, bytes)
      const error = await PartitionLog.open(path.join(dir, 'orders-0'), {}, {logger: memoryLogger()}).catch((caught: LignumError) => caught)
      expect(error).to.be.instanceOf(PartitionDamagedError).with.property('code', 'PARTITION_DAMAGED')
      expect((error as PartitionDamagedError).damage).to.include({kind: 'damaged-batch', file: logFile, position: FIXED_BATCH_BYTES, offset: 1})
      expect((error as LignumError).message).to.match(/orders-0 is damaged: .*00000000000000000000\.log at position \d+ \(offset 1\).*; nothing was changed$/)
      expect((error as LignumError).hint).to.match(/lignum segments repair --data-dir .* -t orders -p 0/)
      expect(await readFile(logFile)).to.deep.equal(bytes)
      log = await openLog({}, {readOnly: true})
      expect(log.logEndOffset).to.equal(1)
      expect(log.fault).to.include({position: FIXED_BATCH_BYTES, offset: 1})
      expect(log.damage).to.include({kind: 'damaged-batch', offset: 1})
    })
  })

  describe('read-only', () => {
    async function snapshot(at: string): Promise<string> {
      const names = (await readdir(at)).sort()
      const sizes = await Promise.all(names.map(async (name) => `${name}:${(await stat(path.join(at, name))).size}:${(await stat(path.join(at, name))).mtimeMs}`))
      return sizes.join('\n')
    }

    it('changes nothing, reports a torn tail, and reads the whole batches before it', async () => {
      const log = await openLog()
      for (let index = 0; index < 4; index++) await log.append(fixedBatch(index))
      await log.close()
      const logFile = path.join(dir, 'orders-0', '00000000000000000000.log')
      await truncate(logFile, 4 * FIXED_BATCH_BYTES - 5)
      await rm(path.join(dir, 'orders-0', '00000000000000000000.index'))
      const before = await snapshot(path.join(dir, 'orders-0'))
      const reader = await openLog({}, {readOnly: true})
      expect(reader.logEndOffset).to.equal(3)
      expect(reader.fault).to.include({position: 3 * FIXED_BATCH_BYTES, offset: 3})
      expect(values(await readAll(reader))).to.deep.equal(['v00', 'v01', 'v02'])
      await reader.close()
      expect(await snapshot(path.join(dir, 'orders-0'))).to.equal(before)
      expect(await reader.append(batchOf(['no'])).catch((error: LignumError) => error.code)).to.equal('INVALID_ARGUMENT')
      expect(await reader.truncateTo(0).catch((error: LignumError) => error.code)).to.equal('INVALID_ARGUMENT')
    })

    it('refuses a directory that does not exist, creating nothing', async () => {
      const missing = path.join(dir, 'missing-0')
      const error = await PartitionLog.open(missing, {}, {readOnly: true}).catch((caught: LignumError) => caught)
      expect(error).to.have.property('code', 'DATA_DIR')
      expect(await readdir(dir)).to.deep.equal([])
    })
  })

  describe('flushing and closing', () => {
    it('flushes on its interval: the recovery point reaches the log end without a close', async () => {
      const log = await openLog({flushPolicy: {intervalMs: 20}})
      await log.append(batchOf(['a', 'b']))
      const file = path.join(dir, 'orders-0', 'lignum-recovery-point')
      for (let attempt = 0; attempt < 500 && (await readFile(file, 'utf8')) !== '0\n2\n'; attempt++) await new Promise((resolve) => setTimeout(resolve, 10))
      expect(await readFile(file, 'utf8')).to.equal('0\n2\n')
    })

    it('closes idempotently and refuses work afterwards', async () => {
      const log = await openLog()
      await log.append(batchOf(['a']))
      await Promise.all([log.close(), log.close()])
      expect(await log.append(batchOf(['b'])).catch((error: LignumError) => error.code)).to.equal('UNAVAILABLE')
      expect(await log.read(0).catch((error: LignumError) => error.code)).to.equal('UNAVAILABLE')
    })

    it('keeps a read that started before retention deleted its segment working', async () => {
      const log = await openLog({retentionBytes: 0, retentionMs: -1, segmentBytes: FIXED_BATCH_BYTES})
      for (let index = 0; index < 3; index++) await log.append(fixedBatch(index))
      const reading = log.read(0)
      const retention = log.applyRetention()
      const {batches} = await reading
      expect(decodeRecordBatch(batches).records[0].value?.toString()).to.equal('v00')
      expect(await retention).to.deep.equal({deletedSegments: 2})
    })
  })

  it('refuses a directory whose name is not <topic>-<partition>', async () => {
    const error = await PartitionLog.open(path.join(dir, 'not a partition')).catch((caught: LignumError) => caught)
    expect(error).to.have.property('code', 'DATA_DIR')
  })

  it('refuses a bad configuration with CONFIG', async () => {
    for (const config of [{segmentBytes: 10}, {retentionMs: -5}, {flushPolicy: {intervalMs: 0}}] as Partial<PartitionLogConfig>[]) {
      const error = await PartitionLog.open(path.join(dir, 't-0'), config).catch((caught: LignumError) => caught)
      expect(error).to.have.property('code', 'CONFIG')
    }
  })
})
