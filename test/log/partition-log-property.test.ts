/**
 * Property: any sequence of appends (one by one or many in flight at once), rolls, and
 * close-and-reopen reads back exactly what was written, with dense offsets and no segment
 * over its limit, under small segment and index limits so rolls and index entries happen often.
 * A second property adds truncation, retention by time, a torn tail written before a reopen and
 * lookups by timestamp (timestamps go backwards too), against a model of the records; counters
 * prove rolls, index entries, truncations, deletions and repaired tails happened.
 */
import {expect} from 'chai'
import fc from 'fast-check'
import {appendFile} from 'node:fs/promises'
import path from 'node:path'
import {PartitionLog} from '../../src/log/partition-log.js'
import {batchPositions, decodeRecordBatch, encodeRecordBatch} from '../../src/format/record-batch.js'
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

const BASE_TIMESTAMP = 1_700_000_000_000
const RETENTION_MS = 1000

type ModelStep =
  | {kind: 'append'; timestamps: number[]; concurrently: boolean}
  | {kind: 'roll'}
  | {kind: 'reopen'}
  | {kind: 'truncate'; at: number}
  | {kind: 'retention'; nowOffsetMs: number}
  | {kind: 'tornTail'; keepFraction: number}
  | {kind: 'offsetForTimestamp'; timestampOffsetMs: number}

const modelStep: fc.Arbitrary<ModelStep> = fc.oneof(
  {weight: 8, arbitrary: fc.record({kind: fc.constant('append' as const), timestamps: fc.array(fc.integer({min: 0, max: 5000}), {minLength: 1, maxLength: 6}), concurrently: fc.boolean()})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('roll' as const)})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('reopen' as const)})},
  {weight: 2, arbitrary: fc.record({kind: fc.constant('truncate' as const), at: fc.double({min: 0, max: 1, noNaN: true})})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('retention' as const), nowOffsetMs: fc.integer({min: 3000, max: 9000})})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('tornTail' as const), keepFraction: fc.double({min: 0.01, max: 0.99, noNaN: true})})},
  {weight: 2, arbitrary: fc.record({kind: fc.constant('offsetForTimestamp' as const), timestampOffsetMs: fc.integer({min: -10, max: 5010})})},
)

interface ModelRecord {
  value: string
  timestamp: number
}

/** What the log must hold: records from `startOffset`, and where each batch begins. */
class LogModel {
  startOffset = 0
  records: ModelRecord[] = []
  batchStarts: number[] = []

  get endOffset(): number {
    return this.startOffset + this.records.length
  }

  append(records: ModelRecord[]): void {
    this.batchStarts.push(this.endOffset)
    this.records.push(...records)
  }

  /** The log keeps whole batches: a cut inside one drops it. */
  truncateTo(offset: number): void {
    if (offset >= this.endOffset) return
    const cut = Math.max(this.startOffset, Math.max(...this.batchStarts.filter((start) => start <= offset), this.startOffset))
    this.records = this.records.slice(0, cut - this.startOffset)
    this.batchStarts = this.batchStarts.filter((start) => start < cut)
  }

  dropBefore(offset: number): void {
    this.records = this.records.slice(offset - this.startOffset)
    this.startOffset = offset
    this.batchStarts = this.batchStarts.filter((start) => start >= offset)
  }

  maxTimestamp(from: number, to: number): number {
    return Math.max(...this.records.slice(from - this.startOffset, to - this.startOffset + 1).map((record) => record.timestamp))
  }

  firstOffsetAtOrAfter(timestamp: number): number | null {
    const index = this.records.findIndex((record) => record.timestamp >= timestamp)
    return index < 0 ? null : this.startOffset + index
  }
}

