/**
 * Consumer-group offsets (broker/group-offsets.ts). Where a group's offsets live in cluster mode: Kafka's placement, abs(groupId.hashCode) %
 * partitions, so the choice never changes between nodes, restarts or versions.
 */
import {expect} from 'chai'
import {mkdtemp} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Broker, type BrokerConfig} from '../../src/broker/broker.js'
import {SESSION_TIMEOUT_MS_MIN} from '../../src/broker/consumer-group.js'
import {GROUP_OFFSETS_TOPIC, groupOffsetsPartitionOf, type CommittedOffset} from '../../src/broker/group-offsets.js'
import {errorLine, type LignumError} from '../../src/errors.js'
import {encodeSubscription} from '../../src/format/consumer-protocol.js'
import {batchPositions, decodeRecordBatch} from '../../src/format/record-batch.js'
import {silentLogger} from '../../src/logger.js'

describe('the offsets partition of a consumer group', () => {
  it('is abs(Java String.hashCode) modulo the partition count', () => {
    // Java: "hello".hashCode() == 99162322, "abc".hashCode() == 96354, "".hashCode() == 0.
    expect(groupOffsetsPartitionOf('hello', 50)).to.equal(99162322 % 50)
    expect(groupOffsetsPartitionOf('abc', 6)).to.equal(96354 % 6)
    expect(groupOffsetsPartitionOf('', 6)).to.equal(0)
    // Java: "Aa".hashCode() == "BB".hashCode() == 2112.
    expect(groupOffsetsPartitionOf('Aa', 7)).to.equal(groupOffsetsPartitionOf('BB', 7)).and.to.equal(2112 % 7)
  })

  it('wraps at 32 bits and maps a negative hash to its absolute value, Integer.MIN_VALUE to 0 (as Kafka\'s Utils.abs)', () => {
    // Java: "billing".hashCode() == -109829509.
    expect(groupOffsetsPartitionOf('billing', 1000)).to.equal(109829509 % 1000)
    // Java: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
    expect(groupOffsetsPartitionOf('polygenelubricants', 7)).to.equal(0)
  })

  it('is always a partition of the topic', () => {
    for (let index = 0; index < 1000; index++) {
      const partition = groupOffsetsPartitionOf(`group-${index}`, 6)
      expect(Number.isInteger(partition) && partition >= 0 && partition < 6).to.equal(true)
    }
  })
})

/**
 * A negative committed offset is a Kafka client's "no committed offset" (kafkajs commits -2 or
 * -1 after OFFSET_OUT_OF_RANGE): where the entry point allows it, it is a tombstone in the
 * offsets topic, so a fetch has nothing for the partition, also after a restart's replay.
 */
