import {expect} from 'chai'
import {readdir, readFile, stat, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {runCli} from '../../helpers/cli.js'
import {runOnTerminal} from '../../helpers/terminal.js'
import {buildDataDir, scratchDir} from '../../log/helpers.js'

async function listing(dir: string): Promise<string> {
  const lines: string[] = []
  for (const entry of (await readdir(dir, {recursive: true})).sort()) {
    const info = await stat(path.join(dir, entry))
    lines.push(`${entry} ${info.size} ${info.mtimeMs}`)
  }
  return lines.join('\n')
}

describe('lignum segments repair (end to end)', function () {
  this.timeout(60_000)
  let dir: string
  let cleanup: () => Promise<void>
  let dataDir: string
  let damagedSegment: string

  /** orders-0 with 20 records in small segments; the length of the first batch of its second segment flipped. */
  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
    dataDir = path.join(dir, 'data')
    await buildDataDir(dataDir)
    const names = (await readdir(path.join(dataDir, 'orders-0'))).filter((name) => name.endsWith('.log')).sort()
    damagedSegment = path.join(dataDir, 'orders-0', names[1])
    const bytes = await readFile(damagedSegment)
    bytes.writeInt32BE(0x7fff_0000, 8)
    await writeFile(damagedSegment, bytes)
  })
  afterEach(() => cleanup())

  it('without a terminal and without --yes refuses with one line, changing nothing', async () => {
    const before = await listing(dataDir)
    const result = await runCli(['segments', 'repair', '--data-dir', dataDir, '-t', 'orders', '-p', '0'])
    expect(result.code).to.equal(2)
    expect(result.stdout).to.equal('')
    expect(result.stderr.trim().split('\n')).to.have.length(1)
    expect(result.stderr).to.match(/^Error: segments repair moves data out of the log and asks first, but stdin is not a terminal: add --yes to repair, or --dry-run/)
    expect(await listing(dataDir)).to.equal(before)
  })

  it('--dry-run prints exactly what would leave the log and changes nothing', async () => {
    const before = await listing(dataDir)
    const result = await runCli(['segments', 'repair', '--data-dir', dataDir, '-t', 'orders', '-p', '0', '--dry-run'])
    expect(result.code, result.stderr).to.equal(0)
    const base = Number(path.basename(damagedSegment, '.log'))
    expect(result.stdout).to.include(`orders-0 is damaged (damaged-batch): ${damagedSegment} at position 0 (offset ${base})`)
    expect(result.stdout).to.match(new RegExp(`The repair keeps offsets 0 to ${base - 1} \\(${base} records\\) in \\d+ segments, and moves out of the log into .*orders-0\\.damaged`))
    expect(result.stdout).to.match(/FILE\s+BYTES\s+BATCHES\s+RECORDS\s+OFFSETS\s+WHAT/)
    expect(result.stdout).to.match(/^In all \d+ bytes, 0 batches and 0 records leave the log; offsets from \d+ on are lost/m)
    expect(result.stdout).to.include(`the next record appended gets offset ${base}`)
    expect(await listing(dataDir)).to.equal(before)
  })

  it('--yes --json repairs, prints the plan as one document, and a second run finds nothing to do', async () => {
    const result = await runCli(['segments', 'repair', '--data-dir', dataDir, '-t', 'orders', '-p', '0', '--yes', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    const document = JSON.parse(result.stdout)
    const base = Number(path.basename(damagedSegment, '.log'))
    expect(document).to.include({repaired: true, dryRun: false, topic: 'orders', partition: 0})
    expect(document.damage).to.include({kind: 'damaged-batch', file: damagedSegment, position: 0, offset: base})
    expect(document.keep).to.deep.equal({logStartOffset: 0, logEndOffset: base, records: base, segments: 2})
    expect(document.totals.bytes).to.be.greaterThan(0)
    expect(document.drops[0]).to.include({file: damagedSegment, fromPosition: 0, whole: false})
    expect((await readdir(document.quarantineDir)).sort()).to.deep.equal([`${path.basename(damagedSegment)}.cut-at-0`, 'REPAIR.json'])
    const consumed = await runCli(['consume', '--data-dir', dataDir, '-t', 'orders', '-p', '0'])
    expect(consumed.code, consumed.stderr).to.equal(0)
    expect(consumed.stdout.trim().split('\n')).to.have.length(base)
    const again = await runCli(['segments', 'repair', '--data-dir', dataDir, '-t', 'orders', '-p', '0', '--yes'])
    expect(again.code, again.stderr).to.equal(0)
    expect(again.stdout).to.match(/^orders-0 has no damage: .*nothing to repair\.$/m)
  })

  it('asks on a terminal: anything but y leaves the files as they were; y repairs', async () => {
    const before = await listing(dataDir)
    const declined = runOnTerminal(['segments', 'repair', '--data-dir', dataDir, '-t', 'orders', '-p', '0'])
    await declined.waitFor(/Repair it as above\? \(y\/N\)/)
    expect(declined.screen()).to.include('The repair keeps offsets 0 to')
    declined.type('n\r')
    expect(await declined.exited).to.equal(1)
    expect(declined.screen()).to.include('Nothing changed.')
    expect(await listing(dataDir)).to.equal(before)

    const accepted = runOnTerminal(['segments', 'repair', '--data-dir', dataDir, '-t', 'orders', '-p', '0'])
    await accepted.waitFor(/\(y\/N\)/)
    accepted.type('y\r')
    expect(await accepted.exited).to.equal(0)
    expect(accepted.screen()).to.match(/Repaired orders-0: its log now ends at offset \d+/)
  })
})
