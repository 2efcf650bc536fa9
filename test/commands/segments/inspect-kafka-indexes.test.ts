import {expect} from 'chai'
import {readdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {encodeRecordBatch} from '../../../src/format/record-batch.js'
import {PartitionLog} from '../../../src/log/partition-log.js'
import {runCli} from '../../helpers/cli.js'
import {preallocateLikeKafka} from '../../helpers/kafka-data.js'
import {FIXTURE_TIMESTAMP, scratchDir} from '../../log/helpers.js'

/** One-record batches (offset = batch number) whose timestamps go backwards now and then. */
const SECONDS = [5, 3, 8, 1, 9, 2, 12, 4, 15, 6, 7, 20, 3, 25, 1, 30, 2, 31, 0, 40]

async function writePartition(dir: string): Promise<void> {
  const log = await PartitionLog.open(dir, {segmentBytes: 700, indexIntervalBytes: 100, flushPolicy: 'never'})
  for (const [index, seconds] of SECONDS.entries()) {
    await log.append(encodeRecordBatch([{key: Buffer.from(`k${index}`), value: Buffer.from(`value ${index}`), timestamp: FIXTURE_TIMESTAMP + seconds * 1000}]))
  }
  await log.close()
}

async function verifyJson(dataDir: string): Promise<{verified: boolean; faults: {file: string; position: number; offset: number; reason: string}[]; notes: {file: string; position: number; reason: string}[]; partitions: {segments: {file: string; indexEntries: number; timeIndexEntries: number}[]}[]}> {
  const result = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--verify', '--json'])
  return JSON.parse(result.stdout)
}

describe('lignum segments inspect on Kafka\'s index files', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let dataDir: string
  let partitionDir: string

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
    dataDir = path.join(dir, 'data')
    partitionDir = path.join(dataDir, 'orders-0')
    await writePartition(partitionDir)
  })
  afterEach(() => cleanup())

  it('reports a preallocated, zero-filled index tail (a Kafka broker killed with -9) once per file, as a note, not as faults', async () => {
    const before = await verifyJson(dataDir)
    expect(before.verified).to.equal(true)
    const segments = before.partitions[0].segments
    expect(segments.length).to.be.greaterThan(2)
    // Kafka trims an index when its segment rolls: only the active segment's files keep the tail.
    const active = segments.at(-1)!
    expect(active.indexEntries).to.be.greaterThan(0)
    const index = active.file.replace(/\.log$/, '.index')
    const timeIndex = active.file.replace(/\.log$/, '.timeindex')
    const indexBytes = (await readFile(index)).length
    const timeIndexBytes = (await readFile(timeIndex)).length
    const indexZeros = await preallocateLikeKafka(index, 8)
    const timeIndexZeros = await preallocateLikeKafka(timeIndex, 12)

    const text = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--verify'])
    expect(text.code, text.stderr).to.equal(0)
    expect(text.stdout).to.include('verify: no faults found')
    expect(text.stdout).to.include(`2 note(s), not faults:\n  ${index}: position ${indexBytes}: index file has ${indexZeros} zero-filled trailing bytes: preallocated by Kafka, unused`)
    expect(text.stdout).to.include(`  ${timeIndex}: position ${timeIndexBytes}: index file has ${timeIndexZeros} zero-filled trailing bytes: preallocated by Kafka, unused`)

    const json = await verifyJson(dataDir)
    expect(json.verified).to.equal(true)
    expect(json.faults).to.deep.equal([])
    expect(json.notes.map((note) => [note.file, note.position])).to.deep.equal([[index, indexBytes], [timeIndex, timeIndexBytes]])
    expect(json.partitions[0].segments.at(-1)).to.include({indexEntries: active.indexEntries, timeIndexEntries: active.timeIndexEntries})
  })

  it('--verify holds time index entries to Kafka\'s rule (largest timestamp so far, at the first batch carrying it)', async () => {
    const file = path.join(partitionDir, '00000000000000000000.timeindex')
    // Offset 1 (3 s) never raised the largest timestamp; offset 2 (8 s) did, but to 8 s, not 7 s.
    const entries = Buffer.alloc(24)
    entries.writeBigInt64BE(BigInt(FIXTURE_TIMESTAMP + 5000), 0)
    entries.writeInt32BE(1, 8)
    entries.writeBigInt64BE(BigInt(FIXTURE_TIMESTAMP + 7000), 12)
    entries.writeInt32BE(2, 20)
    await writeFile(file, entries)
    const result = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--verify'])
    expect(result.code).to.equal(4)
    const json = await verifyJson(dataDir)
    expect(json.faults).to.deep.equal([
      {file, position: 0, offset: 1, reason: `time index entry (${FIXTURE_TIMESTAMP + 5000}, offset 1) does not name the last offset of a batch that raised the segment's largest timestamp (Kafka's rule; a writable open rebuilds it)`},
      {file, position: 12, offset: 2, reason: `time index entry says timestamp ${FIXTURE_TIMESTAMP + 7000} at offset 2, but the largest timestamp there is ${FIXTURE_TIMESTAMP + 8000} (a writable open rebuilds it)`},
    ])
    expect((await readdir(partitionDir)).filter((name) => name.endsWith('.log')).length).to.be.greaterThan(2)
  })
})
