import {expect} from 'chai'
import {readdir, stat} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../../src/errors.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {batchPositions, decodeRecordBatch} from '../../src/format/record-batch.js'
import {batchClaimingMaxRecords, batchWithDeltas, gzipBomb, rawBatch, rawRecord} from '../helpers/raw-batches.js'
import {batchOf, memoryLogger, scratchDir} from './helpers.js'

describe('PartitionLog append checks every record before it stores a batch', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let log: PartitionLog

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
    log = await PartitionLog.open(path.join(dir, 'orders-0'), {flushPolicy: 'never'}, {logger: memoryLogger()})
    await log.append(batchOf(['kept']))
  })

  afterEach(async () => {
    await log.close()
    await cleanup()
  })

  async function expectRefused(batches: Buffer, code: string, message: RegExp): Promise<void> {
    const sizeBefore = (await stat(log.segments()[0].path)).size
    const error = await log.append(batches).then(() => null, (caught: unknown) => caught)
    expect(error, 'the append is refused').to.be.instanceOf(LignumError)
    expect(error).to.have.property('code', code)
    expect((error as Error).message).to.match(/^append rejected, nothing written: the batch at byte \d+ /)
    expect((error as Error).message).to.match(message)
    expect(log.logEndOffset).to.equal(1)
    expect((await stat(log.segments()[0].path)).size).to.equal(sizeBefore)
  }

  it('refuses offset deltas 0,0,0 / 2,1,0 / 0,1,7 and keeps what it had', async () => {
    await expectRefused(batchWithDeltas([0, 0, 0]), 'INVALID_RECORD', /offset delta 0 in record 1/)
    await expectRefused(batchWithDeltas([2, 1, 0]), 'INVALID_RECORD', /offset delta 2 in record 0/)
    await expectRefused(batchWithDeltas([0, 1, 7]), 'INVALID_RECORD', /offset delta 7 in record 2/)
    const {batches} = await log.read(0)
    expect([...batchPositions(batches)].flatMap(({position}) => decodeRecordBatch(batches, position).records.map((record) => record.value?.toString()))).to.deep.equal(['kept'])
  })

  it('refuses records that do not parse, and a whole request when its second batch is bad', async () => {
    await expectRefused(rawBatch(Buffer.from('garbage, not records'), {timestampDeltaMax: 0, count: 1}), 'CORRUPT_RECORD', /malformed record 0/)
    await expectRefused(Buffer.concat([batchOf(['fine']), batchWithDeltas([0, 0])]), 'INVALID_RECORD', new RegExp(`the batch at byte ${batchOf(['fine']).length} has offset delta 0 in record 1`))
  })

  it('refuses a lying maxTimestamp and a control batch', async () => {
    const records = Buffer.concat([rawRecord({offsetDelta: 0}), rawRecord({offsetDelta: 1, timestampDelta: 60_000})])
    await expectRefused(rawBatch(records, {timestampDeltaMax: 60_000, count: 2}, {maxTimestamp: 1_700_000_000_000}), 'INVALID_RECORD', /later than its maxTimestamp/)
    await expectRefused(rawBatch(records, {timestampDeltaMax: 60_000, count: 2}, {maxTimestamp: 4_000_000_000_000}), 'INVALID_RECORD', /says maxTimestamp 4000000000000/)
    await expectRefused(batchWithDeltas([0], {attributes: 0x20}), 'INVALID_RECORD', /control batch/)
  })

  it('refuses a gzip bomb without storing it', async () => {
    await expectRefused(gzipBomb(), 'CORRUPT_RECORD', /inflates past \d+ bytes.*decompression bomb/)
  })

  it('refuses 300 71-byte batches claiming 2^31-1 records without moving the log end or rolling', async () => {
    for (let request = 0; request < 300; request++) {
      const error = await log.append(batchClaimingMaxRecords()).catch((caught: LignumError) => caught)
      expect(error).to.have.property('code', 'CORRUPT_RECORD')
    }
    expect(log.logEndOffset).to.equal(1)
    expect((await readdir(path.join(dir, 'orders-0'))).filter((name) => name.endsWith('.log'))).to.have.length(1)
    expect((await log.append(batchOf(['after']))).baseOffset).to.equal(1)
  })
})