describe('committing a negative offset (Kafka\'s "no committed offset")', () => {
  const config: BrokerConfig = {autoCreateTopics: true, defaultPartitions: 1, partitionsPerTopicMax: 64, batchBytesMax: 64 * 1024, logDefaults: {flushPolicy: 'never'}}
  const at = (partition: number, offset: number): CommittedOffset => ({topic: 'orders', partition, offset, metadata: ''})
  let dataDir: string
  let broker: Broker

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-group-offsets-'))
    broker = await Broker.open(dataDir, config, silentLogger)
    await broker.createTopic('orders', {partitions: 3})
  })

  afterEach(async () => {
    await broker.close()
  })

  async function restart(): Promise<void> {
    await broker.close()
    broker = await Broker.open(dataDir, config, silentLogger)
  }

  /** The offsets topic's records as stored: key and value (null for a tombstone). */
  async function offsetRecords(): Promise<{key: unknown; value: unknown}[]> {
    const partition = broker.localPartition(GROUP_OFFSETS_TOPIC, 0)!
    const {batches} = await partition.fetch(0, 1 << 20, 0)
    return [...batchPositions(batches)].flatMap(({position}) => decodeRecordBatch(batches, position).records).map((record) => ({
      key: JSON.parse(record.key!.toString()) as unknown,
      value: record.value === null ? null : (JSON.parse(record.value.toString()) as unknown),
    }))
  }

  it('writes a tombstone for the key, and the fetch has no offset for that partition, before and after a restart', async () => {
    await broker.commitOffsets('readers', [at(0, 5), at(1, 7), at(2, 9)])
    await broker.commitOffsets('readers', [at(0, -1), at(1, -2)], undefined, 'forget')
    expect(broker.fetchOffsets('readers')).to.deep.equal([at(2, 9)])
    expect((await offsetRecords()).slice(3)).to.deep.equal([{key: ['readers', 'orders', 0], value: null}, {key: ['readers', 'orders', 1], value: null}])
    await restart()
    expect(broker.fetchOffsets('readers'), 'the replay forgets them too').to.deep.equal([at(2, 9)])
    await broker.commitOffsets('readers', [at(0, 3)])
    await restart()
    expect(broker.fetchOffsets('readers'), 'a commit after the tombstone wins').to.deep.equal([at(0, 3), at(2, 9)])
  })

  it('treats every negative offset alike, down to the smallest JS integer', async () => {
    await broker.commitOffsets('readers', [at(0, 5), at(1, 7), at(2, 9)])
    await broker.commitOffsets('readers', [at(0, -3), at(1, Number.MIN_SAFE_INTEGER)], undefined, 'forget')
    expect(broker.fetchOffsets('readers')).to.deep.equal([at(2, 9)])
  })

  it('buries the offset of a deleted topic that a replay would otherwise bring back for the topic created again', async () => {
    await broker.commitOffsets('readers', [at(0, 500)])
    await broker.deleteTopic('orders')
    await broker.createTopic('orders', {partitions: 3})
    await restart()
    expect(broker.fetchOffsets('readers'), 'without a tombstone the old commit is replayed').to.deep.equal([at(0, 500)])
    await broker.commitOffsets('readers', [at(0, -1)], undefined, 'forget')
    await restart()
    expect(broker.fetchOffsets('readers')).to.deep.equal([])
  })

  it("is refused for Lignum's own clients (the default), and a fraction is refused for everyone, storing nothing", async () => {
    await broker.commitOffsets('readers', [at(0, 5)])
    const refused = await broker.commitOffsets('readers', [at(0, -1)]).then(() => undefined, (error: LignumError) => error)
    expect(refused?.code).to.equal('INVALID_ARGUMENT')
    expect(errorLine(refused!)).to.equal('cannot commit offset -1 for orders/0: offsets are whole numbers from 0; to start a group over, move it with: lignum groups seek')
    const fraction = await broker.commitOffsets('readers', [at(0, 1.5)], undefined, 'forget').then(() => undefined, (error: LignumError) => error)
    expect(fraction?.code).to.equal('INVALID_ARGUMENT')
    expect(fraction?.message).to.match(/offset 1\.5 .*whole numbers/)
    expect(broker.fetchOffsets('readers')).to.deep.equal([at(0, 5)])
    expect(await offsetRecords()).to.have.length(1)
  })

  it("is fenced as any member's commit: a stale generation forgets nothing, the current one does", async () => {
    await broker.commitOffsets('readers', [at(0, 5)])
    const joined = await broker.groupMemberships.join('readers', {
      memberId: '',
      clientId: 'test',
      host: '127.0.0.1',
      protocolType: 'consumer',
      protocols: [{name: 'range', metadata: encodeSubscription({topics: ['orders'], ownedPartitions: []})}],
      sessionTimeoutMs: SESSION_TIMEOUT_MS_MIN,
      rebalanceTimeoutMs: 5_000,
    })
    await broker.groupMemberships.sync('readers', {memberId: joined.memberId, generationId: joined.generationId}, new Map())
    const stale = await broker.commitOffsets('readers', [at(0, -1)], {memberId: joined.memberId, generationId: joined.generationId - 1}, 'forget').then(() => undefined, (error: LignumError) => error)
    expect(stale?.code).to.equal('ILLEGAL_GENERATION')
    const outsider = await broker.commitOffsets('readers', [at(0, -1)], undefined, 'forget').then(() => undefined, (error: LignumError) => error)
    expect(outsider?.code, 'a commit without membership while the group has members').to.equal('UNKNOWN_MEMBER_ID')
    expect(broker.fetchOffsets('readers')).to.deep.equal([at(0, 5)])
    await broker.commitOffsets('readers', [at(0, -1)], {memberId: joined.memberId, generationId: joined.generationId}, 'forget')
    expect(broker.fetchOffsets('readers')).to.deep.equal([])
  })
})
