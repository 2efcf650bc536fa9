import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {mkdir, open, readFile} from 'node:fs/promises'
import path from 'node:path'
import {lignumBin, repoRoot} from '../../helpers/cli.js'
import {scratchDir} from '../../log/helpers.js'
import {encodeRecordBatch} from '../../../src/format/record-batch.js'

/**
 * `segments inspect --dump --records` on a directory far larger than the heap it runs with: the
 * output is complete and the process's peak RSS stays bounded, also while the reader is slow
 * (the dump waits for stdout to drain instead of piling output up in memory). Collecting the
 * dump first (as it once did) runs out of a 64 MB heap on this directory.
 */
const SEGMENT_BYTES_TARGET = 320 * 1024 * 1024
const RECORDS_PER_BATCH = 10
const VALUE_BYTES = 1000
const HEAP_MB = 64
// Node itself, oclif and the command's modules take about 100 MB here; output is streamed in
// 256 KiB chunks and a dump holds a 1 MiB slice of the segment.
const PEAK_RSS_BYTES_MAX = 200 * 1024 * 1024
// The reader stops this long after each READ_PAUSE_EVERY_BYTES, so the writer must wait for it.
const READ_PAUSE_MS = 300
const READ_PAUSE_EVERY_BYTES = 32 * 1024 * 1024

// Enough of a line to read its kind and offset.
const LINE_START_CHARS = 64

interface StreamedRun {
  code: number | null
  signal: NodeJS.Signals | null
  peakRssBytes: number
  batchLines: number
  recordLines: number
  lastRecordOffset: number
  /** With --json: how often `{"offset":` (a record) and `{"baseOffset":` (a batch) occur. */
  jsonRecords: number
  jsonBatches: number
  /** The last bytes of the output. */
  tail: string
  stdoutBytes: number
  stderr: string
}

/** One partition, one segment of ~320 MB: 10-record batches of 1000-byte values, written by code. */
async function buildLargeDataDir(dataDir: string): Promise<{batches: number; records: number}> {
  const partitionDir = path.join(dataDir, 'big-0')
  await mkdir(partitionDir, {recursive: true})
  const file = await open(path.join(partitionDir, '00000000000000000000.log'), 'w')
  let batches = 0
  let offset = 0
  let written = 0
  try {
    const pending: Buffer[] = []
    while (written < SEGMENT_BYTES_TARGET) {
      const records = Array.from({length: RECORDS_PER_BATCH}, (_, index) => ({key: Buffer.from(`k${offset + index}`), value: Buffer.alloc(VALUE_BYTES, 97 + ((offset + index) % 26)), timestamp: 1_700_000_000_000 + offset + index}))
      const batch = encodeRecordBatch(records, {baseOffset: offset})
      pending.push(batch)
      written += batch.length
      offset += RECORDS_PER_BATCH
      batches++
      if (pending.length === 512) await file.write(Buffer.concat(pending.splice(0)))
    }
    await file.write(Buffer.concat(pending))
  } finally {
    await file.close()
  }
  return {batches, records: offset}
}

/** Peak resident set of a live process (VmHWM), 0 once it is gone. */
async function peakRssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status)
  return match ? Number(match[1]) * 1024 : 0
}

function occurrences(before: string, chunk: string, needle: string): number {
  const text = before.slice(-(needle.length - 1)) + chunk
  let count = 0
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) count++
  return count
}

