/**
 * Closed segments' file handles stay bounded across every log of the process: many partitions
 * with several segments each keep at most the bound open (plus one per active segment), and
 * every segment can still be read, its handle reopened on demand.
 */
import {expect} from 'chai'
import {readdir, readlink} from 'node:fs/promises'
import path from 'node:path'
import {PartitionLog} from '../../src/log/partition-log.js'
import {SEGMENT_HANDLES_OPEN_MAX, segmentHandlesOpen, segmentHandlesOpenMax, setSegmentHandlesOpenMax} from '../../src/log/segment-handles.js'
import {batchPositions, decodeRecordBatch} from '../../src/format/record-batch.js'
import {batchOf, memoryLogger, scratchDir} from './helpers.js'

const PARTITIONS = 40
const SEGMENTS_PER_PARTITION = 5
const BOUND = 16

/** The `.log` files of `dir` this process holds open, from /proc/self/fd. */
async function openSegmentFiles(dir: string): Promise<number> {
  let count = 0
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '')
    if (target.startsWith(dir) && target.endsWith('.log')) count++
  }
  return count
}

describe('segment file handles', () => {
  let dir: string
  let cleanup: () => Promise<void>
  const logs: PartitionLog[] = []

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
    setSegmentHandlesOpenMax(BOUND)
  })

  afterEach(async () => {
    for (const log of logs.splice(0)) await log.close()
    setSegmentHandlesOpenMax(SEGMENT_HANDLES_OPEN_MAX)
    await cleanup()
  })

  async function fill(log: PartitionLog, partition: number): Promise<void> {
    for (let segment = 0; segment < SEGMENTS_PER_PARTITION; segment++) {
      await log.append(batchOf([`p${partition}-s${segment}`]))
      if (segment < SEGMENTS_PER_PARTITION - 1) await log.roll()
    }
  }

  async function readFirstValue(log: PartitionLog, offset: number): Promise<string> {
    const {batches} = await log.read(offset)
    const [first] = batchPositions(batches)
    return decodeRecordBatch(batches, first.position).records[0].value!.toString()
  }

  it('keeps closed segments\' handles under the bound across all logs, and reads every segment', async () => {
    expect(segmentHandlesOpenMax()).to.equal(BOUND)
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const log = await PartitionLog.open(path.join(dir, `flood-${partition}`), {flushPolicy: 'never'}, {logger: memoryLogger()})
      logs.push(log)
      await fill(log, partition)
    }
    const activeSegments = PARTITIONS
    expect(await openSegmentFiles(dir)).to.be.at.most(activeSegments + BOUND)
    // Every segment of every partition reads, and the bound holds while they do.
    let peak = 0
    await Promise.all(
      logs.map(async (log, partition) => {
        for (let offset = 0; offset < SEGMENTS_PER_PARTITION; offset++) {
          expect(await readFirstValue(log, offset)).to.equal(`p${partition}-s${offset}`)
          peak = Math.max(peak, segmentHandlesOpen())
        }
      }),
    )
    expect(peak).to.be.greaterThan(0)
    expect(await openSegmentFiles(dir)).to.be.at.most(activeSegments + BOUND)
    expect(segmentHandlesOpen()).to.be.at.most(BOUND)
  })

  it('keeps the handle of a segment a read is using open, even past the bound', async () => {
    setSegmentHandlesOpenMax(1)
    const log = await PartitionLog.open(path.join(dir, 'pinned-0'), {flushPolicy: 'never', retentionBytes: 0, retentionMs: -1}, {logger: memoryLogger()})
    logs.push(log)
    await fill(log, 0)
    // Reads of every closed segment at once: each keeps its handle until it is done.
    const values = await Promise.all([0, 1, 2, 3].map((offset) => readFirstValue(log, offset)))
    expect(values).to.deep.equal(['p0-s0', 'p0-s1', 'p0-s2', 'p0-s3'])
    expect(segmentHandlesOpen()).to.be.at.most(1)
  })

  it('reopens segments after a restart on demand, not all at once', async () => {
    for (let partition = 0; partition < 10; partition++) {
      const log = await PartitionLog.open(path.join(dir, `restart-${partition}`), {flushPolicy: 'never'}, {logger: memoryLogger()})
      await fill(log, partition)
      await log.close()
    }
    for (let partition = 0; partition < 10; partition++) logs.push(await PartitionLog.open(path.join(dir, `restart-${partition}`), {flushPolicy: 'never'}, {logger: memoryLogger()}))
    expect(await openSegmentFiles(dir)).to.be.at.most(10 + BOUND)
    for (const [partition, log] of logs.entries()) expect(await readFirstValue(log, 0)).to.equal(`p${partition}-s0`)
  })
})
