import {expect} from 'chai'
import {cp, readdir, readFile, rm, stat, truncate, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {PartitionDamagedError, PartitionLog} from '../../src/log/partition-log.js'
import {errorLine} from '../../src/errors.js'
import {batchPositions, decodeRecordBatch} from '../../src/format/record-batch.js'
import {batchOf, memoryLogger, scratchDir} from './helpers.js'

const ONE_BATCH_BYTES = batchOf(['v0']).length

/** What an open that meets damage leaves: the directory's names and sizes, to prove nothing changed. */
async function listing(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).sort()
  return Promise.all(names.map(async (name) => `${name}:${(await stat(path.join(dir, name))).size}`))
}

async function openError(dir: string): Promise<PartitionDamagedError> {
  const error = await PartitionLog.open(dir, {segmentBytes: ONE_BATCH_BYTES * 2}, {logger: memoryLogger()}).then(
    () => null,
    (caught: unknown) => caught,
  )
  expect(error).to.be.instanceOf(PartitionDamagedError)
  return error as PartitionDamagedError
}

describe('damaged partitions (log)', () => {
  let dir: string
  let partitionDir: string
  let cleanup: () => Promise<void>

  /** Six one-record batches, two per segment (offsets 0-1, 2-3, 4-5), closed cleanly. */
  async function writeSixBatches(flushPolicy: 'never' | 'always' = 'never'): Promise<void> {
    const log = await PartitionLog.open(partitionDir, {segmentBytes: ONE_BATCH_BYTES * 2, flushPolicy}, {logger: memoryLogger()})
    for (let index = 0; index < 6; index++) await log.append(batchOf([`v${index}`]))
    await log.close()
  }

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
    partitionDir = path.join(dir, 'orders-0')
  })
  afterEach(() => cleanup())

  it('reports a deleted middle segment as a missing segment and changes nothing', async () => {
    await writeSixBatches()
    await rm(path.join(partitionDir, '00000000000000000002.log'))
    const before = await listing(partitionDir)
    const error = await openError(partitionDir)
    expect(error.damage).to.deep.equal({
      kind: 'missing-segment',
      reason: 'offsets 2 to 3 are missing: the previous segment ends before 2 but this one starts at 4 (a segment file was deleted or moved)',
      file: path.join(partitionDir, '00000000000000000004.log'),
      position: 0,
      offset: 2,
    })
    expect(error.code).to.equal('PARTITION_DAMAGED')
    expect(await listing(partitionDir)).to.deep.equal(before)
  })

  it('reports a last batch cut after a clean stop as damage, not a torn tail, and keeps its bytes', async () => {
    await writeSixBatches()
    const last = path.join(partitionDir, '00000000000000000004.log')
    await truncate(last, ONE_BATCH_BYTES + 10)
    const error = await openError(partitionDir)
    expect(error.damage).to.include({kind: 'damaged-batch', file: last, position: ONE_BATCH_BYTES, offset: 5})
    expect(error.damage.reason).to.match(/cut short.*offsets below 6 were on disk whole before \(the recovery point\)/)
    expect((await stat(last)).size).to.equal(ONE_BATCH_BYTES + 10)
  })

  it('still truncates a torn tail past the recovery point, as crash recovery', async () => {
    const log = await PartitionLog.open(partitionDir, {flushPolicy: 'never'}, {logger: memoryLogger()})
    await log.append(batchOf(['kept']))
    await log.flush()
    await log.append(batchOf(['unflushed']))
    const copy = path.join(dir, 'crashed', 'orders-0')
    await cp(partitionDir, copy, {recursive: true})
    await log.close()
    const file = path.join(copy, '00000000000000000000.log')
    await truncate(file, (await stat(file)).size - 4)
    const logger = memoryLogger()
    const recovered = await PartitionLog.open(copy, {}, {logger})
    expect(recovered.logEndOffset).to.equal(1)
    expect(logger.lines.map((line) => line.message)).to.include('truncated a torn tail after a crash')
    await recovered.close()
  })

  it('a read-only open stops at damage and classifies it; at a torn tail it reports no damage', async () => {
    await writeSixBatches()
    await truncate(path.join(partitionDir, '00000000000000000004.log'), ONE_BATCH_BYTES + 10)
    const reader = await PartitionLog.open(partitionDir, {}, {readOnly: true, logger: memoryLogger()})
    expect(reader.logEndOffset).to.equal(5)
    expect(reader.damage).to.include({kind: 'damaged-batch', offset: 5})
    await reader.close()
    // A live writer's half-written batch past the recovery point is a tail, not damage.
    await writeFile(path.join(partitionDir, 'lignum-recovery-point'), '0\n5\n')
    const tail = await PartitionLog.open(partitionDir, {}, {readOnly: true, logger: memoryLogger()})
    expect(tail.fault).to.include({offset: 5})
    expect(tail.damage).to.equal(null)
    await tail.close()
  })

  describe('a batch that fails its CRC in a closed segment, found by a read', () => {
    /** Flips a byte in the value of the batch at offset 2 (first of the second segment), below the recovery point. */
    async function flipValueOfOffsetTwo(): Promise<string> {
      await writeSixBatches()
      const file = path.join(partitionDir, '00000000000000000002.log')
      const bytes = await readFile(file)
      bytes[ONE_BATCH_BYTES - 2] ^= 0x20
      await writeFile(file, bytes)
      return file
    }

    it('opens (headers hold), serves the batches before it, refuses it with the file and the repair, and logs it once', async () => {
      const file = await flipValueOfOffsetTwo()
      const lines: {level: string; message: string; fields?: object}[] = []
      const logger = {...memoryLogger(), error: (message: string, fields?: object) => lines.push({level: 'error', message, fields})}
      const log = await PartitionLog.open(partitionDir, {segmentBytes: ONE_BATCH_BYTES * 2}, {logger})
      try {
        const before = await log.read(0, {maxBytes: ONE_BATCH_BYTES * 10})
        expect([...batchPositions(before.batches)].map(({position}) => decodeRecordBatch(before.batches, position).records[0].value?.toString())).to.deep.equal(['v0', 'v1'])
        for (let attempt = 0; attempt < 3; attempt++) {
          const error = await log.read(2).then(() => null, (caught: unknown) => caught)
          expect(error).to.be.instanceOf(PartitionDamagedError).with.property('code', 'PARTITION_DAMAGED')
          expect((error as Error).message).to.include(`${file} at position 0 (offset 2)`)
          expect(errorLine(error as PartitionDamagedError)).to.match(/CRC-32C.*stop the node, then run: lignum segments repair --data-dir .* -t orders -p 0/)
        }
        expect(lines).to.have.length(1)
        expect(lines[0].fields).to.include({topic: 'orders', partition: 0, file, position: 0, offset: 2, kind: 'damaged-batch'})
        const after = await log.read(3)
        expect(after.nextOffset).to.equal(4)
      } finally {
        await log.close()
      }
    })

    it('checks each range once: a second read of checked batches does not fail after the bytes change under it', async () => {
      await writeSixBatches()
      const log = await PartitionLog.open(partitionDir, {segmentBytes: ONE_BATCH_BYTES * 2}, {logger: memoryLogger()})
      try {
        await log.read(2, {maxBytes: ONE_BATCH_BYTES})
        const file = path.join(partitionDir, '00000000000000000002.log')
        const bytes = await readFile(file)
        bytes[ONE_BATCH_BYTES - 2] ^= 0x20
        bytes[2 * ONE_BATCH_BYTES - 2] ^= 0x20
        await writeFile(file, bytes)
        // Checked already: served without a second CRC pass (the zero-copy path stays cheap).
        expect((await log.read(2, {maxBytes: ONE_BATCH_BYTES})).nextOffset).to.equal(3)
        // Never checked: the read meets the damage.
        const unchecked = await log.read(3).then(() => null, (caught: unknown) => caught)
        expect(unchecked).to.be.instanceOf(PartitionDamagedError)
        expect((unchecked as PartitionDamagedError).damage).to.include({position: ONE_BATCH_BYTES, offset: 3})
      } finally {
        await log.close()
      }
    })
  })
})