/** Runs the real CLI under a small heap, reading its stdout slowly and counting lines without keeping them. */
function runDump(args: string[]): Promise<StreamedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [lignumBin, ...args], {cwd: repoRoot, env: {...process.env, NO_COLOR: '1', NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}`}, stdio: ['ignore', 'pipe', 'pipe']})
    const run: StreamedRun = {code: null, signal: null, peakRssBytes: 0, batchLines: 0, recordLines: 0, lastRecordOffset: -1, jsonRecords: 0, jsonBatches: 0, tail: '', stdoutBytes: 0, stderr: ''}
    let partial = ''
    let sincePause = 0
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (text: string) => {
      run.stdoutBytes += Buffer.byteLength(text)
      // A needle may straddle two chunks: each search starts a little before this one.
      run.jsonRecords += occurrences(run.tail, text, '{"offset":')
      run.jsonBatches += occurrences(run.tail, text, '{"baseOffset":')
      const window = run.tail.slice(-32) + text
      const lastRecord = /^\{"offset":(\d+),/.exec(window.slice(window.lastIndexOf('{"offset":')))
      if (lastRecord) run.lastRecordOffset = Number(lastRecord[1])
      run.tail = window.slice(-200)
      const lines = (partial + text).split('\n')
      // Only a line's start is read: a JSON document is one long line, not kept whole.
      partial = (lines.pop() ?? '').slice(0, LINE_START_CHARS)
      for (const line of lines) {
        if (line.startsWith('baseOffset: ')) run.batchLines++
        else if (line.startsWith('| offset: ')) {
          run.recordLines++
          run.lastRecordOffset = Number(line.slice(10, line.indexOf(' ', 10)))
        }
      }
      sincePause += text.length
      if (sincePause >= READ_PAUSE_EVERY_BYTES) {
        sincePause = 0
        child.stdout.pause()
        setTimeout(() => child.stdout.resume(), READ_PAUSE_MS)
      }
    })
    child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()))
    const sampler = setInterval(() => {
      if (child.pid !== undefined) void peakRssOf(child.pid).then((bytes) => (run.peakRssBytes = Math.max(run.peakRssBytes, bytes)))
    }, 50)
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearInterval(sampler)
      clearTimeout(timer)
      resolve({...run, code, signal})
    })
  })
}

describe('lignum segments inspect --dump --records on a large directory', function () {
  this.timeout(300_000)
  let cleanup: () => Promise<void>
  let dataDir: string
  let expected: {batches: number; records: number}

  before(async () => {
    let dir: string
    ;({dir, cleanup} = await scratchDir())
    dataDir = path.join(dir, 'data')
    expected = await buildLargeDataDir(dataDir)
  })
  after(() => cleanup())

  it(`streams every batch and record of a ${SEGMENT_BYTES_TARGET / 1024 / 1024} MB segment with a ${HEAP_MB} MB heap and bounded RSS, to a slow reader`, async () => {
    const run = await runDump(['segments', 'inspect', '--data-dir', dataDir, '--dump', '--records'])
    expect(run.code, `${run.signal ?? ''} ${run.stderr.slice(0, 2000)}`).to.equal(0)
    expect(run.stderr).to.equal('')
    expect(run.batchLines).to.equal(expected.batches)
    expect(run.recordLines).to.equal(expected.records)
    expect(run.lastRecordOffset).to.equal(expected.records - 1)
    expect(run.stdoutBytes).to.be.greaterThan(SEGMENT_BYTES_TARGET)
    expect(run.peakRssBytes, `peak RSS ${Math.round(run.peakRssBytes / 1024 / 1024)} MB`).to.be.within(1, PEAK_RSS_BYTES_MAX)
  })

  it('streams the --json document too, whole', async () => {
    const run = await runDump(['segments', 'inspect', '--data-dir', dataDir, '--dump', '--records', '--json'])
    expect(run.code, `${run.signal ?? ''} ${run.stderr.slice(0, 2000)}`).to.equal(0)
    expect(run.stderr).to.equal('')
    expect(run.jsonBatches).to.equal(expected.batches)
    expect(run.jsonRecords).to.equal(expected.records)
    expect(run.lastRecordOffset).to.equal(expected.records - 1)
    expect(run.tail).to.match(/"headers":\[\]\}\]\}\]\}\]\}\],"faults":\[\],"notes":\[\]\}\n$/)
    expect(run.peakRssBytes, `peak RSS ${Math.round(run.peakRssBytes / 1024 / 1024)} MB`).to.be.within(1, PEAK_RSS_BYTES_MAX)
  })
})
