import {expect} from 'chai'
import {readFile, stat} from 'node:fs/promises'
import path from 'node:path'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {KAFKA_INDEX_PREALLOCATED_BYTES, preallocateLikeKafka} from '../helpers/kafka-data.js'
import {FIXTURE_TIMESTAMP, memoryLogger, scratchDir} from './helpers.js'

const CONFIG = {segmentBytes: 700, indexIntervalBytes: 100, flushPolicy: 'never' as const}
const RECORDS = 30

describe('a Kafka partition whose broker was killed with -9 (preallocated, zero-filled index tails)', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let partitionDir: string
  let activeIndexes: {file: string; bytes: Buffer}[]

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
    partitionDir = path.join(dir, 'orders-0')
    const log = await PartitionLog.open(partitionDir, CONFIG)
    for (let index = 0; index < RECORDS; index++) {
      await log.append(encodeRecordBatch([{key: null, value: Buffer.from(`value ${index}`), timestamp: FIXTURE_TIMESTAMP + (index % 7) * 1000}]))
    }
    const active = log.segments().at(-1)!
    await log.close()
    activeIndexes = []
    for (const [suffix, entryBytes] of [['.index', 8], ['.timeindex', 12]] as const) {
      const file = active.path.replace(/\.log$/, suffix)
      const bytes = await readFile(file)
      expect(bytes.length, file).to.be.greaterThan(0)
      await preallocateLikeKafka(file, entryBytes)
      activeIndexes.push({file, bytes})
    }
  })
  afterEach(() => cleanup())

  async function expectAllRecords(log: PartitionLog): Promise<void> {
    expect(log.fault).to.equal(null)
    expect(log.logEndOffset).to.equal(RECORDS)
    for (let offset = 0; offset < RECORDS; offset++) {
      const {batches} = await log.read(offset, {maxBytes: 1})
      expect(batches.readBigInt64BE(0), `offset ${offset}`).to.equal(BigInt(offset))
    }
    expect(await log.offsetForTimestamp(FIXTURE_TIMESTAMP + 6000)).to.equal(6)
  }

  it('reads it read-only as it is, changing nothing', async () => {
    const logger = memoryLogger()
    const log = await PartitionLog.open(partitionDir, CONFIG, {readOnly: true, logger})
    await expectAllRecords(log)
    await log.close()
    expect(logger.lines.filter((line) => line.level === 'warn')).to.deep.equal([])
    for (const {file} of activeIndexes) expect((await stat(file)).size).to.be.within(KAFKA_INDEX_PREALLOCATED_BYTES - 12, KAFKA_INDEX_PREALLOCATED_BYTES)
  })

  it('serves it after a writable open that rewrites the indexes without the tails, as benign', async () => {
    const logger = memoryLogger()
    const log = await PartitionLog.open(partitionDir, CONFIG, {logger})
    await expectAllRecords(log)
    expect(logger.lines.filter((line) => line.level === 'warn')).to.deep.equal([])
    expect(logger.lines.map((line) => line.message)).to.include('rebuilt a missing or stale index')
    await log.close()
    for (const {file, bytes} of activeIndexes) expect((await readFile(file)).toString('hex'), file).to.equal(bytes.toString('hex'))
  })
})