describe('PartitionLog (property, with truncation, retention, torn tails and time lookups)', () => {
  it('matches a model of its records through every operation', async () => {
    const seen = {rolls: 0, indexEntries: 0, timeIndexEntries: 0, truncations: 0, segmentsDeleted: 0, tornTailsRepaired: 0, timeLookupsFound: 0, timeLookupsPastEnd: 0}
    await fc.assert(
      fc.asyncProperty(fc.array(modelStep, {minLength: 5, maxLength: 40}), fc.integer({min: 200, max: 1200}), fc.integer({min: 0, max: 300}), async (steps, segmentBytes, indexIntervalBytes) => {
        const {dir, cleanup} = await scratchDir()
        const config = {segmentBytes, indexIntervalBytes, retentionMs: RETENTION_MS, flushPolicy: 'never' as const}
        const at = path.join(dir, 'model-0')
        const options = {clock: () => BASE_TIMESTAMP}
        let logger = memoryLogger()
        let log = await PartitionLog.open(at, config, {...options, logger})
        const model = new LogModel()
        let next = 0
        const observe = () => {
          const segments = log.segments()
          seen.rolls += segments.length - 1
          for (const segment of segments) {
            seen.indexEntries += segment.indexEntries
            seen.timeIndexEntries += segment.timeIndexEntries
          }
        }
        try {
          for (const current of steps) {
            if (current.kind === 'append') {
              const records = current.timestamps.map((offsetMs) => ({value: `r${next++}`, timestamp: BASE_TIMESTAMP + offsetMs}))
              const batches = current.concurrently ? records.map((record) => [record]) : [records]
              const encoded = batches.map((batch) => encodeRecordBatch(batch.map((record) => ({key: null, value: Buffer.from(record.value), timestamp: record.timestamp}))))
              if (encoded.some((batch) => batch.length > segmentBytes)) continue
              const infos = await Promise.all(encoded.map((batch) => log.append(batch)))
              for (const [index, batch] of batches.entries()) {
                expect(infos[index].baseOffset).to.equal(model.endOffset)
                model.append(batch)
              }
            } else if (current.kind === 'roll') {
              await log.roll()
            } else if (current.kind === 'reopen') {
              observe()
              await log.close()
              // Closing seals the active segment's time index as Kafka does (a closing entry).
              const before = log.segments()
              log = await PartitionLog.open(at, config, {...options, logger})
              // What appends and truncations left in memory is what a rebuild from the files gives.
              expect(log.segments()).to.deep.equal(before)
            } else if (current.kind === 'truncate') {
              const offset = model.startOffset + Math.floor(current.at * (model.endOffset - model.startOffset))
              const before = model.endOffset
              model.truncateTo(offset)
              expect(await log.truncateTo(offset)).to.equal(model.endOffset)
              if (model.endOffset < before) seen.truncations++
            } else if (current.kind === 'retention') {
              observe()
              const now = BASE_TIMESTAMP + current.nowOffsetMs
              let expectedStart = model.startOffset
              for (const segment of log.segments()) {
                if (segment.batchCount === 0 || now - model.maxTimestamp(segment.baseOffset, segment.lastOffset) <= RETENTION_MS) break
                expectedStart = segment.lastOffset + 1
              }
              const {deletedSegments} = await log.applyRetention(now)
              seen.segmentsDeleted += deletedSegments
              expect(log.logStartOffset).to.equal(expectedStart)
              model.dropBefore(expectedStart)
            } else if (current.kind === 'tornTail') {
              observe()
              await log.close()
              // A batch cut short, as a crash in the middle of its write leaves it.
              const torn = encodeRecordBatch([{key: null, value: Buffer.from('torn'), timestamp: BASE_TIMESTAMP}])
              await appendFile(log.segments().at(-1)!.path, torn.subarray(0, Math.max(1, Math.floor(current.keepFraction * torn.length))))
              const before = log.segments()
              logger = memoryLogger()
              log = await PartitionLog.open(at, config, {...options, logger})
              expect(log.segments()).to.deep.equal(before)
              expect(logger.lines.filter((line) => line.message === 'truncated a torn tail after a crash')).to.have.length(1)
              seen.tornTailsRepaired++
            } else {
              const timestamp = BASE_TIMESTAMP + current.timestampOffsetMs
              const expected = model.firstOffsetAtOrAfter(timestamp)
              expect(await log.offsetForTimestamp(timestamp), `first offset at or after ${timestamp}`).to.equal(expected)
              if (expected === null) seen.timeLookupsPastEnd++
              else seen.timeLookupsFound++
            }
            expect([log.logStartOffset, log.logEndOffset]).to.deep.equal([model.startOffset, model.endOffset])
          }
          observe()
          const read: string[] = []
          let offset = log.logStartOffset
          while (offset < log.logEndOffset) {
            const result = await log.read(offset, {maxBytes: 300})
            for (const {position} of batchPositions(result.batches)) {
              for (const record of decodeRecordBatch(result.batches, position).records) {
                if (record.offset >= offset) read.push(`${record.value!.toString()}@${record.timestamp}`)
              }
            }
            offset = result.nextOffset
          }
          expect(read).to.deep.equal(model.records.map((record) => `${record.value}@${record.timestamp}`))
        } finally {
          await log.close()
          await cleanup()
        }
      }),
      {numRuns: 40},
    )
    if (process.env.LIGNUM_TEST_STATISTICS) console.log(seen)
    for (const [what, count] of Object.entries(seen)) expect(count, `${what} over all runs`).to.be.greaterThan(0)
  })
})
