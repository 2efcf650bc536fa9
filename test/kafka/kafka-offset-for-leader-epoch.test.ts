/**
 * OffsetForLeaderEpoch v0-v4 through a standalone node's Kafka listener, byte for byte, and
 * the leader epochs ListOffsets and Fetch name beside it: a standalone node leads every
 * partition at epoch 0, so epoch 0 ends at the log end and any later epoch is not known yet.
 * The failures a leader change brings (fenced epochs, a follower asked) are in the cluster test.
 */
import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'
import {KafkaReader} from '../../src/kafka/protocol/kafka-reader.js'
import {KafkaWriter} from '../../src/kafka/protocol/kafka-writer.js'
import {KafkaErrorCode} from '../../src/kafka/kafka-error-codes.js'
import {KafkaWireClient} from './kafka-wire-client.js'

const OFFSET_FOR_LEADER_EPOCH = 23
const LIST_OFFSETS = 2
const FETCH = 1
const TOPIC = 'epochs'
const RECORDS = 5

interface Asked {
  partition: number
  currentLeaderEpoch: number
  leaderEpoch: number
}

interface Answered {
  error: number
  partition: number
  leaderEpoch?: number
  endOffset: number
}

function requestBody(version: number, topics: {name: string; partitions: Asked[]}[]): Buffer {
  const flexible = version >= 4
  const writer = new KafkaWriter()
  if (version >= 3) writer.int32(-1)
  writer.flexibleArray(flexible, topics, (topicWriter, topic) => {
    topicWriter.flexibleString(flexible, topic.name)
    topicWriter.flexibleArray(flexible, topic.partitions, (w, asked) => {
      w.int32(asked.partition)
      if (version >= 2) w.int32(asked.currentLeaderEpoch)
      w.int32(asked.leaderEpoch)
      if (flexible) w.emptyTaggedFields()
    })
    if (flexible) topicWriter.emptyTaggedFields()
  })
  if (flexible) writer.emptyTaggedFields()
  return writer.toBuffer()
}

function readResponse(frame: Buffer, version: number, correlationId: number): {name: string; partitions: Answered[]}[] {
  const flexible = version >= 4
  const reader = new KafkaReader(frame)
  expect(reader.int32()).to.equal(correlationId)
  if (flexible) reader.skipTaggedFields()
  if (version >= 2) expect(reader.int32(), 'throttle').to.equal(0)
  const topics = reader.flexibleArray(flexible, (topicReader) => {
    const name = topicReader.flexibleString(flexible)
    const partitions = topicReader.flexibleArray(flexible, (r) => {
      const answer: Answered = {error: r.int16(), partition: r.int32(), endOffset: 0}
      if (version >= 1) answer.leaderEpoch = r.int32()
      answer.endOffset = Number(r.int64())
      if (flexible) r.skipTaggedFields()
      return answer
    })
    if (flexible) topicReader.skipTaggedFields()
    return {name, partitions}
  })
  if (flexible) reader.skipTaggedFields()
  expect(reader.remainingBytes, 'the whole response read').to.equal(0)
  return topics
}

