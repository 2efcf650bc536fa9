import {expect} from 'chai'
import {readdir, readFile, rm, stat, truncate, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {PartitionLog} from '../../src/log/partition-log.js'
import {applyRepair, planRepair} from '../../src/log/repair.js'
import {batchPositions, decodeRecordBatch} from '../../src/format/record-batch.js'
import {batchOf, memoryLogger, scratchDir} from './helpers.js'

const ONE_BATCH_BYTES = batchOf(['v0']).length
const SEGMENT_BYTES = ONE_BATCH_BYTES * 2

describe('segments repair (log)', () => {
  let dir: string
  let dataDir: string
  let partitionDir: string
  let cleanup: () => Promise<void>

  /** Six one-record batches "v0".."v5", two per segment (offsets 0-1, 2-3, 4-5), closed cleanly. */
  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
    dataDir = path.join(dir, 'data')
    partitionDir = path.join(dataDir, 'orders-0')
    const log = await PartitionLog.open(partitionDir, {segmentBytes: SEGMENT_BYTES, flushPolicy: 'never'}, {logger: memoryLogger()})
    for (let index = 0; index < 6; index++) await log.append(batchOf([`v${index}`]))
    await log.close()
  })
  afterEach(() => cleanup())

  const segmentFile = (base: number) => path.join(partitionDir, `${String(base).padStart(20, '0')}.log`)

  async function valuesAfterRepair(): Promise<string[]> {
    const log = await PartitionLog.open(partitionDir, {segmentBytes: SEGMENT_BYTES}, {logger: memoryLogger()})
    try {
      const values: string[] = []
      for (let offset = log.logStartOffset; offset < log.logEndOffset; ) {
        const {batches, nextOffset} = await log.read(offset)
        for (const {position} of batchPositions(batches)) values.push(...decodeRecordBatch(batches, position).records.map((record) => record.value!.toString()))
        offset = nextOffset
      }
      const appended = await log.append(batchOf(['after repair']))
      values.push(`appended at ${appended.baseOffset}`)
      return values
    } finally {
      await log.close()
    }
  }

  it('finds nothing to do on a healthy partition', async () => {
    const plan = await planRepair(dataDir, 'orders', 0)
    expect(plan.damage).to.equal(null)
    expect(plan.drops).to.deep.equal([])
    expect(plan.keep).to.deep.equal({logStartOffset: 0, logEndOffset: 6, records: 6, segments: 3})
  })

  it('cuts a middle segment at a batch whose length byte flipped, and moves the later segment aside whole', async () => {
    const bytes = await readFile(segmentFile(2))
    bytes.writeInt32BE(0x00ff_0000, ONE_BATCH_BYTES + 8) // the length of the batch at offset 3
    await writeFile(segmentFile(2), bytes)
    const plan = await planRepair(dataDir, 'orders', 0, Date.UTC(2026, 0, 2, 3, 4, 5))
    expect(plan.damage).to.include({kind: 'damaged-batch', file: segmentFile(2), position: ONE_BATCH_BYTES, offset: 3})
    expect(plan.keep).to.deep.equal({logStartOffset: 0, logEndOffset: 3, records: 3, segments: 2})
    expect(plan.quarantineDir).to.equal(path.join(dataDir, 'orders-0.damaged', '2026-01-02T03-04-05.000Z'))
    expect(plan.drops).to.deep.equal([
      {file: segmentFile(2), fromPosition: ONE_BATCH_BYTES, whole: false, bytes: ONE_BATCH_BYTES, batches: 0, records: 0, firstOffset: -1, lastOffset: -1, unreadableBytes: ONE_BATCH_BYTES},
      {file: segmentFile(4), fromPosition: 0, whole: true, bytes: SEGMENT_BYTES, batches: 2, records: 2, firstOffset: 4, lastOffset: 5, unreadableBytes: 0},
    ])
    expect(plan.totals).to.deep.equal({bytes: ONE_BATCH_BYTES + SEGMENT_BYTES, batches: 2, records: 2})

    const {logEndOffset} = await applyRepair(plan)
    expect(logEndOffset).to.equal(3)
    expect((await readdir(plan.quarantineDir)).sort()).to.deep.equal([
      '00000000000000000002.log.cut-at-' + ONE_BATCH_BYTES,
      '00000000000000000004.index',
      '00000000000000000004.log',
      '00000000000000000004.timeindex',
      'REPAIR.json',
    ])
    expect(await readFile(path.join(plan.quarantineDir, '00000000000000000002.log.cut-at-' + ONE_BATCH_BYTES))).to.deep.equal(bytes.subarray(ONE_BATCH_BYTES))
    expect(await valuesAfterRepair()).to.deep.equal(['v0', 'v1', 'v2', 'appended at 3'])
  })

  it('moves the segments after a deleted middle segment aside: offsets stay dense', async () => {
    await rm(segmentFile(2))
    const plan = await planRepair(dataDir, 'orders', 0)
    expect(plan.damage).to.include({kind: 'missing-segment', file: segmentFile(4), offset: 2})
    expect(plan.drops.map((drop) => [path.basename(drop.file), drop.whole, drop.records])).to.deep.equal([['00000000000000000004.log', true, 2]])
    await applyRepair(plan)
    expect(await valuesAfterRepair()).to.deep.equal(['v0', 'v1', 'appended at 2'])
  })

  it('cuts a last batch torn after a clean stop', async () => {
    await truncate(segmentFile(4), ONE_BATCH_BYTES + 20)
    const plan = await planRepair(dataDir, 'orders', 0)
    expect(plan.damage).to.include({kind: 'damaged-batch', offset: 5, position: ONE_BATCH_BYTES})
    expect(plan.drops).to.have.length(1)
    expect(plan.drops[0]).to.include({whole: false, bytes: 20, unreadableBytes: 20})
    await applyRepair(plan)
    expect((await stat(segmentFile(4))).size).to.equal(ONE_BATCH_BYTES)
    expect(await valuesAfterRepair()).to.deep.equal(['v0', 'v1', 'v2', 'v3', 'v4', 'appended at 5'])
  })

  it('finds a CRC failure below the recovery point that an open does not look for, and counts the batches it drops', async () => {
    const bytes = await readFile(segmentFile(0))
    bytes[ONE_BATCH_BYTES - 2] ^= 0x10 // inside the value of offset 0
    await writeFile(segmentFile(0), bytes)
    const plan = await planRepair(dataDir, 'orders', 0)
    expect(plan.damage).to.include({kind: 'damaged-batch', file: segmentFile(0), position: 0, offset: 0})
    expect(plan.damage?.reason).to.match(/CRC-32C/)
    expect(plan.drops[0]).to.include({whole: false, bytes: SEGMENT_BYTES, batches: 2, records: 2, firstOffset: 0, lastOffset: 1, unreadableBytes: 0})
    expect(plan.totals.records).to.equal(6)
    await applyRepair(plan)
    expect((await stat(segmentFile(0))).size).to.equal(0)
    expect(await valuesAfterRepair()).to.deep.equal(['appended at 0'])
  })

  it('refuses an unknown partition with the partitions it holds', async () => {
    const error = await planRepair(dataDir, 'orders', 3).catch((caught: Error) => caught)
    expect(error).to.have.property('code', 'NOT_FOUND')
    expect((error as Error).message).to.match(/partition 3 of "orders" is not in .*; it holds partitions 0/)
  })
})
