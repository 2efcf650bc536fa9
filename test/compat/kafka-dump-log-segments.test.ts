/**
 * Kafka's own tools read a partition that Lignum's engine wrote: Apache Kafka's
 * `kafka.tools.DumpLogSegments` dumps every record (--deep-iteration), checks every index
 * entry against the log (--verify-index-only) and runs the broker's index sanity check
 * (--index-sanity-check); Kafka's LeaderEpochCheckpointFile reads the leader-epoch-checkpoint
 * and writes the same bytes. The partition has keys, null keys and values, headers, gzip
 * batches, timestamps going backwards, transaction markers and several rolled segments.
 * The four JVMs run at once: each takes a second or more to start.
 */
import {expect} from 'chai'
import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {encodeRecordBatch, type RecordInput} from '../../src/format/record-batch.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {encodeControlBatch, encodeTransactionalBatch} from '../helpers/kafka-data.js'
import {requireKafkaTools, runKafkaTool, type KafkaTools, type ToolResult} from '../helpers/kafka-tools.js'
import {FIXTURE_TIMESTAMP, scratchDir} from '../log/helpers.js'

const CHECKPOINT_COPY_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'LeaderEpochCheckpointCopy.java')
const BATCH_COUNT = 48
/** Batch maxima in seconds: they go backwards often, and repeat. */
const BATCH_SECONDS = [5, 3, 8, 1, 9, 9, 2, 12, 4, 15, 6, 7, 20, 3, 3, 25, 1, 2, 30, 29, 31, 0, 31, 40]
const PRODUCER = {producerId: 4242, producerEpoch: 3}
/** What Kafka's tools print when something does not hold; a clean run prints none of these. */
const TROUBLE = /mismatch|out of order|not found|non-consecutive|invalid bytes|error|exception|failed|corrupt|is not|isvalid: false/i

interface ExpectedBatch {
  baseOffset: number
  lastOffset: number
  count: number
  isTransactional: boolean
  isControl: boolean
  compression: string
  maxTimestamp: number
}

interface ExpectedRecord {
  offset: number
  timestamp: number
  keySize: number
  valueSize: number
  headerKeys: string
  marker: string
}

function recordsOf(batch: number): RecordInput[] {
  const seconds = BATCH_SECONDS[batch % BATCH_SECONDS.length] + Math.floor(batch / BATCH_SECONDS.length) * 100
  return Array.from({length: 1 + (batch % 4)}, (_, index) => ({
    key: batch % 5 === 0 && index === 1 ? null : Buffer.from(`key-${batch}-${index}`),
    value: batch === 7 && index === 0 ? null : Buffer.from(`value ${batch}.${index} ${'x'.repeat((batch * 7 + index) % 40)}`),
    headers: batch % 2 === 0 ? [{key: 'trace', value: Buffer.from(`t${batch}`)}, {key: 'empty', value: null}] : [],
    // Records inside a batch go backwards too: the batch's maximum is its first record's.
    timestamp: FIXTURE_TIMESTAMP + seconds * 1000 - index * 300,
  }))
}

/** Writes the partition through the engine (leader epoch 0, as a standalone node's leader assigns it) and says what it wrote. */
async function writePartition(dir: string): Promise<{batches: ExpectedBatch[]; records: ExpectedRecord[]}> {
  const log = await PartitionLog.open(dir, {segmentBytes: 1800, indexIntervalBytes: 200, flushPolicy: 'never'})
  const batches: ExpectedBatch[] = []
  const records: ExpectedRecord[] = []
  const append = async (batch: Buffer, input: RecordInput[], kind: {compression: string; isTransactional: boolean; marker?: string}) => {
    const info = await log.append(batch, {leaderEpoch: 0, origin: 'log'})
    batches.push({baseOffset: info.baseOffset, lastOffset: info.lastOffset, count: input.length, isTransactional: kind.isTransactional, isControl: kind.marker !== undefined, compression: kind.compression, maxTimestamp: info.maxTimestamp})
    input.forEach((record, index) => {
      const headerKeys = (record.headers ?? []).map((header) => header.key).join(',')
      records.push({offset: info.baseOffset + index, timestamp: record.timestamp!, keySize: record.key?.length ?? -1, valueSize: record.value?.length ?? -1, headerKeys, marker: kind.marker ?? ''})
    })
  }
  let sequence = 0
  for (let batch = 0; batch < BATCH_COUNT; batch++) {
    const input = recordsOf(batch)
    if (batch % 12 === 5) {
      await append(encodeTransactionalBatch(input, PRODUCER, sequence), input, {compression: 'none', isTransactional: true})
      sequence += input.length
      const timestamp = input[0].timestamp!
      const marker = batch % 24 === 5 ? 'commit' : 'abort'
      await append(encodeControlBatch(marker, PRODUCER, timestamp), [{key: Buffer.alloc(4), value: Buffer.alloc(6), timestamp}], {compression: 'none', isTransactional: true, marker: ` endTxnMarker: ${marker.toUpperCase()} coordinatorEpoch: 0`})
      continue
    }
    const compression = batch % 3 === 1 ? 'gzip' : 'none'
    await append(encodeRecordBatch(input, {compression}), input, {compression, isTransactional: false})
  }
  await log.close()
  return {batches, records}
}

