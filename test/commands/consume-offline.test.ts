import {expect} from 'chai'
import {readdir, readFile, stat, truncate, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {spawn} from 'node:child_process'
import {lignumBin, runCli} from '../helpers/cli.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {encodeRecordBatch} from '../../src/log/record-batch.js'
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
      [['--topic', 'orders', '-p', '0', '--from', '21'], 3, /--from 21 is out of range for orders-0, which holds offsets 0 to 19/],
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

  it('returns the whole batches before a torn tail and warns on stderr', async () => {
    const torn = path.join(dir, 'torn')
    await buildDataDir(torn, 3)
    const file = path.join(torn, 'orders-0', '00000000000000000000.log')
    await truncate(file, (await stat(file)).size - 5)
    const result = await runCli(['consume', '--data-dir', torn, '--topic', 'orders', '-p', '0'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('p0-0\np0-1\n')
    expect(result.stderr).to.match(/^Warning: .*00000000000000000000\.log: stopped at position \d+ \(offset 2\)/)
    expect((await stat(file)).size).to.be.greaterThan(0)
  })

  it('fails loudly on damage in a segment that later segments follow, never serving it', async () => {
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
    expect(result.stdout).to.not.match(/^1$/m)
    expect(result.stderr.trim().split('\n')).to.have.length(1)
    expect(result.stderr).to.match(/^Error: .*(CRC-32C|damaged)/)
  })
})
