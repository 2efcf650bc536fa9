/**
 * The append path when the disk fails: a roll that cannot create its segment, a write cut
 * short by a full disk or an I/O error, a cut-back that fails too. Each failure rejects the
 * appends it affects (never leaves them waiting), and the log then takes appends again and
 * reads back exactly the acknowledged records after a reopen.
 */
import {expect} from 'chai'
import {stat, unlink, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../../src/errors.js'
import {PartitionLog, type PartitionLogConfig} from '../../src/log/partition-log.js'
import {storageFullErrorCount} from '../../src/log/storage-errors.js'
import {batchPositions, decodeRecordBatch} from '../../src/format/record-batch.js'
import {batchOf, diskSeam, errnoError, memoryLogger, scratchDir, type DiskSeam} from './helpers.js'

/** An append that neither resolves nor rejects within this long counts as hung. */
const HANG_MS = 2000

function settledWithin<T>(promise: Promise<T>): Promise<PromiseSettledResult<T> | 'hung'> {
  return Promise.race([
    promise.then(
      (value) => ({status: 'fulfilled', value}) as const,
      (reason: unknown) => ({status: 'rejected', reason}) as const,
    ),
    new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), HANG_MS).unref()),
  ])
}

async function readValues(log: PartitionLog): Promise<string[]> {
  const found: string[] = []
  let offset = log.logStartOffset
  while (offset < log.logEndOffset) {
    const {batches, nextOffset} = await log.read(offset)
    for (const {position} of batchPositions(batches)) for (const record of decodeRecordBatch(batches, position).records) found.push(record.value!.toString())
    offset = nextOffset
  }
  return found
}

const fixed = (index: number) => batchOf([`v${String(index).padStart(2, '0')}`])
const FIXED_BYTES = fixed(0).length