/** The lines of one tool's output under each "Dumping <file>" heading. */
function sections(output: string): Map<string, string[]> {
  const byFile = new Map<string, string[]>()
  let current: string[] | undefined
  for (const line of output.split('\n')) {
    const heading = /^Dumping (.+)$/.exec(line)
    if (heading) byFile.set(path.basename(heading[1]), (current = []))
    else if (line !== '') current?.push(line)
  }
  return byFile
}

function parseBatchLine(line: string): ExpectedBatch & {partitionLeaderEpoch: number; valid: string} {
  const match = /^baseOffset: (\d+) lastOffset: (\d+) count: (\d+) .*partitionLeaderEpoch: (-?\d+) isTransactional: (\w+) isControl: (\w+) .*CreateTime: (-?\d+) size: \d+ magic: 2 compresscodec: (\w+) crc: \d+ isvalid: (\w+)$/.exec(line)
  expect(match, line).to.not.equal(null)
  const [, base, last, count, epoch, transactional, control, time, compression, valid] = match!
  return {baseOffset: Number(base), lastOffset: Number(last), count: Number(count), partitionLeaderEpoch: Number(epoch), isTransactional: transactional === 'true', isControl: control === 'true', maxTimestamp: Number(time), compression, valid}
}

function parseRecordLine(line: string): ExpectedRecord {
  const match = /^\| offset: (\d+) CreateTime: (-?\d+) keySize: (-?\d+) valueSize: (-?\d+) sequence: -?\d+ headerKeys: \[(.*?)\](.*)$/.exec(line)
  expect(match, line).to.not.equal(null)
  const [, offset, timestamp, keySize, valueSize, headerKeys, marker] = match!
  return {offset: Number(offset), timestamp: Number(timestamp), keySize: Number(keySize), valueSize: Number(valueSize), headerKeys, marker}
}

/** Index entries as the files hold them, in the words DumpLogSegments prints them with. */
async function indexLines(dir: string, name: string): Promise<string[]> {
  const bytes = await readFile(path.join(dir, name))
  const baseOffset = Number(name.slice(0, 20))
  if (name.endsWith('.index')) return Array.from({length: bytes.length / 8}, (_, entry) => `offset: ${baseOffset + bytes.readInt32BE(entry * 8)} position: ${bytes.readInt32BE(entry * 8 + 4)}`)
  return Array.from({length: bytes.length / 12}, (_, entry) => `timestamp: ${bytes.readBigInt64BE(entry * 12)} offset: ${baseOffset + bytes.readInt32BE(entry * 12 + 8)}`)
}

function expectClean(result: ToolResult, what: string): void {
  expect(result.code, `${what} exit code; stderr:\n${result.stderr}`).to.equal(0)
  expect(result.stderr, `${what} stderr`).to.equal('')
  const trouble = result.stdout.split('\n').filter((line) => TROUBLE.test(line))
  expect(trouble, `${what} reports trouble`).to.deep.equal([])
}

