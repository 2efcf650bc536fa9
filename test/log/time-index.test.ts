import {expect} from 'chai'
import {readdir, readFile, unlink} from 'node:fs/promises'
import path from 'node:path'
import {PartitionLog} from '../../src/log/partition-log.js'
import {batchPositions, decodeRecordBatch, encodeRecordBatch} from '../../src/format/record-batch.js'
import {memoryLogger, scratchDir} from './helpers.js'

const TIMESTAMP = 1_700_000_000_000
const INDEX_INTERVAL_BYTES = 150
const SEGMENT_BYTES = 1200
/** Batch maxima that go backwards often, with repeats; each batch's records go down from its maximum. */
const BATCH_SECONDS = [5, 3, 8, 1, 9, 9, 2, 12, 4, 15, 6, 7, 20, 3, 3, 25, 1, 2, 30, 29, 31, 0, 31, 40]

function backwardsBatch(index: number): Buffer {
  const seconds = BATCH_SECONDS[index % BATCH_SECONDS.length] + Math.floor(index / BATCH_SECONDS.length) * 100
  const records = Array.from({length: 1 + (index % 3)}, (_, record) => ({
    key: Buffer.from(`k${index}`),
    value: Buffer.from(`value ${index}.${record}`),
    timestamp: TIMESTAMP + seconds * 1000 - record * 400,
  }))
  return encodeRecordBatch(records)
}

/**
 * What Kafka's LogSegment writes for a `.log` (its append, onBecomeInactiveSegment and recover
 * alike), computed from the file's batch headers independently of the engine: at each
 * offset-index point, (largest timestamp so far, last offset of the first batch that carried
 * it) when it grew past the last entry; and the same once more at the end.
 */
function kafkaTimeIndex(log: Buffer, baseOffset: number): Buffer {
  const entries: [number, number][] = []
  let maxTimestamp = -1
  let offsetOfMax = -1
  let bytesSinceEntry = 0
  const maybeAppend = () => {
    if (maxTimestamp > (entries.at(-1)?.[0] ?? -1)) entries.push([maxTimestamp, offsetOfMax])
  }
  for (const {header} of batchPositions(log)) {
    if (header.maxTimestamp > maxTimestamp) [maxTimestamp, offsetOfMax] = [header.maxTimestamp, header.lastOffset]
    if (bytesSinceEntry > INDEX_INTERVAL_BYTES) {
      maybeAppend()
      bytesSinceEntry = 0
    }
    bytesSinceEntry += header.sizeBytes
  }
  maybeAppend()
  const bytes = Buffer.alloc(entries.length * 12)
  entries.forEach(([timestamp, offset], entry) => {
    bytes.writeBigInt64BE(BigInt(timestamp), entry * 12)
    bytes.writeInt32BE(offset - baseOffset, entry * 12 + 8)
  })
  return bytes
}

async function segmentFiles(dir: string): Promise<{log: string; timeIndex: string; baseOffset: number}[]> {
  const logs = (await readdir(dir)).filter((name) => name.endsWith('.log')).sort()
  return logs.map((name) => ({log: path.join(dir, name), timeIndex: path.join(dir, name.replace(/\.log$/, '.timeindex')), baseOffset: Number(name.slice(0, 20))}))
}

async function expectKafkaTimeIndexes(dir: string): Promise<void> {
  const segments = await segmentFiles(dir)
  expect(segments.length, 'several segments').to.be.greaterThan(2)
  for (const segment of segments) {
    const expected = kafkaTimeIndex(await readFile(segment.log), segment.baseOffset)
    expect((await readFile(segment.timeIndex)).toString('hex'), segment.timeIndex).to.equal(expected.toString('hex'))
  }
}

/** The first offset whose record timestamp is at or after `target`, by reading every record. */
async function bruteForceOffsets(log: PartitionLog): Promise<(target: number) => number | null> {
  const records: {offset: number; timestamp: number}[] = []
  let offset = log.logStartOffset
  while (offset < log.logEndOffset) {
    const {batches, nextOffset} = await log.read(offset)
    for (const {position} of batchPositions(batches)) records.push(...decodeRecordBatch(batches, position).records)
    offset = nextOffset
  }
  return (target) => records.find((record) => record.timestamp >= target)?.offset ?? null
}

describe('time index (Kafka\'s rule)', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let partitionDir: string
  const open = (logger = memoryLogger()) => PartitionLog.open(partitionDir, {segmentBytes: SEGMENT_BYTES, indexIntervalBytes: INDEX_INTERVAL_BYTES, flushPolicy: 'never'}, {logger})

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
    partitionDir = path.join(dir, 'orders-0')
  })
  afterEach(() => cleanup())

  it('holds the largest timestamp so far with its batch\'s last offset, through rolls, a reopen and a rebuild', async () => {
    let log = await open()
    for (let index = 0; index < 40; index++) await log.append(backwardsBatch(index))
    await log.close()
    await expectKafkaTimeIndexes(partitionDir)

    // A clean reopen finds the files as it would write them, and appending goes on by the same rule.
    const logger = memoryLogger()
    log = await open(logger)
    expect(logger.lines.filter((line) => line.message.includes('index'))).to.deep.equal([])
    for (let index = 40; index < 70; index++) await log.append(backwardsBatch(index))
    await log.close()
    await expectKafkaTimeIndexes(partitionDir)

    // Rebuilt from the log alone, the indexes are the same bytes.
    for (const segment of await segmentFiles(partitionDir)) await unlink(segment.timeIndex)
    log = await open()
    await log.close()
    await expectKafkaTimeIndexes(partitionDir)
  })

  it('finds the first record at or after any time, as reading every record does', async () => {
    let log = await open()
    for (let index = 0; index < 60; index++) await log.append(backwardsBatch(index))
    const targets = new Set<number>([0, TIMESTAMP - 1])
    for (let seconds = -1; seconds <= 260; seconds++) for (const shift of [-400, -1, 0, 1, 400]) targets.add(TIMESTAMP + seconds * 1000 + shift)
    for (const reopened of [false, true]) {
      if (reopened) {
        await log.close()
        log = await open()
      }
      const expected = await bruteForceOffsets(log)
      for (const target of targets) {
        expect(await log.offsetForTimestamp(target), `target ${target}${reopened ? ' after a reopen' : ''}`).to.equal(expected(target))
      }
    }
    expect(log.segments().length).to.be.greaterThan(2)
    expect(log.segments().reduce((sum, segment) => sum + segment.timeIndexEntries, 0)).to.be.greaterThan(10)
    await log.close()
  })
})
