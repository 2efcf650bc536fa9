import {expect} from 'chai'
import {mkdtemp, readdir} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Broker, type BrokerConfig} from '../../src/broker/broker.js'
import {partitionForKey} from '../../src/format/partitioner.js'
import {errorLine, LignumError} from '../../src/errors.js'
import {batchPositions, decodeRecordBatch, encodeRecordBatch} from '../../src/format/record-batch.js'
import {silentLogger} from '../../src/logger.js'

const config: BrokerConfig = {autoCreateTopics: true, defaultPartitions: 1, partitionsPerTopicMax: 64, batchBytesMax: 64 * 1024, logDefaults: {flushPolicy: 'never'}}

function values(batches: Buffer, fromOffset = 0): string[] {
  const out: string[] = []
  for (const {position} of batchPositions(batches)) {
    for (const record of decodeRecordBatch(batches, position).records) if (record.offset >= fromOffset) out.push(record.value?.toString() ?? 'null')
  }
  return out
}

async function expectError(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught)
  expect(error, 'expected an error').to.be.instanceOf(LignumError)
  expect((error as LignumError).code).to.equal(code)
  expect(errorLine(error as LignumError)).to.match(message)
}

describe('broker', () => {
  let dataDir: string
  let broker: Broker
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-broker-'))
    broker = await Broker.open(dataDir, config, silentLogger)
  })
  afterEach(async () => {
    await broker.close()
  })

  it('creates a topic on first produce and serves dense offsets', async () => {
    const first = await broker.produce({topic: 'orders', partition: -1, records: [{key: null, value: Buffer.from('a')}, {key: null, value: Buffer.from('b')}], acks: 'all'})
    const second = await broker.produce({topic: 'orders', partition: 0, batches: encodeRecordBatch([{key: null, value: Buffer.from('c')}]), acks: 1})
    expect(first).to.deep.equal([{topic: 'orders', partition: 0, baseOffset: 0, lastOffset: 1}])
    expect(second).to.deep.equal([{topic: 'orders', partition: 0, baseOffset: 2, lastOffset: 2}])
    const fetched = await broker.fetch('orders', 0, 1, {maxBytes: 1 << 20, maxWaitMs: 0})
    expect(values(fetched.batches, 1)).to.deep.equal(['b', 'c'])
    expect(fetched.highWatermark).to.equal(3)
    expect(fetched.nextOffset).to.equal(3)
  })

  it('routes keyed records to Kafka\'s murmur2 partition', async () => {
    await broker.createTopic('keyed', {partitions: 5})
    const keys = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']
    const results = await broker.produce({topic: 'keyed', partition: -1, records: keys.map((key) => ({key: Buffer.from(key), value: Buffer.from(key)})), acks: 'all'})
    for (const key of keys) {
      const partition = partitionForKey(Buffer.from(key), 5)
      const fetched = await broker.fetch('keyed', partition, 0, {maxBytes: 1 << 20, maxWaitMs: 0})
      expect(values(fetched.batches)).to.include(key)
    }
    expect(results.reduce((sum, result) => sum + result.lastOffset - result.baseOffset + 1, 0)).to.equal(keys.length)
  })

  it('refuses an oversized batch whole and stores nothing', async () => {
    await broker.produce({topic: 'big', partition: 0, records: [{key: null, value: Buffer.from('small')}], acks: 'all'})
    const huge = {key: null, value: Buffer.alloc(config.batchBytesMax + 1)}
    await expectError(broker.produce({topic: 'big', partition: -1, records: [{key: null, value: Buffer.from('x')}, huge], acks: 'all'}), 'RECORD_TOO_LARGE', /exceeds the limit of 65536 bytes/)
    expect(broker.describeTopic('big').partitions[0].logEndOffset).to.equal(1)
  })

  it('checks a produce to a missing topic before auto-creating it: a refused one leaves no topic behind', async () => {
    const huge = {key: null, value: Buffer.alloc(config.batchBytesMax + 1)}
    await expectError(broker.produce({topic: 'never-made', partition: -1, records: [huge], acks: 'all'}), 'RECORD_TOO_LARGE', /exceeds the limit/)
    await expectError(broker.produce({topic: 'never-made', partition: -1, batches: encodeRecordBatch([huge]), acks: 'all'}), 'RECORD_TOO_LARGE', /exceeds the limit/)
    const corrupt = encodeRecordBatch([{key: null, value: Buffer.from('flipped')}])
    corrupt[corrupt.length - 1] ^= 0xff
    await expectError(broker.produce({topic: 'never-made', partition: -1, batches: corrupt, acks: 'all'}), 'CORRUPT_RECORD', /CRC/)
    expect(broker.listTopics().map((topic) => topic.name)).to.not.include('never-made')
    expect(await readdir(dataDir)).to.not.include('never-made-0')
  })

  it('refuses bad topic names without touching the data directory', async () => {
    const before = await readdir(dataDir)
    await expectError(broker.produce({topic: '../x', partition: -1, records: [{key: null, value: Buffer.from('x')}], acks: 'all'}), 'INVALID_TOPIC', /\.\.\/x/)
    await expectError(broker.produce({topic: 'a'.repeat(300), partition: -1, records: [{key: null, value: Buffer.from('x')}], acks: 'all'}), 'INVALID_TOPIC', /249/)
    await expectError(broker.createTopic('__mine'), 'INVALID_TOPIC', /reserved/)
    expect(await readdir(dataDir)).to.deep.equal(before)
  })

  it('answers an unknown topic when auto-creation is off', async () => {
    await broker.close()
    broker = await Broker.open(dataDir, {...config, autoCreateTopics: false}, silentLogger)
    await expectError(broker.produce({topic: 'nope', partition: -1, records: [{key: null, value: Buffer.from('x')}], acks: 'all'}), 'UNKNOWN_TOPIC', /lignum topics create nope/)
  })

  it('keeps topics, data and group offsets across a restart', async () => {
    await broker.createTopic('kept', {partitions: 3, settings: {retentionMs: -1}})
    await broker.produce({topic: 'kept', partition: 2, records: [{key: null, value: Buffer.from('v')}], acks: 'all'})
    await broker.commitOffsets('g1', [{topic: 'kept', partition: 2, offset: 1, metadata: ''}])
    await broker.close()
    broker = await Broker.open(dataDir, config, silentLogger)
    const topic = broker.describeTopic('kept')
    expect(topic.partitions.map((partition) => partition.logEndOffset)).to.deep.equal([0, 0, 1])
    expect(topic.settings).to.deep.equal({retentionMs: -1})
    expect(broker.fetchOffsets('g1')).to.deep.equal([{topic: 'kept', partition: 2, offset: 1, metadata: ''}])
    expect(broker.listTopics().map((entry) => entry.name)).to.deep.equal(['kept'])
  })

  it('creates many topics at once, and all of them are there after a restart', async () => {
    const names = Array.from({length: 8}, (_, index) => `at-once-${index}`)
    await Promise.all(names.map((name) => broker.produce({topic: name, partition: -1, records: [{key: null, value: Buffer.from('v')}], acks: 'all'})))
    await broker.close()
    broker = await Broker.open(dataDir, config, silentLogger)
    expect(broker.listTopics().map((entry) => entry.name)).to.deep.equal(names)
  })

  it('deletes a topic and its files', async () => {
    await broker.produce({topic: 'gone', partition: -1, records: [{key: null, value: Buffer.from('x')}], acks: 'all'})
    await broker.deleteTopic('gone')
    expect(await readdir(dataDir)).to.not.include('gone-0')
    await expectError(broker.fetch('gone', 0, 0, {maxBytes: 100, maxWaitMs: 0}), 'UNKNOWN_TOPIC', /does not exist/)
  })

  it('wakes a long-polling fetch when a record arrives', async () => {
    await broker.createTopic('live')
    const startedMs = Date.now()
    const fetching = broker.fetch('live', 0, 0, {maxBytes: 1 << 20, maxWaitMs: 10_000})
    await broker.produce({topic: 'live', partition: 0, records: [{key: null, value: Buffer.from('now')}], acks: 'all'})
    expect(values((await fetching).batches)).to.deep.equal(['now'])
    // Woken by the append, not by the end of its 10 s wait.
    expect(Date.now() - startedMs).to.be.lessThan(2000)
  })

  it('refuses offsets outside the log', async () => {
    await broker.produce({topic: 'range', partition: 0, records: [{key: null, value: Buffer.from('x')}], acks: 'all'})
    await expectError(broker.fetch('range', 0, 5, {maxBytes: 100, maxWaitMs: 0}), 'OFFSET_OUT_OF_RANGE', /holds offsets 0 to 0/)
    await expectError(broker.fetch('range', 3, 0, {maxBytes: 100, maxWaitMs: 0}), 'NOT_FOUND', /no partition 3/)
  })

  it('appends a producer\'s resent batch once and answers with its first offsets, also after a restart', async () => {
    const batch = (values: string[], baseSequence: number) => encodeRecordBatch(values.map((value) => ({key: null, value: Buffer.from(value)})), {producerId: 4242, producerEpoch: 0, baseSequence})
    const first = await broker.produce({topic: 'idem', partition: 0, batches: batch(['a', 'b'], 0), acks: 'all'})
    const [retried, overtaking] = await Promise.all([
      broker.produce({topic: 'idem', partition: 0, batches: batch(['a', 'b'], 0), acks: 'all'}),
      broker.produce({topic: 'idem', partition: 0, batches: batch(['c'], 2), acks: 'all'}),
    ])
    expect(retried).to.deep.equal(first)
    expect(overtaking[0]).to.include({baseOffset: 2, lastOffset: 2})
    // Two copies of a new batch in flight at once still append once.
    const [copy1, copy2] = await Promise.all([
      broker.produce({topic: 'idem', partition: 0, batches: batch(['d'], 3), acks: 'all'}),
      broker.produce({topic: 'idem', partition: 0, batches: batch(['d'], 3), acks: 'all'}),
    ])
    expect(copy1).to.deep.equal(copy2)
    await broker.close()
    broker = await Broker.open(dataDir, config, silentLogger)
    const afterRestart = await broker.produce({topic: 'idem', partition: 0, batches: batch(['c'], 2), acks: 'all'})
    expect(afterRestart[0]).to.include({baseOffset: 2, lastOffset: 2})
    const fetched = await broker.fetch('idem', 0, 0, {maxBytes: 1 << 20, maxWaitMs: 0})
    expect(values(fetched.batches)).to.deep.equal(['a', 'b', 'c', 'd'])
  })
})
