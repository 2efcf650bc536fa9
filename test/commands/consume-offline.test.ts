import {expect} from 'chai'
import {open, readdir, readFile, stat, truncate, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {spawn} from 'node:child_process'
import {lignumBin, runCli} from '../helpers/cli.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {batchPositions, encodeRecordBatch} from '../../src/format/record-batch.js'
import {buildDataDir, FIXTURE_TIMESTAMP, scratchDir} from '../log/helpers.js'

describe('lignum consume --data-dir (offline, end to end)', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let dataDir: string

  before(async () => {
    ;({dir, cleanup} = await scratchDir())
    dataDir = path.join(dir, 'data')
    await buildDataDir(dataDir)
  })
  after(() => cleanup())

  it('prints each value on its own line, partition by partition', async () => {
    const result = await runCli(['consume', '--data-dir', dataDir, '--topic', 'orders'])
    expect(result.code, result.stderr).to.equal(0)
    const expected = [0, 1].flatMap((partition) => Array.from({length: 20}, (_, index) => `p${partition}-${index}`))
    expect(result.stdout).to.equal(expected.join('\n') + '\n')
    expect(result.stderr).to.equal('')
  })

  it('honours --partition, --from and an exclusive --to', async () => {
    const result = await runCli(['consume', '--data-dir', dataDir, '--topic', 'orders', '--partition', '1', '--from', '5', '--to', '8'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('p1-5\np1-6\np1-7\n')
  })

  it('starts at --from-time', async () => {
    const from = new Date(FIXTURE_TIMESTAMP + 17_500).toISOString()
    const result = await runCli(['consume', '--data-dir', dataDir, '--topic', 'orders', '-p', '0', '--from-time', from])
    expect(result.stdout).to.equal('p0-18\np0-19\n')
  })

  it('prints JSON lines with strings for UTF-8 and a stated base64 encoding otherwise', async () => {
    const text = await runCli(['consume', '--data-dir', dataDir, '--topic', 'orders', '-p', '0', '--to', '1', '--json'])
    expect(JSON.parse(text.stdout)).to.deep.equal({topic: 'orders', partition: 0, offset: 0, timestamp: FIXTURE_TIMESTAMP, key: 'k0', value: 'p0-0', headers: [{key: 'h', value: '0'}]})
    const binary = await runCli(['consume', '--data-dir', dataDir, '--topic', 'binary', '--json'])
    const lines = binary.stdout.trim().split('\n').map((line) => JSON.parse(line))
    expect(lines[0]).to.deep.equal({topic: 'binary', partition: 0, offset: 0, timestamp: FIXTURE_TIMESTAMP, key: '/wA=', keyEncoding: 'base64', value: '/gE=', valueEncoding: 'base64', headers: [{key: 'bin', value: 'ww==', valueEncoding: 'base64'}]})
    expect(lines[1]).to.deep.equal({topic: 'binary', partition: 0, offset: 1, timestamp: FIXTURE_TIMESTAMP, key: null, value: null, headers: []})
  })

  it('renders --format templates in kcat\'s spirit', async () => {
    const result = await runCli(['consume', '--data-dir', dataDir, '--topic', 'orders', '-p', '1', '--from', '3', '--to', '5', '--format', '%t/%p@%o %T %k=%s [%h] %K/%S 100%%\\t|\\n'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal(`orders/1@3 ${FIXTURE_TIMESTAMP + 3000} k3=p1-3 [h=3] 2/4 100%\t|\norders/1@4 ${FIXTURE_TIMESTAMP + 4000} k4=p1-4 [h=4] 2/4 100%\t|\n`)
  })

  it('exits 0 quietly when the reader closes the pipe early', async () => {
    const big = path.join(dir, 'big')
    const log = await PartitionLog.open(path.join(big, 'many-0'), {flushPolicy: 'never'})
    const records = Array.from({length: 1000}, (_, index) => ({key: null, value: Buffer.from(`line ${index} ${'x'.repeat(40)}`)}))
    for (let batch = 0; batch < 100; batch++) await log.append(encodeRecordBatch(records))
    await log.close()
    const child = spawn(process.execPath, [lignumBin, 'consume', '--data-dir', big, '--topic', 'many'], {stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())))
    child.stdout.destroy()
    const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)))
    expect(first.startsWith('line 0 ')).to.equal(true)
    expect(code).to.equal(0)
    expect(stderr).to.equal('')
  })

  it('one-line errors for bad input, writing nothing', async () => {
    const cases: [string[], number, RegExp][] = [
      [['--topic', 'a/b'], 2, /topic name "a\/b" has characters outside/],
      [['--topic', 'missing'], 3, /topic "missing" is not in .*; it holds: binary, orders/],
      [['--topic', 'orders', '--partition', '7'], 3, /partition 7 of "orders" is not in/],
      [['--topic', 'orders', '-p', '0', '--from', '21'], 3, /offset 21 is out of range for orders-0, which holds offsets 0 to 19; pass a --from in that range/],
      [['--topic', 'orders', '--from', '5', '--to', '2'], 2, /--to 2 is below --from 5/],
      [['--topic', 'orders', '--from-time', 'yesterday'], 2, /not an ISO-8601 time/],
      [['--topic', 'orders', '--format', '%z'], 2, /unknown field "%z"/],
    ]
    const before = (await readdir(dataDir, {recursive: true})).sort()
    for (const [args, code, pattern] of cases) {
      const result = await runCli(['consume', '--data-dir', dataDir, ...args])
      expect(result.code, args.join(' ')).to.equal(code)
      expect(result.stdout).to.equal('')
      expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1)
      expect(result.stderr).to.match(pattern)
    }
    const missing = await runCli(['consume', '--data-dir', path.join(dir, 'nope'), '--topic', 'orders'])
    expect(missing.code).to.equal(4)
    expect(missing.stderr).to.match(/does not exist/)
    expect((await readdir(dataDir, {recursive: true})).sort()).to.deep.equal(before)
  })

  it('returns the whole batches before a torn tail (a crash, or a server writing) and warns, exit 0', async () => {
    const torn = path.join(dir, 'torn')
    await buildDataDir(torn, 3)
    const file = path.join(torn, 'orders-0', '00000000000000000000.log')
    await truncate(file, (await stat(file)).size - 5)
    // Only offsets below 2 were known on disk: the cut batch at offset 2 is an unflushed tail.
    await writeFile(path.join(torn, 'orders-0', 'lignum-recovery-point'), '0\n2\n')
    const result = await runCli(['consume', '--data-dir', torn, '--topic', 'orders', '-p', '0'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('p0-0\np0-1\n')
    expect(result.stderr).to.match(/^Warning: .*00000000000000000000\.log: stopped at position \d+ \(offset 2\).*torn tail/)
    expect((await stat(file)).size).to.be.greaterThan(0)
  })

  it('takes a last batch cut after a clean stop for damage: the records before it, then exit 4', async () => {
    const cut = path.join(dir, 'cut')
    await buildDataDir(cut, 3)
    const file = path.join(cut, 'orders-0', '00000000000000000000.log')
    await truncate(file, (await stat(file)).size - 5)
    const result = await runCli(['consume', '--data-dir', cut, '--topic', 'orders'])
    expect(result.code).to.equal(4)
    expect(result.stdout).to.equal('p0-0\np0-1\np1-0\np1-1\np1-2\n')
    expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1)
    expect(result.stderr).to.match(/^Error: orders-0 is damaged: .*00000000000000000000\.log at position \d+ \(offset 2\).*every intact record before offset 2 was written; repair it offline with: lignum segments repair --data-dir .* -t orders -p 0/)
    const before = await runCli(['consume', '--data-dir', cut, '--topic', 'orders', '-p', '0', '--to', '2'])
    expect(before.code, before.stderr).to.equal(0)
    expect(before.stdout).to.equal('p0-0\np0-1\n')
    expect(before.stderr).to.equal('')
  })

  it('fails loudly on damage in a segment that later segments follow, after the records before it', async () => {
    const damaged = path.join(dir, 'damaged', 'orders-0')
    const log = await PartitionLog.open(damaged, {segmentBytes: 300, flushPolicy: 'always'})
    for (let index = 0; index < 6; index++) await log.append(encodeRecordBatch([{key: null, value: Buffer.from(`v${index}-${'x'.repeat(60)}`)}]))
    await log.close()
    const segments = (await readdir(damaged)).filter((name) => name.endsWith('.log')).sort()
    expect(segments.length).to.be.greaterThan(1)
    const first = path.join(damaged, segments[0])
    const bytes = await readFile(first)
    // Flip a byte in the value of the first segment's last batch.
    bytes[bytes.length - 3] ^= 0xff
    await writeFile(first, bytes)
    const result = await runCli(['consume', '--data-dir', path.dirname(damaged), '--topic', 'orders', '--format', '%o\n'])
    expect(result.code).to.equal(4)
    expect(result.stdout).to.equal('0\n')
    expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1)
    expect(result.stderr).to.match(/^Error: orders-0 is damaged: .*CRC-32C/)
  })

  describe('11,000 intact records before damage in a middle segment', () => {
    let damagedDir: string
    const expected = Array.from({length: 11_000}, (_, index) => `record ${index}`).join('\n') + '\n'

    before(async () => {
      damagedDir = path.join(dir, 'eleven-thousand')
      const log = await PartitionLog.open(path.join(damagedDir, 'orders-0'), {segmentBytes: 16 * 1024, flushPolicy: 'never'})
      for (let batch = 0; batch < 120; batch++) {
        await log.append(encodeRecordBatch(Array.from({length: 100}, (_, index) => ({key: null, value: Buffer.from(`record ${batch * 100 + index}`)}))))
      }
      await log.close()
      await flipLengthOfBatchAt(path.join(damagedDir, 'orders-0'), 11_000)
    })

    /** Runs consume with stdout going straight to `stdout` (a file or a pipe) and returns its exit and stderr. */
    function consumeTo(stdout: 'file' | 'pipe', args: string[] = []): Promise<{code: number | null; stdout: string; stderr: string}> {
      return new Promise((resolve, reject) => {
        const outFile = path.join(dir, `out-${Math.random().toString(36).slice(2)}.txt`)
        void (async () => {
          const handle = stdout === 'file' ? await open(outFile, 'w') : null
          const child = spawn(process.execPath, [lignumBin, 'consume', '--data-dir', damagedDir, '--topic', 'orders', ...args], {stdio: ['ignore', handle ? handle.fd : 'pipe', 'pipe']})
          let stderr = ''
          let piped = ''
          child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
          // A slow reader: the pipe fills, so the writer must wait for it before exiting. The
          // listener goes on first: on exit, Node resumes (and empties) a child's stdout that has none.
          child.stdout?.on('data', (chunk: Buffer) => (piped += chunk.toString())).pause()
          setTimeout(() => child.stdout?.resume(), 500)
          child.on('error', reject)
          child.on('close', async (code) => {
            await handle?.close()
            resolve({code, stderr, stdout: handle ? await readFile(outFile, 'utf8') : piped})
          })
        })().catch(reject)
      })
    }

    for (const stdout of ['file', 'pipe'] as const) {
      it(`writes every one of them to a ${stdout}, then fails with the damage (exit 4)`, async () => {
        const result = await consumeTo(stdout)
        expect(result.code, result.stderr).to.equal(4)
        expect(result.stdout.length).to.equal(expected.length)
        expect(result.stdout === expected).to.equal(true)
        expect(result.stderr.trim().split('\n')).to.have.length(1)
        expect(result.stderr).to.match(/^Error: orders-0 is damaged: .* \(offset 11000\).*every intact record before offset 11000 was written/)
      })
    }

    it('exits 0 with --to before the damage', async () => {
      const result = await consumeTo('pipe', ['--to', '11000'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout === expected).to.equal(true)
      expect(result.stderr).to.equal('')
    })
  })
})

/** Overwrites the length of the batch starting at `offset` with an impossible one. */
async function flipLengthOfBatchAt(partitionDir: string, offset: number): Promise<void> {
  for (const name of (await readdir(partitionDir)).filter((entry) => entry.endsWith('.log')).sort()) {
    const file = path.join(partitionDir, name)
    const bytes = await readFile(file)
    for (const {position, header} of batchPositions(bytes)) {
      if (header.baseOffset !== offset) continue
      bytes.writeInt32BE(0x7fff_fff0, position + 8)
      await writeFile(file, bytes)
      return
    }
  }
  throw new Error(`no batch starts at offset ${offset}`)
}
