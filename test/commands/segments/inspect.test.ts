import {expect} from 'chai'
import {readdir, readFile, stat, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {runCli} from '../../helpers/cli.js'
import {buildDataDir, scratchDir} from '../../log/helpers.js'

async function listing(dir: string): Promise<string> {
  const lines: string[] = []
  for (const entry of (await readdir(dir, {recursive: true})).sort()) {
    const info = await stat(path.join(dir, entry))
    lines.push(`${entry} ${info.size} ${info.mtimeMs}`)
  }
  return lines.join('\n')
}

describe('lignum segments inspect (end to end)', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let dataDir: string

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
    dataDir = path.join(dir, 'data')
    await buildDataDir(dataDir)
  })
  afterEach(() => cleanup())

  it('lists partitions and segments as text', async () => {
    const result = await runCli(['segments', 'inspect', '--data-dir', dataDir])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(/^binary-0 {2}offsets 0 to 1 {2}2 records {2}1 segments/m)
    expect(result.stdout).to.match(/^orders-0 {2}offsets 0 to 19 {2}20 records/m)
    expect(result.stdout).to.include('BASE OFFSET')
    expect(result.stderr).to.equal('')
  })

  it('prints one JSON document with every segment\'s baseOffset and recordCount', async () => {
    const result = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--topic', 'orders', '--partition', '1', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    const document = JSON.parse(result.stdout)
    expect(document.partitions).to.have.length(1)
    const [partition] = document.partitions
    expect(partition).to.include({topic: 'orders', partition: 1, logStartOffset: 0, logEndOffset: 20, recordCount: 20})
    expect(partition.segments.length).to.be.greaterThan(1)
    let expectedBase = 0
    for (const segment of partition.segments) {
      expect(segment.baseOffset).to.equal(expectedBase)
      expect(segment.recordCount).to.equal(segment.lastOffset - segment.baseOffset + 1)
      expectedBase = segment.lastOffset + 1
    }
    expect(expectedBase).to.equal(20)
  })

  it('verifies a healthy directory with exit 0 and changes nothing', async () => {
    const before = await listing(dataDir)
    const result = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--verify'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.include('verify: no faults found')
    const json = JSON.parse((await runCli(['segments', 'inspect', '--data-dir', dataDir, '--verify', '--json'])).stdout)
    expect(json).to.include({verified: true})
    expect(json.faults).to.deep.equal([])
    expect(await listing(dataDir)).to.equal(before)
  })

  it('fails --verify on a flipped byte, naming the file, the position and the offset', async () => {
    const file = path.join(dataDir, 'orders-0', '00000000000000000000.log')
    const bytes = await readFile(file)
    const batchBytes = bytes.readInt32BE(8) + 12
    bytes[batchBytes * 2 + 70] ^= 0x10 // inside the third batch's records
    await writeFile(file, bytes)
    const before = await listing(dataDir)
    const result = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--verify'])
    expect(result.code).to.equal(4)
    const errorLines = result.stderr.trim().split('\n')
    expect(errorLines).to.have.length(1)
    expect(errorLines[0]).to.include(file).and.include(`position ${batchBytes * 2}`).and.include('offset 2').and.include('CRC')
    const json = JSON.parse((await runCli(['segments', 'inspect', '--data-dir', dataDir, '--verify', '--json'])).stdout)
    expect(json.verified).to.equal(false)
    expect(json.faults).to.deep.equal([{file, position: batchBytes * 2, offset: 2, reason: 'batch at offset 2 fails its CRC-32C check'}])
    expect(await listing(dataDir)).to.equal(before)
  })

  it('fails --verify on an index entry that points nowhere', async () => {
    const file = path.join(dataDir, 'orders-0', '00000000000000000000.index')
    const bytes = await readFile(file)
    expect(bytes.length).to.be.greaterThan(0)
    bytes.writeInt32BE(bytes.readInt32BE(4) + 1, 4)
    await writeFile(file, bytes)
    const result = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--verify'])
    expect(result.code).to.equal(4)
    expect(result.stderr).to.include(file).and.include('where no whole batch starts')
  })

  it('dumps batch headers, and records with binary shown safely', async () => {
    const result = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--topic', 'binary', '--dump', '--records'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(/baseOffset: 0 lastOffset: 1 count: 2 .* position: 0 CreateTime: 1700000000000 .* size: \d+ magic: 2 compresscodec: none crc: \d+ isvalid: true/)
    expect(result.stdout).to.include('| offset: 0 timestamp: 1700000000000 keySize: 2 valueSize: 2 headers: [bin=base64:ww==] key: base64:/wA= payload: base64:/gE=')
    expect(result.stdout).to.include('| offset: 1 timestamp: 1700000000000 keySize: -1 valueSize: -1 headers: [] key: null payload: null')
    const json = JSON.parse((await runCli(['segments', 'inspect', '--data-dir', dataDir, '--topic', 'binary', '--dump', '--records', '--json'])).stdout)
    const [batch] = json.partitions[0].segments[0].batches
    expect(batch).to.include({baseOffset: 0, lastOffset: 1, count: 2, position: 0, magic: 2, compression: 'none', crcValid: true})
    expect(batch.records[0]).to.deep.equal({offset: 0, timestamp: 1700000000000, key: '/wA=', keyEncoding: 'base64', value: '/gE=', valueEncoding: 'base64', headers: [{key: 'bin', value: 'ww==', valueEncoding: 'base64'}]})
  })

  it('refuses a missing or non-Lignum --data-dir with one line and exit 4, creating nothing', async () => {
    for (const target of [path.join(dir, 'nope'), dir + '/data/orders-0/00000000000000000000.log', path.join(dataDir, 'orders-0')]) {
      const result = await runCli(['segments', 'inspect', '--data-dir', target])
      expect(result.code, target).to.equal(4)
      expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1)
      expect(result.stderr).to.match(/^Error: .*(does not exist|is not a directory|holds no partition directories)/)
    }
    expect(await readdir(dir)).to.deep.equal(['data'])
  })

  it('refuses a bad topic name and an unknown topic', async () => {
    const bad = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--topic', '../etc'])
    expect(bad.code).to.equal(2)
    expect(bad.stderr).to.match(/^Error: topic name "\.\.\/etc" has characters outside/)
    const unknown = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--topic', 'missing'])
    expect(unknown.code).to.equal(3)
    expect(unknown.stderr).to.match(/holds no partition matching missing; run without --topic\/--partition to list what it holds$/m)
  })
})