describe('Kafka\'s own tools read a partition Lignum wrote', function () {
  this.timeout(180_000)
  let tools: KafkaTools
  let dir: string
  let cleanup: () => Promise<void>
  let partitionDir: string
  let written: {batches: ExpectedBatch[]; records: ExpectedRecord[]}
  let segmentFiles: string[]
  let results: {deep: ToolResult; verify: ToolResult; sanity: ToolResult; checkpoint: ToolResult}

  before(async function () {
    tools = await requireKafkaTools(this)
    ;({dir, cleanup} = await scratchDir())
    partitionDir = path.join(dir, 'orders-0')
    written = await writePartition(partitionDir)
    // Several segments, and with the leader-epoch-checkpoint, nothing else than Kafka would keep there.
    segmentFiles = (await readdir(partitionDir)).filter((name) => /^\d{20}\.(log|index|timeindex)$/.test(name)).sort()
    const files = segmentFiles.map((name) => path.join(partitionDir, name)).join(',')
    const dump = (mode: string) => runKafkaTool(tools, 'kafka.tools.DumpLogSegments', ['--files', files, mode])
    const [deep, verify, sanity, checkpoint] = await Promise.all([
      dump('--deep-iteration'),
      dump('--verify-index-only'),
      dump('--index-sanity-check'),
      runKafkaTool(tools, CHECKPOINT_COPY_SOURCE, [path.join(partitionDir, 'leader-epoch-checkpoint'), path.join(dir, 'kafka-leader-epoch-checkpoint')]),
    ])
    results = {deep, verify, sanity, checkpoint}
  })
  after(() => cleanup?.())

  it('wrote what the test needs: several segments, gzip, markers and timestamps going backwards', () => {
    expect(segmentFiles.filter((name) => name.endsWith('.log')).length).to.be.greaterThan(3)
    expect(written.batches.some((batch) => batch.compression === 'gzip')).to.equal(true)
    expect(written.batches.filter((batch) => batch.isControl).length).to.equal(4)
    expect(written.batches.some((batch, index) => index > 0 && batch.maxTimestamp < written.batches[index - 1].maxTimestamp)).to.equal(true)
  })

  it('--deep-iteration prints every batch and record as written, and every index entry as the files hold it', async () => {
    expectClean(results.deep, '--deep-iteration')
    const byFile = sections(results.deep.stdout)
    expect([...byFile.keys()]).to.deep.equal(segmentFiles)
    const batches: ReturnType<typeof parseBatchLine>[] = []
    const records: ExpectedRecord[] = []
    for (const name of segmentFiles) {
      const lines = byFile.get(name)!
      if (name.endsWith('.log')) {
        expect(lines[0]).to.equal(`Log starting offset: ${Number(name.slice(0, 20))}`)
        for (const line of lines.slice(1)) {
          if (line.startsWith('|')) records.push(parseRecordLine(line))
          else batches.push(parseBatchLine(line))
        }
      } else {
        const entries = await indexLines(partitionDir, name)
        expect(lines, name).to.deep.equal(entries.length === 0 && name.endsWith('.index') ? [`${path.join(partitionDir, name)} is empty.`] : entries)
      }
    }
    expect(batches.map(({partitionLeaderEpoch, valid, ...batch}) => batch)).to.deep.equal(written.batches)
    expect(new Set(batches.map((batch) => `${batch.partitionLeaderEpoch} ${batch.valid}`))).to.deep.equal(new Set(['0 true']))
    expect(records).to.deep.equal(written.records)
    expect(records.length).to.equal(written.batches.at(-1)!.lastOffset + 1)
  })

  it('--verify-index-only finds every index entry consistent with the log', async () => {
    expectClean(results.verify, '--verify-index-only')
    const byFile = sections(results.verify.stdout)
    expect([...byFile.keys()]).to.deep.equal(segmentFiles)
    // The index files must have been checked, not skipped as empty: the rolled segments have entries.
    let entries = 0
    for (const name of segmentFiles.filter((file) => !file.endsWith('.log'))) entries += (await indexLines(partitionDir, name)).length
    expect(entries).to.be.greaterThan(20)
  })

  it('--index-sanity-check passes every index, as a Kafka broker checks them at start', () => {
    expectClean(results.sanity, '--index-sanity-check')
    const byFile = sections(results.sanity.stdout)
    for (const name of segmentFiles.filter((file) => !file.endsWith('.log'))) {
      const file = path.join(partitionDir, name)
      expect(byFile.get(name), name).to.satisfy((lines: string[]) => lines.includes(`${file} passed sanity check.`) || lines.includes(`${file} is empty.`))
    }
  })

  it('reads the leader-epoch-checkpoint (epoch 0 from offset 0) and writes the same bytes', async () => {
    expect(results.checkpoint.code, results.checkpoint.stderr).to.equal(0)
    expect(results.checkpoint.stdout).to.equal('epoch 0 startOffset 0\n')
    const lignum = await readFile(path.join(partitionDir, 'leader-epoch-checkpoint'), 'utf8')
    expect(lignum).to.equal('0\n1\n0 0\n')
    expect(await readFile(path.join(dir, 'kafka-leader-epoch-checkpoint'), 'utf8')).to.equal(lignum)
  })
})
