/**
 * A read that continues where the last one ended (a consumer reading on) starts at the
 * remembered position with one read of the file instead of a lookup and a read; once the log
 * is cut and written anew, a read from the same offset still finds the batch that now holds it.
 */
import {expect} from 'chai'
import {open, type FileHandle} from 'node:fs/promises'
import path from 'node:path'
import {batchPositions, decodeRecordBatch} from '../../src/format/record-batch.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {batchOf, memoryLogger, scratchDir} from './helpers.js'

/** Counts reads of the segment files (.log) through the log's openFile seam. */
function countingOpen(): {openFile: (file: string, flags: string) => Promise<FileHandle>; logReads: () => number} {
  let reads = 0
  const openFile = async (file: string, flags: string): Promise<FileHandle> => {
    const handle = await open(file, flags)
    if (!file.endsWith('.log')) return handle
    return new Proxy(handle, {
      get(target, property) {
        if (property === 'read') {
          return (...args: Parameters<FileHandle['read']>) => {
            reads++
            return target.read(...args)
          }
        }
        const value: unknown = Reflect.get(target, property)
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    })
  }
  return {openFile, logReads: () => reads}
}

function valuesOf(batches: Buffer): string[] {
  return [...batchPositions(batches)].flatMap(({position}) => decodeRecordBatch(batches, position).records.map((record) => record.value!.toString()))
}

describe('PartitionLog reads that continue the last one', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let log: PartitionLog | undefined

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
  })

  afterEach(async () => {
    await log?.close()
    log = undefined
    await cleanup()
  })

  it('read on from where the last read ended with one read of the file each', async () => {
    const counting = countingOpen()
    log = await PartitionLog.open(path.join(dir, 'orders-0'), {flushPolicy: 'never'}, {logger: memoryLogger(), openFile: counting.openFile})
    for (let index = 0; index < 6; index++) await log.append(batchOf([`v${index}`]))
    const batchBytes = batchOf(['v0']).length
    const first = await log.read(0, {maxBytes: batchBytes * 2})
    const readsBefore = counting.logReads()
    const second = await log.read(first.nextOffset, {maxBytes: batchBytes * 2})
    expect(counting.logReads() - readsBefore).to.equal(1)
    expect(valuesOf(second.batches)).to.deep.equal(['v2', 'v3'])
    // Not where the last read ended: the lookup reads the file too.
    const readsBeforeSeek = counting.logReads()
    const seek = await log.read(1, {maxBytes: batchBytes})
    expect(counting.logReads() - readsBeforeSeek).to.equal(2)
    expect(valuesOf(seek.batches)).to.deep.equal(['v1'])
  })

  it('after a cut and new appends, a read from the remembered offset looks its batch up again', async () => {
    const counting = countingOpen()
    log = await PartitionLog.open(path.join(dir, 'orders-0'), {flushPolicy: 'never'}, {logger: memoryLogger(), openFile: counting.openFile})
    // One-record batches as long as the two-record batch appended after the cut: the position
    // remembered for offset 2 is then a batch boundary again, of the batch holding offset 3.
    const pair = batchOf(['a', 'b'])
    const valueBytes = Array.from({length: 64}, (_, length) => length).find((length) => batchOf(['x'.repeat(length)]).length === pair.length)!
    expect(valueBytes).to.be.a('number')
    for (let index = 0; index < 4; index++) await log.append(batchOf([String(index).repeat(valueBytes)]))
    const read = await log.read(0, {maxBytes: pair.length * 2})
    expect(read.nextOffset).to.equal(2)
    await log.truncateTo(1)
    await log.append(pair)
    await log.append(batchOf(['c']))
    const readsBefore = counting.logReads()
    const again = await log.read(2)
    expect(valuesOf(again.batches)).to.deep.equal(['a', 'b', 'c'])
    // The lookup and the read: the remembered position was forgotten at the cut.
    expect(counting.logReads() - readsBefore).to.equal(2)
  })
})
