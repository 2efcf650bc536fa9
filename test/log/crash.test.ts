/**
 * kill -9 of a process appending with flush policy `always`: every acknowledged record is there
 * after reopening, offsets are dense, and the reopened log takes appends again. The page cache
 * survives a kill -9, so that alone would pass without any fsync: the child also counts its
 * fdatasyncs, and every acknowledgement must follow one more of them than the one before.
 */
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {PartitionLog} from '../../src/log/partition-log.js'
import {batchPositions, decodeRecordBatch, encodeRecordBatch} from '../../src/format/record-batch.js'
import {memoryLogger, scratchDir} from './helpers.js'

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'append-until-killed.ts')
const ACKS_BEFORE_KILL = 300

function runUntilAcked(dir: string, acks: number): Promise<{lastAcked: number; syncsAtAck: number[]}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir, 'always'], {stdio: ['ignore', 'pipe', 'inherit']})
    let lastAcked = -1
    const syncsAtAck: number[] = []
    let seen = 0
    let pending = ''
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString()
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        const [, offset, syncs] = line.split(' ')
        lastAcked = Number(offset)
        syncsAtAck.push(Number(syncs))
        if (++seen === acks) child.kill('SIGKILL')
      }
    })
    child.on('error', reject)
    child.on('close', (_code, signal) => (signal === 'SIGKILL' ? resolve({lastAcked, syncsAtAck}) : reject(new Error(`child ended without being killed (${signal})`))))
  })
}

describe('PartitionLog after kill -9 (flush policy always)', () => {
  it('keeps every acknowledged record, with dense offsets, and appends again', async () => {
    const {dir, cleanup} = await scratchDir()
    try {
      const at = path.join(dir, 'crash-0')
      const {lastAcked, syncsAtAck} = await runUntilAcked(at, ACKS_BEFORE_KILL)
      expect(lastAcked).to.be.greaterThan(0)
      const notSynced = syncsAtAck.filter((syncs, index) => syncs <= (index === 0 ? 0 : syncsAtAck[index - 1]))
      expect(notSynced, 'acknowledgements without an fdatasync since the previous one').to.deep.equal([])
      const log = await PartitionLog.open(at, {segmentBytes: 8 * 1024}, {logger: memoryLogger()})
      try {
        expect(log.logEndOffset).to.be.greaterThan(lastAcked)
        expect(log.segments().length).to.be.greaterThan(1)
        let offset = 0
        while (offset < log.logEndOffset) {
          const {batches, nextOffset} = await log.read(offset)
          for (const {position} of batchPositions(batches)) {
            for (const record of decodeRecordBatch(batches, position).records) {
              expect(record.offset).to.equal(offset)
              expect(record.value?.toString()).to.equal(`r${offset}`)
              offset++
            }
          }
          expect(nextOffset).to.equal(offset)
        }
        const info = await log.append(encodeRecordBatch([{key: null, value: Buffer.from('after')}]))
        expect(info.baseOffset).to.equal(offset)
      } finally {
        await log.close()
      }
    } finally {
      await cleanup()
    }
  })
})
