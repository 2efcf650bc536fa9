/**
 * Property: any sequence of appends (one by one or many in flight at once), rolls, and
 * close-and-reopen reads back exactly what was written, with dense offsets and no segment
 * over its limit, under small segment and index limits so rolls and index entries happen often.
 */
import {expect} from 'chai'
import fc from 'fast-check'
import path from 'node:path'
import {PartitionLog} from '../../src/log/partition-log.js'
import {batchPositions, decodeRecordBatch, encodeRecordBatch} from '../../src/log/record-batch.js'
import {memoryLogger, scratchDir} from './helpers.js'

type Step = {kind: 'append'; values: string[]; concurrently: boolean} | {kind: 'roll'} | {kind: 'reopen'}

const step: fc.Arbitrary<Step> = fc.oneof(
  {weight: 6, arbitrary: fc.record({kind: fc.constant('append' as const), values: fc.array(fc.string({maxLength: 60}), {minLength: 1, maxLength: 8}), concurrently: fc.boolean()})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('roll' as const)})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('reopen' as const)})},
)

describe('PartitionLog (property)', () => {
  it('reads back exactly what was written through appends, rolls and reopens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, {maxLength: 30}), fc.integer({min: 200, max: 2000}), fc.integer({min: 0, max: 600}), async (steps, segmentBytes, indexIntervalBytes) => {
        const {dir, cleanup} = await scratchDir()
        const config = {segmentBytes, indexIntervalBytes, flushPolicy: 'never' as const}
        const at = path.join(dir, 'prop-0')
        let log = await PartitionLog.open(at, config, {logger: memoryLogger()})
        const written: string[] = []
        try {
          for (const current of steps) {
            if (current.kind === 'append' && current.concurrently) {
              // One batch per value, all in flight at once: they may be written as one group.
              const infos = await Promise.all(current.values.map((value) => log.append(encodeRecordBatch([{key: null, value: Buffer.from(value)}]))))
              expect(infos.map((info) => info.baseOffset)).to.deep.equal(current.values.map((_, index) => written.length + index))
              written.push(...current.values)
            } else if (current.kind === 'append') {
              const batch = encodeRecordBatch(current.values.map((value) => ({key: null, value: Buffer.from(value)})))
              if (batch.length > segmentBytes) continue
              const info = await log.append(batch)
              expect(info.baseOffset).to.equal(written.length)
              written.push(...current.values)
            } else if (current.kind === 'roll') {
              await log.roll()
            } else {
              await log.close()
              log = await PartitionLog.open(at, config, {logger: memoryLogger()})
            }
          }
          expect(log.logEndOffset).to.equal(written.length)
          for (const segment of log.segments()) {
            if (segment.batchCount > 1) expect(segment.sizeBytes).to.be.at.most(segmentBytes)
          }
          for (let from = 0; from < written.length; from += Math.max(1, Math.floor(written.length / 5))) {
            const read: string[] = []
            let offset = from
            while (offset < log.logEndOffset) {
              const result = await log.read(offset, {maxBytes: 300})
              for (const {position} of batchPositions(result.batches)) {
                for (const record of decodeRecordBatch(result.batches, position).records) if (record.offset >= from) read.push(record.value!.toString())
              }
              offset = result.nextOffset
            }
            expect(read).to.deep.equal(written.slice(from))
          }
        } finally {
          await log.close()
          await cleanup()
        }
      }),
      {numRuns: 60},
    )
  })
})
