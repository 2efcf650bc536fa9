import {expect} from 'chai'
import {readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../../src/errors.js'
import {LeaderEpochCheckpoint} from '../../src/log/leader-epoch-checkpoint.js'
import {scratchDir} from './helpers.js'

describe('leader epoch checkpoint', () => {
  let dir: string
  let cleanup: () => Promise<void>
  beforeEach(async () => ({dir, cleanup} = await scratchDir()))
  afterEach(() => cleanup())

  it('writes Kafka text format and reads it back', async () => {
    const checkpoint = await LeaderEpochCheckpoint.load(dir, () => 50, false)
    expect(checkpoint.latestEpoch()).to.equal(-1)
    await checkpoint.assign(0, 0)
    await checkpoint.assign(3, 20)
    await checkpoint.assign(3, 25) // already known: no-op
    expect(await readFile(path.join(dir, 'leader-epoch-checkpoint'), 'utf8')).to.equal('0\n2\n0 0\n3 20\n')
    const reloaded = await LeaderEpochCheckpoint.load(dir, () => 50, false)
    expect(reloaded.entries()).to.deep.equal([{epoch: 0, startOffset: 0}, {epoch: 3, startOffset: 20}])
    expect(reloaded.latestEpoch()).to.equal(3)
  })

  it('answers end offsets per epoch as OffsetsForLeaderEpoch does', async () => {
    const checkpoint = await LeaderEpochCheckpoint.load(dir, () => 50, false)
    await checkpoint.assign(1, 0)
    await checkpoint.assign(3, 20)
    expect(checkpoint.endOffsetFor(0)).to.deep.equal({epoch: -1, endOffset: -1})
    expect(checkpoint.endOffsetFor(1)).to.deep.equal({epoch: 1, endOffset: 20})
    expect(checkpoint.endOffsetFor(2)).to.deep.equal({epoch: 1, endOffset: 20})
    expect(checkpoint.endOffsetFor(3)).to.deep.equal({epoch: 3, endOffset: 50})
    expect(checkpoint.endOffsetFor(9)).to.deep.equal({epoch: 3, endOffset: 50})
  })

  it('forgets epochs from a truncation point, and a new epoch replaces uncommitted later ones', async () => {
    const checkpoint = await LeaderEpochCheckpoint.load(dir, () => 50, false)
    await checkpoint.assign(1, 0)
    await checkpoint.assign(2, 10)
    await checkpoint.truncateFromEnd(10)
    expect(checkpoint.entries()).to.deep.equal([{epoch: 1, startOffset: 0}])
    await checkpoint.assign(2, 10)
    await checkpoint.assign(4, 5)
    expect(checkpoint.entries()).to.deep.equal([{epoch: 1, startOffset: 0}, {epoch: 4, startOffset: 5}])
  })

  it('refuses a damaged file with a message naming it', async () => {
    await writeFile(path.join(dir, 'leader-epoch-checkpoint'), '0\n2\n1 0\n')
    const error = await LeaderEpochCheckpoint.load(dir, () => 0, true).catch((caught: LignumError) => caught)
    expect(error).to.be.instanceOf(LignumError).with.property('code', 'CORRUPT_RECORD')
    expect((error as Error).message).to.include('leader-epoch-checkpoint')
  })

  it('never writes when read-only', async () => {
    const checkpoint = await LeaderEpochCheckpoint.load(dir, () => 0, true)
    await checkpoint.assign(1, 0)
    expect(await readFile(path.join(dir, 'leader-epoch-checkpoint')).catch(() => null)).to.equal(null)
  })
})
