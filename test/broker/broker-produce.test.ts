/** What the broker decides about a produce: acks, per-partition answers, internal topics, limits, and what it refuses at start. */
import {expect} from 'chai'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Broker, type BrokerConfig} from '../../src/broker/broker.js'
import {LignumError} from '../../src/errors.js'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {partitionForKey} from '../../src/format/partitioner.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {silentLogger} from '../../src/logger.js'
import {recordingLogger, settle} from '../helpers/manual-clock.js'

const config: BrokerConfig = {autoCreateTopics: true, defaultPartitions: 1, partitionsPerTopicMax: 64, batchBytesMax: 64 * 1024, logDefaults: {flushPolicy: 'never'}}

async function rejection(promise: Promise<unknown>): Promise<LignumError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught)
  expect(error, 'expected a LignumError').to.be.instanceOf(LignumError)
  return error as LignumError
}

function record(value: string, key: string | null = null) {
  return {key: key === null ? null : Buffer.from(key), value: Buffer.from(value)}
}

describe('broker produce', () => {
  let dataDir: string
  let broker: Broker
  let logger: ReturnType<typeof recordingLogger>
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-broker-produce-'))
    logger = recordingLogger()
    broker = await Broker.open(dataDir, config, logger)
  })
  afterEach(async () => {
    await broker.close()
  })

  describe('acks', () => {
    it('acks=0 answers before the append is done, and logs an append that fails', async () => {
      await broker.createTopic('fire')
      const answered = await broker.produce({topic: 'fire', partition: 0, records: [record('a')], acks: 0})
      expect(answered).to.deep.equal([])
      // Answered in the same turn as the append was issued: the log has not written it yet.
      expect(broker.describeTopic('fire').partitions[0].logEndOffset).to.equal(0)
      await broker.produce({topic: 'fire', partition: 0, records: [record('b')], acks: 1})
      expect(broker.describeTopic('fire').partitions[0].logEndOffset).to.equal(2)
      const corrupt = encodeRecordBatch([record('bad')])
      corrupt[corrupt.length - 1] ^= 1
      expect(await broker.produce({topic: 'fire', partition: 0, batches: corrupt, acks: 0})).to.deep.equal([])
      await settle()
      expect(logger.lines.filter((line) => line.level === 'warn').map((line) => line.message)).to.include('acks=0 produce failed')
      expect(broker.describeTopic('fire').partitions[0].logEndOffset).to.equal(2)
    })

    it('acks=0 still refuses a request that fails its checks', async () => {
      expect((await rejection(broker.produce({topic: 'fire', partition: -5, records: [record('a')], acks: 0}))).code).to.equal('INVALID_ARGUMENT')
    })

    it('acks=all refuses with NOT_ENOUGH_REPLICAS and appends nothing when the ISR is below its minimum; acks=1 appends', async () => {
      await broker.createTopic('few')
      const partition = broker.localPartition('few', 0)!
      partition.becomeLeader(1, {replicaId: 1, replicas: [1, 2, 3], isr: [1], minInsyncReplicas: 2})
      const [answer] = await broker.produce({topic: 'few', partition: 0, records: [record('a')], acks: 'all'})
      expect(answer.error?.code).to.equal('NOT_ENOUGH_REPLICAS')
      expect((await rejection(broker.produce({topic: 'few', partition: 0, batches: encodeRecordBatch([record('b')]), acks: 'all'}))).code).to.equal('NOT_ENOUGH_REPLICAS')
      expect(broker.describeTopic('few').partitions[0].logEndOffset).to.equal(0)
      const [written] = await broker.produce({topic: 'few', partition: 0, records: [record('c')], acks: 1})
      expect(written).to.deep.include({baseOffset: 0, lastOffset: 0})
      expect(broker.describeTopic('few').partitions[0].logEndOffset).to.equal(1)
    })

    it('acks=1 and acks=all answer with the offsets once appended (alone, the high watermark is the log end)', async () => {
      expect(await broker.produce({topic: 'acked', partition: 0, records: [record('a')], acks: 1})).to.deep.equal([{topic: 'acked', partition: 0, baseOffset: 0, lastOffset: 0}])
      expect(await broker.produce({topic: 'acked', partition: 0, records: [record('b')], acks: 'all', timeoutMs: 50})).to.deep.equal([{topic: 'acked', partition: 0, baseOffset: 1, lastOffset: 1}])
      expect(broker.describeTopic('acked').partitions[0].highWatermark).to.equal(2)
    })

    it('refuses a timeout that is not a whole number of milliseconds', async () => {
      expect((await rejection(broker.produce({topic: 'acked', partition: 0, records: [record('a')], acks: 'all', timeoutMs: -1}))).message).to.match(/timeoutMs -1/)
    })
  })

  it('answers each partition for itself: one failing does not hide the others\' offsets', async () => {
    await broker.createTopic('split', {partitions: 2})
    const keys = ['a', 'b', 'c', 'd', 'e'].filter((key, _, all) => all.findIndex((other) => partitionForKey(Buffer.from(other), 2) === partitionForKey(Buffer.from(key), 2)) === all.indexOf(key))
    expect(keys.length, 'two keys on different partitions').to.equal(2)
    const [small, large] = keys
    // One partition refuses (it follows another node now); the other takes its record.
    broker.localPartition('split', partitionForKey(Buffer.from(large), 2))!.becomeFollower(1)
    const results = await broker.produce({topic: 'split', partition: -1, records: [record('fits', small), record('refused', large)], acks: 'all'})
    const byPartition = new Map(results.map((result) => [result.partition, result]))
    const ok = byPartition.get(partitionForKey(Buffer.from(small), 2))
    const failed = byPartition.get(partitionForKey(Buffer.from(large), 2))
    expect(ok).to.include({baseOffset: 0, lastOffset: 0})
    expect(ok?.error).to.equal(undefined)
    expect(failed?.error?.code).to.equal('NOT_LEADER')
    expect(failed).to.include({baseOffset: -1, lastOffset: -1})
  })

  it('refuses a negative partition other than -1', async () => {
    const error = await rejection(broker.produce({topic: 'parts', partition: -5, records: [record('a')], acks: 'all'}))
    expect(error.code).to.equal('INVALID_ARGUMENT')
    expect(error.message).to.match(/partition -5 is not a partition: give one from 0, or -1/)
    expect(broker.listTopics().map((topic) => topic.name)).to.not.include('parts')
  })

  it('in cluster mode reopens kept partitions as followers until assigned: no write as a lone leader', async () => {
    await broker.produce({topic: 'kept', partition: 0, records: [record('a')], acks: 1})
    await broker.close()
    broker = await Broker.open(dataDir, {...config, partitionsFollowUntilAssigned: true}, logger)
    const [result] = await broker.produce({topic: 'kept', partition: 0, records: [record('b')], acks: 1})
    expect(result.error?.code).to.equal('NOT_LEADER')
    expect(broker.describeTopic('kept').partitions[0].logEndOffset).to.equal(1)
  })

  it('in cluster mode makes no local offsets topic: the cluster replicates it, and the broker\'s own offsets are not used', async () => {
    const clusterBroker = await Broker.open(await mkdtemp(path.join(os.tmpdir(), 'lignum-cluster-broker-')), {...config, partitionsFollowUntilAssigned: true}, logger)
    try {
      expect(clusterBroker.listTopics(true).map((topic) => topic.name)).to.deep.equal([])
      expect(clusterBroker.localPartition('__consumer_offsets', 0)).to.equal(undefined)
      expect(() => clusterBroker.fetchOffsets('g')).to.throw(/group coordinator/)
    } finally {
      await clusterBroker.close()
    }
  })

  describe('internal topics', () => {
    it('refuses a client\'s produce to __consumer_offsets, naming the supported command', async () => {
      const error = await rejection(broker.produce({topic: '__consumer_offsets', partition: -1, records: [record('x', 'boom')], acks: 'all'}))
      expect(error.code).to.equal('PERMISSION_DENIED')
      expect(error.grpcStatus).to.equal(7)
      expect(error.message).to.match(/belong to the node$/)
      expect(error.hint).to.match(/lignum groups.*lignum consume --group/)
      expect(broker.describeTopic('__consumer_offsets').partitions[0].logEndOffset).to.equal(0)
      expect((await rejection(broker.produce({topic: '__mine', partition: 0, records: [record('x')], acks: 1}))).code).to.equal('PERMISSION_DENIED')
    })

    it('refuses to delete an internal topic', async () => {
      expect((await rejection(broker.deleteTopic('__consumer_offsets'))).code).to.equal('PERMISSION_DENIED')
    })

    it('starts on an offsets log holding records it cannot parse: skips and logs them, keeps the rest', async () => {
      await broker.produce({topic: 'read', partition: 0, records: [record('a')], acks: 'all'})
      await broker.commitOffsets('g', [{topic: 'read', partition: 0, offset: 1, metadata: ''}])
      await broker.close()
      // Written straight into the segment, as a produce used to be able to.
      const log = await PartitionLog.open(path.join(dataDir, '__consumer_offsets-0'), {flushPolicy: 'never'}, {logger: silentLogger})
      await log.append(encodeRecordBatch([record('x', 'boom'), {key: Buffer.from('["g","read",0]'), value: Buffer.from('{"offset":"nope"}')}, {key: null, value: null}]))
      await log.close()
      logger = recordingLogger()
      broker = await Broker.open(dataDir, config, logger)
      expect(broker.fetchOffsets('g')).to.deep.equal([{topic: 'read', partition: 0, offset: 1, metadata: ''}])
      const warnings = logger.lines.filter((line) => line.level === 'warn')
      expect(warnings.filter((line) => line.message === 'skipping a consumer group offset record that does not parse')).to.have.length(3)
      expect(warnings.at(-1)?.fields).to.deep.include({skippedRecords: 3})
    })
  })

  describe('topic limit', () => {
    it('refuses to create or auto-create a topic past topicsMax, internal topics aside', async () => {
      await broker.close()
      broker = await Broker.open(dataDir, {...config, topicsMax: 2}, logger)
      await broker.createTopic('one')
      await broker.produce({topic: 'two', partition: -1, records: [record('a')], acks: 'all'})
      const refused = await rejection(broker.produce({topic: 'three', partition: -1, records: [record('a')], acks: 'all'}))
      expect(refused.message).to.match(/cannot create topic "three": this node already has 2 topics, its limit \(topicsMax 2\)/)
      expect((await rejection(broker.createTopic('three'))).message).to.match(/topicsMax 2/)
      await broker.deleteTopic('one')
      await broker.createTopic('three')
    })

    it('counts topics being created at once against the limit', async () => {
      await broker.close()
      broker = await Broker.open(dataDir, {...config, topicsMax: 3}, logger)
      const outcomes = await Promise.allSettled(Array.from({length: 5}, (_, index) => broker.produce({topic: `flood-${index}`, partition: -1, records: [record('a')], acks: 'all'})))
      expect(outcomes.map((outcome) => outcome.status)).to.deep.equal(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected'])
      expect(broker.listTopics()).to.have.length(3)
    })
  })

  describe('topics.json', () => {
    async function reopenWith(mutate: (document: {topics: Record<string, unknown>[]}) => void): Promise<LignumError> {
      await broker.createTopic('stored')
      await broker.close()
      const file = path.join(dataDir, 'topics.json')
      const document = JSON.parse(await readFile(file, 'utf8')) as {topics: Record<string, unknown>[]}
      mutate(document)
      await writeFile(file, JSON.stringify(document))
      const error = await rejection(Broker.open(dataDir, config, logger))
      broker = await Broker.open(await mkdtemp(path.join(os.tmpdir(), 'lignum-broker-produce-')), config, logger)
      return error
    }

    it('refuses at start a file whose settings are null, naming the file and field', async () => {
      const error = await reopenWith((document) => {
        document.topics.find((topic) => topic.name === 'stored')!.settings = null
      })
      expect(error.code).to.equal('DATA_DIR')
      expect(error.message).to.contain(path.join(dataDir, 'topics.json'))
      expect(error.message).to.match(/topics\[\d\]\.settings is null, expected an object/)
    })

    it('refuses a wrong type inside settings', async () => {
      const retention = await reopenWith((document) => {
        document.topics.find((topic) => topic.name === 'stored')!.settings = {retentionMs: 'forever'}
      })
      expect(retention.message).to.match(/\.settings\.retentionMs is "forever", expected a whole number, or -1 for no limit/)
    })

    it('refuses a partition count that is not a number', async () => {
      const partitions = await reopenWith((document) => {
        document.topics.find((topic) => topic.name === 'stored')!.partitions = '3'
      })
      expect(partitions.message).to.match(/\.partitions is "3", expected a whole number from 1/)
    })

    it('refuses a name that would leave the data directory', async () => {
      const name = await reopenWith((document) => {
        document.topics.find((topic) => topic.name === 'stored')!.name = '../escape'
      })
      expect(name.message).to.match(/\.name is "\.\.\/escape", expected a topic name/)
    })
  })
})
