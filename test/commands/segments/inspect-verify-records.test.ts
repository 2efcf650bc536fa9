import {expect} from 'chai'
import {appendFile} from 'node:fs/promises'
import path from 'node:path'
import {runCli} from '../../helpers/cli.js'
import {buildDataDir, scratchDir} from '../../log/helpers.js'
import {batchClaimingMaxRecords, batchWithDeltas, gzipBomb, rawBatch, rawRecord} from '../../helpers/raw-batches.js'

describe('lignum segments inspect --verify checks the records inside each batch', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let dataDir: string

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
    dataDir = path.join(dir, 'data')
    await buildDataDir(dataDir)
  })
  afterEach(() => cleanup())

  it('reports batches whose CRC holds but whose records lie, as the broker would refuse them, and exits 4', async () => {
    // orders-1 holds offsets 0..19; batches written straight into its last segment follow on.
    const partitionDir = path.join(dataDir, 'orders-1')
    const inspected = JSON.parse((await runCli(['segments', 'inspect', '--data-dir', dataDir, '--topic', 'orders', '--partition', '1', '--json'])).stdout)
    const last = inspected.partitions[0].segments.at(-1)
    const file = path.join(partitionDir, last.file.split('/').at(-1))
    const records = Buffer.concat([rawRecord({offsetDelta: 0}), rawRecord({offsetDelta: 1, timestampDelta: 9000})])
    const lies = [
      batchWithDeltas([0, 0, 0], {baseOffset: 20}),
      rawBatch(Buffer.from('these bytes are no records'), {timestampDeltaMax: 0, count: 1}, {baseOffset: 23}),
      rawBatch(records, {timestampDeltaMax: 9000, count: 2}, {baseOffset: 24, maxTimestamp: 1_700_000_000_000}),
      gzipBomb(256 * 1024 * 1024, {baseOffset: 26}),
      batchClaimingMaxRecords(),
    ]
    lies[4].writeBigInt64BE(27n, 0) // offsets stay dense: the claim is in the count, not the base
    await appendFile(file, Buffer.concat(lies))

    const result = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--verify'], {timeoutMs: 60_000})
    expect(result.code, result.stdout + result.stderr).to.equal(4)
    expect(result.stdout).to.not.include('no faults found')
    expect(result.stderr).to.include(file).and.include('offset 20').and.include('offset delta 0 in record 1')

    const json = JSON.parse((await runCli(['segments', 'inspect', '--data-dir', dataDir, '--verify', '--json'], {timeoutMs: 60_000})).stdout)
    expect(json.verified).to.equal(false)
    const reasons = (json.faults as {file: string; offset: number; reason: string}[]).map((fault) => [fault.offset, fault.reason])
    expect(reasons).to.have.length(5)
    expect(reasons[0]).to.deep.equal([20, 'batch at offset 20 has offset delta 0 in record 1; the deltas must be exactly 0 to 2 in order'])
    expect(reasons[1][0]).to.equal(23)
    expect(reasons[1][1]).to.match(/^batch at offset 23 has a malformed record 0/)
    expect(reasons[2]).to.deep.equal([24, 'batch at offset 24 has a record with timestamp 1700000009000, later than its maxTimestamp 1700000000000'])
    expect(reasons[3][0]).to.equal(26)
    expect(reasons[3][1]).to.match(/decompression bomb/)
    expect(reasons[4]).to.deep.equal([27, 'batch at offset 27 claims 2147483647 records, more than its 10 bytes of records can hold (a record takes at least 7)'])
    expect(json.faults.every((fault: {file: string}) => fault.file === file)).to.equal(true)
  })
})