describe('kafka listener: OffsetForLeaderEpoch', () => {
  const suite = serverForSuite({args: ['--kafka-port', '0']})
  let client: KafkaWireClient

  before(async () => {
    const created = await runCli(['topics', 'create', TOPIC, '--partitions', '2', ...suite.brokers])
    expect(created.code, created.stderr).to.equal(0)
    const lines = Array.from({length: RECORDS}, (_, index) => `value ${index}`)
    const produced = await runCli(['produce', '-t', TOPIC, '-p', '0', ...suite.brokers], {input: lines.join('\n') + '\n'})
    expect(produced.code, produced.stderr).to.equal(0)
  })
  beforeEach(async () => (client = await KafkaWireClient.connect(Number(suite.server.kafkaAddress!.split(':')[1]))))
  afterEach(() => client.close())

  async function ask(version: number, correlationId: number, topics: {name: string; partitions: Asked[]}[]) {
    client.send(OFFSET_FOR_LEADER_EPOCH, version, correlationId, requestBody(version, topics), version >= 4)
    return readResponse((await client.next())!, version, correlationId)
  }

  for (const version of [0, 1, 2, 3, 4]) {
    it(`v${version}: epoch 0 ends at the log end; an empty partition has no epoch; a later epoch answers the latest`, async () => {
      const [topic] = await ask(version, 10 + version, [{name: TOPIC, partitions: [{partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0}, {partition: 1, currentLeaderEpoch: -1, leaderEpoch: 0}, {partition: 0, currentLeaderEpoch: -1, leaderEpoch: 9}]}])
      const epoch = (value: number) => (version >= 1 ? {leaderEpoch: value} : {})
      expect(topic).to.deep.equal({name: TOPIC, partitions: [
        {error: KafkaErrorCode.NONE, partition: 0, ...epoch(0), endOffset: RECORDS},
        {error: KafkaErrorCode.NONE, partition: 1, ...epoch(-1), endOffset: -1},
        {error: KafkaErrorCode.NONE, partition: 0, ...epoch(0), endOffset: RECORDS},
      ]})
    })
  }

  it('answers UNKNOWN_LEADER_EPOCH for a current epoch this node has not reached, and UNKNOWN_TOPIC_OR_PARTITION for a missing topic or partition', async () => {
    const topics = await ask(4, 30, [{name: TOPIC, partitions: [{partition: 0, currentLeaderEpoch: 1, leaderEpoch: 0}, {partition: 7, currentLeaderEpoch: -1, leaderEpoch: 0}]}, {name: 'missing', partitions: [{partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0}]}])
    expect(topics).to.deep.equal([
      {name: TOPIC, partitions: [{error: KafkaErrorCode.UNKNOWN_LEADER_EPOCH, partition: 0, leaderEpoch: -1, endOffset: -1}, {error: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partition: 7, leaderEpoch: -1, endOffset: -1}]},
      {name: 'missing', partitions: [{error: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partition: 0, leaderEpoch: -1, endOffset: -1}]},
    ])
  })

  it("ListOffsets v4 names the log's epoch of the offset (-1 for an empty log) and fences an unknown current epoch", async () => {
    const body = new KafkaWriter().int32(-1).int8(0).flexibleArray(false, [TOPIC], (w, name) => w.nullableString(name).flexibleArray(false, [[0, 0, -1], [0, 0, -2], [1, 0, -1], [0, 3, -1]], (p, [partition, current, timestamp]) => p.int32(partition!).int32(current!).int64(timestamp!))).toBuffer()
    client.send(LIST_OFFSETS, 4, 40, body)
    const reader = new KafkaReader((await client.next())!)
    expect(reader.int32()).to.equal(40)
    reader.int32()
    const [topic] = reader.flexibleArray(false, (r) => ({name: r.string(), partitions: r.flexibleArray(false, (p) => ({partition: p.int32(), error: p.int16(), timestamp: Number(p.int64()), offset: Number(p.int64()), leaderEpoch: p.int32()}))}))
    expect(topic?.partitions).to.deep.equal([
      {partition: 0, error: KafkaErrorCode.NONE, timestamp: -1, offset: RECORDS, leaderEpoch: 0},
      {partition: 0, error: KafkaErrorCode.NONE, timestamp: -1, offset: 0, leaderEpoch: 0},
      {partition: 1, error: KafkaErrorCode.NONE, timestamp: -1, offset: 0, leaderEpoch: -1},
      {partition: 0, error: KafkaErrorCode.UNKNOWN_LEADER_EPOCH, timestamp: -1, offset: -1, leaderEpoch: -1},
    ])
  })

  it('Fetch v12 serves the current epoch 0 and fences an epoch this node has not reached', async () => {
    const partitions = [[0, 0], [0, 1]] as const
    const body = new KafkaWriter().int32(-1).int32(0).int32(1).int32(1 << 20).int8(0).int32(0).int32(-1)
      .flexibleArray(true, [TOPIC], (w, name) => w.compactNullableString(name).flexibleArray(true, partitions, (p, [partition, current]) => p.int32(partition).int32(current).int64(0).int32(-1).int64(-1).int32(1 << 20).emptyTaggedFields()).emptyTaggedFields())
      .flexibleArray(true, [], () => {}).compactNullableString('').emptyTaggedFields().toBuffer()
    client.send(FETCH, 12, 50, body, true)
    const reader = new KafkaReader((await client.next())!)
    expect(reader.int32()).to.equal(50)
    reader.skipTaggedFields()
    reader.int32()
    expect(reader.int16()).to.equal(KafkaErrorCode.NONE)
    reader.int32()
    const [topic] = reader.flexibleArray(true, (r) => {
      const name = r.compactString()
      const answers = r.flexibleArray(true, (p) => {
        const answer = {partition: p.int32(), error: p.int16(), highWatermark: Number(p.int64())}
        p.int64()
        p.int64()
        p.flexibleNullableArray(true, (aborted) => aborted.int64())
        p.int32()
        const records = p.compactNullableBytes()
        p.skipTaggedFields()
        return {...answer, hasRecords: (records?.length ?? 0) > 0}
      })
      r.skipTaggedFields()
      return {name, answers}
    })
    expect(topic?.answers).to.deep.equal([
      {partition: 0, error: KafkaErrorCode.NONE, highWatermark: RECORDS, hasRecords: true},
      {partition: 0, error: KafkaErrorCode.UNKNOWN_LEADER_EPOCH, highWatermark: -1, hasRecords: false},
    ])
  })
})
