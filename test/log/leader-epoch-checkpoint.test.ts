import {expect} from 'chai'
import {readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {LeaderEpochCheckpoint} from '../../src/log/leader-epoch-checkpoint.js'
import {memoryLogger, scratchDir} from './helpers.js'

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

  it('says why a damaged file does not parse, and starts empty for a rebuild', async () => {
    await writeFile(path.join(dir, 'leader-epoch-checkpoint'), '0\n2\n1 0\n')
    const checkpoint = await LeaderEpochCheckpoint.load(dir, () => 0, true)
    expect(checkpoint.damaged).to.include('leader-epoch-checkpoint').and.include('entry count')
    expect(checkpoint.entries()).to.deep.equal([])
  })

  it('rebuilds a damaged file from the batches of the log when the partition opens', async () => {
    const partitionDir = path.join(dir, 'epochs-0')
    const written = await PartitionLog.open(partitionDir, {flushPolicy: 'never'})
    await written.append(encodeRecordBatch([{key: null, value: Buffer.from('a')}, {key: null, value: Buffer.from('b')}]), {leaderEpoch: 0})
    await written.append(encodeRecordBatch([{key: null, value: Buffer.from('c')}]), {leaderEpoch: 3})
    await written.append(encodeRecordBatch([{key: null, value: Buffer.from('d')}]), {leaderEpoch: 3})
    await written.close()
    const file = path.join(partitionDir, 'leader-epoch-checkpoint')
    expect(await readFile(file, 'utf8')).to.equal('0\n2\n0 0\n3 2\n')
    await writeFile(file, 'garbage')
    const logger = memoryLogger()
    const reopened = await PartitionLog.open(partitionDir, {flushPolicy: 'never'}, {logger})
    expect(reopened.epochEntries()).to.deep.equal([{epoch: 0, startOffset: 0}, {epoch: 3, startOffset: 2}])
    expect(reopened.endOffsetFor(0)).to.deep.equal({epoch: 0, endOffset: 2})
    await reopened.close()
    expect(await readFile(file, 'utf8')).to.equal('0\n2\n0 0\n3 2\n')
    expect(logger.lines.map((line) => line.message)).to.include('rebuilding a damaged leader-epoch checkpoint from the batches')
  })

  it('never writes when read-only', async () => {
    const checkpoint = await LeaderEpochCheckpoint.load(dir, () => 0, true)
    await checkpoint.assign(1, 0)
    expect(await readFile(path.join(dir, 'leader-epoch-checkpoint')).catch(() => null)).to.equal(null)
  })
})
