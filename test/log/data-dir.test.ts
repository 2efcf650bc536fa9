import {expect} from 'chai'
import {mkdir, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {listPartitions} from '../../src/log/data-dir.js'
import {scratchDir} from './helpers.js'

describe('data directory', () => {
  let dir: string
  let cleanup: () => Promise<void>
  beforeEach(async () => ({dir, cleanup} = await scratchDir()))
  afterEach(() => cleanup())

  it('lists partition directories sorted by topic and partition, ignoring the rest', async () => {
    for (const name of ['b-0', 'a-10', 'a-2', 'not a partition', 'stray']) await mkdir(path.join(dir, name))
    await writeFile(path.join(dir, 'c-0'), 'a file, not a directory')
    const partitions = await listPartitions(dir)
    expect(partitions.map((entry) => `${entry.topic}/${entry.partition}`)).to.deep.equal(['a/2', 'a/10', 'b/0'])
    expect(partitions[0].dir).to.equal(path.join(dir, 'a-2'))
  })

  it('refuses a missing path, a file, and a directory with no Lignum data (DATA_DIR)', async () => {
    await writeFile(path.join(dir, 'file'), '')
    for (const [target, pattern] of [[path.join(dir, 'missing'), /does not exist/], [path.join(dir, 'file'), /is not a directory/], [dir, /holds no partition directories/]] as const) {
      const error = await listPartitions(target).catch((caught: Error) => caught)
      expect(error).to.have.property('code', 'DATA_DIR')
      expect((error as Error).message).to.match(pattern)
    }
    expect(await listPartitions(dir, {allowEmpty: true})).to.deep.equal([])
  })
})