describe('PartitionLog when the disk fails', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let at: string
  const opened: PartitionLog[] = []

  async function openLog(config: Partial<PartitionLogConfig>, seam?: DiskSeam, logger = memoryLogger()): Promise<PartitionLog> {
    const log = await PartitionLog.open(at, {flushPolicy: 'never', ...config}, {logger, openFile: seam?.openFile})
    opened.push(log)
    return log
  }

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
    at = path.join(dir, 'orders-0')
  })

  afterEach(async () => {
    for (const log of opened.splice(0)) await log.close().catch(() => {})
    await cleanup()
  })

  it('rejects every append waiting for a roll whose segment file already exists, and appends once it is moved away', async () => {
    const log = await openLog({segmentBytes: FIXED_BYTES * 2})
    await log.append(fixed(0))
    await log.append(fixed(1))
    const squatter = path.join(at, '00000000000000000002.log')
    await writeFile(squatter, 'not ours')
    const results = await Promise.all([1, 2, 3].map((index) => settledWithin(log.append(fixed(10 + index)))))
    expect(results.map((result) => (result === 'hung' ? 'hung' : result.status))).to.deep.equal(['rejected', 'rejected', 'rejected'])
    const error = (results[0] as PromiseRejectedResult).reason as LignumError
    expect(error.code).to.equal('DATA_DIR')
    expect(error.message).to.include(squatter).and.include('move that file away')
    expect(await stat(squatter).then((info) => info.size)).to.equal(8)
    await unlink(squatter)
    expect((await log.append(fixed(2))).baseOffset).to.equal(2)
    await log.close()
    const reopened = await openLog({segmentBytes: FIXED_BYTES * 2})
    expect(await readValues(reopened)).to.deep.equal(['v00', 'v01', 'v02'])
  })

  it('rejects the appends of a roll that fails with EIO or ENOSPC, leaving no file behind, and rolls on the next append', async () => {
    const seam = diskSeam()
    const log = await openLog({segmentBytes: FIXED_BYTES}, seam)
    await log.append(fixed(0))
    seam.failOpens = {error: errnoError('EIO', 'open'), times: 1}
    const eio = await settledWithin(log.append(fixed(1)))
    expect(eio !== 'hung' && eio.status === 'rejected' && (eio.reason as NodeJS.ErrnoException).code).to.equal('EIO')
    seam.failOpens = {error: errnoError('ENOSPC', 'open'), times: 1}
    const full = await settledWithin(log.append(fixed(1)))
    expect(full !== 'hung' && full.status === 'rejected' && (full.reason as LignumError).code).to.equal('STORAGE_FULL')
    expect(log.segments()).to.have.length(1)
    expect((await log.append(fixed(1))).baseOffset).to.equal(1)
    expect(log.segments().map((segment) => segment.baseOffset)).to.deep.equal([0, 1])
  })

  it('answers a write cut short by a full disk with STORAGE_FULL, cuts the partial bytes back and appends after it', async () => {
    const seam = diskSeam()
    const log = await openLog({}, seam)
    await log.append(fixed(0))
    const counted = storageFullErrorCount()
    seam.failWrites = {error: errnoError('ENOSPC', 'write'), partialBytes: 20, times: 1}
    const failed = await settledWithin(log.append(fixed(1)))
    expect(failed).to.have.property('status', 'rejected')
    const error = (failed as PromiseRejectedResult).reason as LignumError
    expect(error).to.be.instanceOf(LignumError)
    expect(error.code).to.equal('STORAGE_FULL')
    expect(error.retriable).to.equal(true)
    expect(error.message).to.include(`data directory ${dir} is full`).and.match(/free of/)
    expect(storageFullErrorCount()).to.equal(counted + 1)
    expect((await stat(path.join(at, '00000000000000000000.log'))).size).to.equal(FIXED_BYTES)
    expect(log.logEndOffset).to.equal(1)
    expect((await log.append(fixed(2))).baseOffset).to.equal(1)
    expect(await readValues(log)).to.deep.equal(['v00', 'v02'])
  })

  it('rejects exactly the appends of the chunk whose write failed', async () => {
    const seam = diskSeam()
    const log = await openLog({segmentBytes: FIXED_BYTES * 2}, seam)
    await log.append(fixed(0))
    seam.failWrites = {error: errnoError('EIO', 'write'), partialBytes: 5, times: 1}
    // One group, written as two chunks: the first fills segment 0, the other two need the next.
    const results = await Promise.all([1, 2, 3].map((index) => settledWithin(log.append(fixed(index)))))
    expect(results.map((result) => (result === 'hung' ? 'hung' : result.status))).to.deep.equal(['rejected', 'fulfilled', 'fulfilled'])
    expect(await readValues(log)).to.deep.equal(['v00', 'v02', 'v03'])
  })

  it('cuts a partial write back before the next append when cutting it at once failed too', async () => {
    const seam = diskSeam()
    const logger = memoryLogger()
    const log = await openLog({}, seam, logger)
    await log.append(fixed(0))
    const large = batchOf(['x'.repeat(400)])
    seam.failWrites = {error: errnoError('EIO', 'write'), partialBytes: 300, times: 1}
    seam.failTruncates = {error: errnoError('EIO', 'ftruncate'), times: 1}
    expect(await settledWithin(log.append(large))).to.have.property('status', 'rejected')
    expect((await log.append(fixed(1))).baseOffset).to.equal(1)
    const file = path.join(at, '00000000000000000000.log')
    expect((await stat(file)).size).to.equal(2 * FIXED_BYTES)
    await log.close()
    const reopenLogger = memoryLogger()
    const reopened = await openLog({}, undefined, reopenLogger)
    expect(reopenLogger.lines.filter((line) => line.level === 'warn')).to.deep.equal([])
    expect(await readValues(reopened)).to.deep.equal(['v00', 'v01'])
  })

  it('answers a write the disk refuses under flush policy always with an error, not a hang, and takes writes again', async () => {
    const seam = diskSeam()
    const log = await openLog({flushPolicy: 'always'}, seam)
    await log.append(fixed(0))
    seam.failWrites = {error: errnoError('ENOSPC', 'write'), partialBytes: 0, times: 1}
    const full = await settledWithin(log.append(fixed(1)))
    expect(full !== 'hung' && full.status === 'rejected' && (full.reason as LignumError).code).to.equal('STORAGE_FULL')
    expect((await log.append(fixed(2))).baseOffset).to.equal(1)
  })

  it('stops the partition after a failed fdatasync: later syncs cannot be trusted, so nothing is read, written or acknowledged until it is opened again', async () => {
    const seam = diskSeam()
    const logger = memoryLogger()
    const log = await openLog({flushPolicy: 'always'}, seam, logger)
    await log.append(fixed(0))
    seam.failDatasyncs = {error: errnoError('EIO', 'fdatasync'), times: 1}
    const [failed, queued] = await Promise.all([settledWithin(log.append(fixed(1))), settledWithin(log.append(fixed(2)))])
    for (const outcome of [failed, queued]) {
      expect(outcome !== 'hung' && outcome.status === 'rejected' && (outcome.reason as LignumError).code).to.equal('STORAGE_FAILED')
    }
    // The next sync would succeed; it is never asked for.
    const later = await settledWithin(log.append(fixed(3)))
    expect(later !== 'hung' && later.status === 'rejected' && (later.reason as LignumError).message).to.match(/^fdatasync of .* failed \(EIO\): .* restart the node/)
    const read = await settledWithin(log.read(0))
    expect(read !== 'hung' && read.status === 'rejected' && (read.reason as LignumError).code).to.equal('STORAGE_FAILED')
    expect(logger.lines.filter((line) => line.message.startsWith('fdatasync failed'))).to.have.length(1)
    await log.close()
    // No recovery point claims the unsynced bytes; a reopen checks them and serves the log.
    const reopened = await openLog({flushPolicy: 'always'})
    expect((await readValues(reopened))[0]).to.equal('v00')
    expect((await reopened.append(fixed(4))).baseOffset).to.equal(reopened.logEndOffset - 1)
  })
})
