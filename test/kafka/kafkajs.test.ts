/**
 * kafkajs, an independent Kafka client (npm), against a three-node Lignum cluster through the
 * Kafka listener, bootstrapped from one node: its admin creates topics that `lignum topics
 * list` shows and names each partition's leader as Consul does; its idempotent acks=-1
 * producer writes keyed, headed, binary records to every partition's leader; two consumers of
 * one group split six partitions three and three, read every record once and commit, so a
 * later member of the group reads only what came after; what gRPC writes kafkajs reads byte
 * for byte, and the reverse; a consumer whose group's committed offset lies past the log end
 * (OFFSET_OUT_OF_RANGE) commits kafkajs's "no offset" and resets as fromBeginning says, instead
 * of crashing; and an error a client can cause comes back as Kafka's error code.
 */
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {CompressionTypes, type Consumer, type EachMessagePayload, type IHeaders, type Message, type Producer, type RecordMetadata} from 'kafkajs'
import {brokerIdOf} from '../../src/kafka/broker-ids.js'
import {runCli} from '../helpers/cli.js'
import {kafkaClusterForSuite} from '../helpers/kafka-cluster-suite.js'
import {kafkajsClient, printKafkajsLogs, type KafkajsClient} from '../helpers/kafkajs-client.js'
import {eventually} from '../cluster/member-process.js'
import {LignumClient} from '../../src/client/lignum-client.js'
import type {LignumError} from '../../src/errors.js'
import {KafkaReader} from '../../src/kafka/protocol/kafka-reader.js'
import {KafkaWriter} from '../../src/kafka/protocol/kafka-writer.js'
import {KafkaWireClient} from './kafka-wire-client.js'
import {partitionStatesIn} from '../cluster/cluster-reads.js'
import type {ServeProcess} from '../cluster/serve-process.js'

const PARTITIONS = 6
const REPLICATION_FACTOR = 3
const ORDERS = 'kjs-orders'
const GROUPED = 'kjs-grouped'
const FROM_GRPC = 'kjs-from-grpc'
const PAST_END = 'kjs-past-end'
const PAST_END_PARTITIONS = 2
const PAST_END_RECORDS = 20
// Far past the PAST_END_RECORDS / PAST_END_PARTITIONS records a partition of PAST_END holds.
const PAST_END_OFFSET = '1000'
const UNSET = 'kjs-unset'
const OFFSET_COMMIT = 8
// OffsetCommit v2: group, generation, member, retention_time_ms, then the topics (not flexible).
const OFFSET_COMMIT_VERSION = 2
const RECORDS_PER_PARTITION_PER_SEND = 20
const GROUP_RECORDS = 300
const LATER_RECORDS = 12
// Far more than a join, a fetch or a commit takes; the bound that keeps a bug from hanging.
const SETTLE_MS = 30_000
// How long a consumer that read everything is watched for a record it should not read.
const QUIET_MS = 1_500
// The node's batch limit (batchBytesMax's default): a larger record is refused, not stored.
const BATCH_BYTES_MAX = 1024 * 1024

interface SentRecord {
  partition: number
  key: Buffer
  value: Buffer
  headers: Record<string, Buffer>
}

interface ReadRecord extends SentRecord {
  offset: number
}

/** Record `index` of partition `partition`: text and bytes that are not UTF-8, in key, value and headers. */
function recordFor(partition: number, index: number): SentRecord {
  const binary = Buffer.from([0x00, 0xff, 0xfe, partition, index & 0xff, 0x80])
  return {
    partition,
    key: Buffer.concat([Buffer.from(`key-${partition}-${index}`), index % 2 === 0 ? binary : Buffer.alloc(0)]),
    value: Buffer.concat([Buffer.from(`value ${index} ✓ `), binary, Buffer.alloc(index % 7, 0x61)]),
    headers: {'trace-id': Buffer.from(`trace-${partition}-${index}`), blob: binary},
  }
}

function toMessage(record: SentRecord): Message {
  return {partition: record.partition, key: record.key, value: record.value, headers: record.headers}
}

function fingerprint(record: SentRecord): string {
  const hash = createHash('sha256').update(`${record.partition}|`).update(record.key).update('|').update(record.value)
  for (const [key, value] of Object.entries(record.headers).sort(([a], [b]) => a.localeCompare(b))) hash.update(`|${key}=`).update(value)
  return hash.digest('hex')
}

function headersOf(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {}
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (!Buffer.isBuffer(value)) throw new Error(`header ${key} came back as ${typeof value}, not one value's bytes`)
    out[key] = value
  }
  return out
}

function readOf({partition, message}: EachMessagePayload): ReadRecord {
  return {partition, offset: Number(message.offset), key: message.key ?? Buffer.alloc(0), value: message.value ?? Buffer.alloc(0), headers: headersOf(message.headers)}
}

interface GroupMember {
  consumer: Consumer
  read: ReadRecord[]
  /** The partitions of `topic` each join of the group gave this member, in order. */
  joins: number[][]
  /** Fetches the member has made so far. */
  fetches: number
  /** Why the consumer crashed, each time it did. */
  crashes: string[]
}

async function startMember(client: KafkajsClient, groupId: string, topic: string, fromBeginning = true): Promise<GroupMember> {
  const consumer = client.kafka.consumer({groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200})
  const member: GroupMember = {consumer, read: [], joins: [], fetches: 0, crashes: []}
  consumer.on(consumer.events.GROUP_JOIN, (event) => member.joins.push([...(event.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b)))
  consumer.on(consumer.events.FETCH, () => member.fetches++)
  consumer.on(consumer.events.CRASH, (event) => member.crashes.push(`${event.payload.error.name}: ${event.payload.error.message}`))
  await consumer.connect()
  await consumer.subscribe({topics: [topic], fromBeginning})
  await consumer.run({eachMessage: async (payload) => {
    member.read.push(readOf(payload))
  }})
  return member
}

async function produceAll(producer: Producer, topic: string, records: SentRecord[], compression = CompressionTypes.None): Promise<RecordMetadata[]> {
  return producer.send({topic, acks: -1, compression, messages: records.map(toMessage)})
}

interface StoredBatch {
  baseOffset: number
  producerId: number
  baseSequence: number
  compression: string
}

/** The batches of a partition as the node stored them, read from its data directory. */
async function storedBatches(node: ServeProcess, topic: string, partition: number): Promise<StoredBatch[]> {
  const inspected = await runCli(['segments', 'inspect', '--data-dir', node.dataDir, '--topic', topic, '--partition', String(partition), '--dump', '--json'])
  expect(inspected.code, inspected.stderr).to.equal(0)
  const report = JSON.parse(inspected.stdout) as {partitions: {segments: {batches: StoredBatch[]}[]}[]}
  return report.partitions.flatMap((stored) => stored.segments.flatMap((segment) => segment.batches)).map(({baseOffset, producerId, baseSequence, compression}) => ({baseOffset, producerId, baseSequence, compression}))
}

function byPartition(metadata: RecordMetadata[]): Record<number, string> {
  return Object.fromEntries(metadata.map((entry) => [entry.partition, entry.baseOffset ?? '?']))
}

function range(count: number): number[] {
  return Array.from({length: count}, (_, index) => index)
}

describe('kafkajs against a three-node cluster (real Consul, Kafka listeners)', function () {
  this.timeout(120_000)
  const suite = kafkaClusterForSuite('kafkajs-1', 'j')
  let client: KafkajsClient
  let producer: Producer
  const sentToOrders: SentRecord[][] = range(PARTITIONS).map(() => [])

  before(async function () {
    client = kafkajsClient(suite.nodes[0]!.kafkaAddress)
    producer = client.kafka.producer({idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false})
    await producer.connect()
  })

  after(async function () {
    await producer?.disconnect()
  })

  afterEach(function () {
    if (this.currentTest?.state === 'failed') printKafkajsLogs(client)
  })

  it("admin createTopics makes a topic lignum lists, and fetchTopicMetadata names each partition's leader", async () => {
    const admin = client.kafka.admin()
    await admin.connect()
    try {
      const created = await admin.createTopics({topics: [{topic: ORDERS, numPartitions: PARTITIONS, replicationFactor: REPLICATION_FACTOR}, {topic: GROUPED, numPartitions: PARTITIONS, replicationFactor: REPLICATION_FACTOR}], waitForLeaders: true})
      expect(created, 'createTopics says it created the topics').to.equal(true)
      const listed = await runCli(['topics', 'list', '--json', '--brokers', suite.nodes[1]!.address])
      expect(listed.code, listed.stderr).to.equal(0)
      const topics = (JSON.parse(listed.stdout) as {topics: {name: string; partitions: unknown[]}[]}).topics
      expect(topics.filter((topic) => topic.name === ORDERS || topic.name === GROUPED).map((topic) => [topic.name, topic.partitions.length]).sort()).to.deep.equal([[GROUPED, PARTITIONS], [ORDERS, PARTITIONS]])

      const states = await eventually(`a leader for every partition of ${ORDERS} in Consul`, async () => {
        const stored = await partitionStatesIn(suite.consulUrl, suite.cluster, ORDERS)
        return stored.size === PARTITIONS && [...stored.values()].every((state) => state.leader !== null) ? stored : undefined
      }, SETTLE_MS)
      const {topics: [described]} = await admin.fetchTopicMetadata({topics: [ORDERS]})
      const leaders = Object.fromEntries(described!.partitions.map((partition) => [partition.partitionId, partition.leader]))
      expect(leaders).to.deep.equal(Object.fromEntries([...states].map(([partition, state]) => [partition, brokerIdOf(state.leader!)])))
      expect(new Set(Object.values(leaders)).size, 'the leaders are spread over the three nodes').to.equal(3)
      expect(described!.partitions.every((partition) => partition.replicas.length === REPLICATION_FACTOR)).to.equal(true)
    } finally {
      await admin.disconnect()
    }
  })

  it('an idempotent acks=-1 producer writes keyed records with headers to every partition, at the offsets it is told', async () => {
    // The second send is gzipped (the one codec kafkajs has built in): stored as sent.
    for (const [send, compression] of [[0, CompressionTypes.None], [1, CompressionTypes.GZIP]] as const) {
      const records = range(PARTITIONS).flatMap((partition) => range(RECORDS_PER_PARTITION_PER_SEND).map((index) => recordFor(partition, send * RECORDS_PER_PARTITION_PER_SEND + index)))
      const metadata = await produceAll(producer, ORDERS, records, compression)
      expect(metadata.every((entry) => entry.errorCode === 0), JSON.stringify(metadata)).to.equal(true)
      expect(byPartition(metadata)).to.deep.equal(Object.fromEntries(range(PARTITIONS).map((partition) => [partition, String(send * RECORDS_PER_PARTITION_PER_SEND)])))
      for (const record of records) sentToOrders[record.partition]!.push(record)
    }
    const admin = client.kafka.admin()
    await admin.connect()
    try {
      const offsets = await admin.fetchTopicOffsets(ORDERS)
      expect(offsets.map((entry) => [entry.partition, entry.low, entry.high]).sort()).to.deep.equal(range(PARTITIONS).map((partition) => [partition, '0', String(2 * RECORDS_PER_PARTITION_PER_SEND)]))
    } finally {
      await admin.disconnect()
    }
    // Idempotence reached the log: one producer id, sequences that go on from send to send.
    const leader = (await partitionStatesIn(suite.consulUrl, suite.cluster, ORDERS)).get(0)!.leader
    const batches = await storedBatches(suite.nodes.find((node) => node.nodeId === leader)!, ORDERS, 0)
    expect(batches[0]!.producerId, 'an idempotent producer has a producer id').to.be.at.least(0)
    expect(batches).to.deep.equal([
      {baseOffset: 0, producerId: batches[0]!.producerId, baseSequence: 0, compression: 'none'},
      {baseOffset: RECORDS_PER_PARTITION_PER_SEND, producerId: batches[0]!.producerId, baseSequence: RECORDS_PER_PARTITION_PER_SEND, compression: 'gzip'},
    ])
  })

  it('two consumers of one group split the six partitions 3/3, read every record once and commit; a later member reads only new records', async () => {
    const groupId = 'kjs-readers'
    const members = [await startMember(client, groupId, GROUPED), await startMember(client, groupId, GROUPED)]
    const stopped = new Set<GroupMember>()
    try {
      await eventually('a stable split of the six partitions, three to each member', async () => {
        const latest = members.map((member) => member.joins.at(-1) ?? [])
        return latest.every((partitions) => partitions.length === PARTITIONS / 2) && new Set(latest.flat()).size === PARTITIONS ? true : undefined
      }, SETTLE_MS).catch((error: Error) => {
        throw new Error(`${error.message}; the members' joins gave them ${JSON.stringify(members.map((member) => member.joins))}`)
      })
      const [firstShare, secondShare] = members.map((member) => member.joins.at(-1)!)
      const records = range(GROUP_RECORDS).map((index) => recordFor(index % PARTITIONS, index))
      await produceAll(producer, GROUPED, records)
      await eventually(`all ${GROUP_RECORDS} records read`, async () => (members[0]!.read.length + members[1]!.read.length >= GROUP_RECORDS ? true : undefined), SETTLE_MS)
      await sleep(QUIET_MS)
      expect(new Set(members[0]!.read.map((record) => record.partition)), 'the first member read only its share').to.satisfy((read: Set<number>) => [...read].every((partition) => firstShare!.includes(partition)))
      expect(new Set(members[1]!.read.map((record) => record.partition)), 'the second member read only its share').to.satisfy((read: Set<number>) => [...read].every((partition) => secondShare!.includes(partition)))
      const read = [...members[0]!.read, ...members[1]!.read]
      expect(read.map(fingerprint).sort(), 'every record read once, byte for byte').to.deep.equal(records.map(fingerprint).sort())

      const admin = client.kafka.admin()
      await admin.connect()
      try {
        const perPartition = GROUP_RECORDS / PARTITIONS
        await eventually('the group to commit the end of every partition', async () => {
          const [committed] = await admin.fetchOffsets({groupId, topics: [GROUPED]})
          return committed!.partitions.every((entry) => entry.offset === String(perPartition)) && committed!.partitions.length === PARTITIONS ? true : undefined
        }, SETTLE_MS)
      } finally {
        await admin.disconnect()
      }
      for (const member of members) {
        await member.consumer.disconnect()
        stopped.add(member)
      }

      const later = range(LATER_RECORDS).map((index) => recordFor(index % PARTITIONS, GROUP_RECORDS + index))
      await produceAll(producer, GROUPED, later)
      const latecomer = await startMember(client, groupId, GROUPED)
      members.push(latecomer)
      await eventually(`the ${LATER_RECORDS} new records read by a later member`, async () => (latecomer.read.length >= LATER_RECORDS ? true : undefined), SETTLE_MS)
      await sleep(QUIET_MS)
      expect(latecomer.joins.at(-1), 'the later member, alone, has every partition').to.deep.equal(range(PARTITIONS))
      expect(latecomer.read.map(fingerprint).sort(), 'the later member read the new records, none committed before').to.deep.equal(later.map(fingerprint).sort())
    } finally {
      for (const member of members) if (!stopped.has(member)) await member.consumer.disconnect()
    }
  })

  it('what kafkajs wrote, lignum consume --json reads byte for byte', async () => {
    const read = await runCli(['consume', '-t', ORDERS, '-e', '--json', '--brokers', suite.nodes[2]!.address], {timeoutMs: 60_000})
    expect(read.code, read.stderr).to.equal(0)
    const records = read.stdout.trimEnd().split('\n').map((line) => fromJsonLine(line))
    const expected = sentToOrders.flatMap((records, partition) => records.map((record, offset) => ({...record, partition, offset})))
    expect(records.map((record) => `${record.partition}/${record.offset} ${fingerprint(record)}`).sort()).to.deep.equal(expected.map((record) => `${record.partition}/${record.offset} ${fingerprint(record)}`).sort())
  })

  it('what lignum produce writes through gRPC, kafkajs reads byte for byte', async () => {
    const created = await runCli(['topics', 'create', FROM_GRPC, '--partitions', '2', '--replication-factor', '3', '--brokers', suite.nodes[0]!.address])
    expect(created.code, created.stderr).to.equal(0)
    const records = range(40).map((index) => recordFor(index % 2, index))
    const lines = records.map((record) => JSON.stringify({
      partition: record.partition,
      key: record.key.toString('base64'),
      keyEncoding: 'base64',
      value: record.value.toString('base64'),
      valueEncoding: 'base64',
      headers: Object.entries(record.headers).map(([key, value]) => ({key, value: value.toString('base64'), valueEncoding: 'base64'})),
    }))
    const produced = await runCli(['produce', '-t', FROM_GRPC, '--format', 'json', '--acks', 'all', '--brokers', suite.nodes[1]!.address], {input: lines.join('\n') + '\n'})
    expect(produced.code, produced.stderr).to.equal(0)
    const reader = await startMember(client, 'kjs-bytes', FROM_GRPC)
    try {
      await eventually(`the ${records.length} records lignum produced, read by kafkajs`, async () => (reader.read.length >= records.length ? true : undefined), SETTLE_MS)
      expect(reader.read.map(fingerprint).sort()).to.deep.equal(records.map(fingerprint).sort())
    } finally {
      await reader.consumer.disconnect()
    }
  })

  it('a consumer whose committed offset is past the log end resets to earliest or latest as fromBeginning says, keeps running and reads', async () => {
    const admin = client.kafka.admin()
    await admin.connect()
    const members: GroupMember[] = []
    try {
      await admin.createTopics({topics: [{topic: PAST_END, numPartitions: PAST_END_PARTITIONS, replicationFactor: REPLICATION_FACTOR}], waitForLeaders: true})
      const first = range(PAST_END_RECORDS).map((index) => recordFor(index % PAST_END_PARTITIONS, index))
      await produceAll(producer, PAST_END, first)
      // As a topic deleted and created again leaves its group: a commit far past the end of every partition.
      const pastEnd = range(PAST_END_PARTITIONS).map((partition) => ({partition, offset: PAST_END_OFFSET}))
      for (const groupId of ['kjs-past-end-earliest', 'kjs-past-end-latest']) await admin.setOffsets({groupId, topic: PAST_END, partitions: pastEnd})

      // fromBeginning: kafkajs meets OFFSET_OUT_OF_RANGE, commits -2 (earliest), and reads from the start.
      const earliest = await startMember(client, 'kjs-past-end-earliest', PAST_END, true)
      members.push(earliest)
      await eventually(`the ${PAST_END_RECORDS} records read from the earliest offset`, async () => (earliest.read.length >= PAST_END_RECORDS || earliest.crashes.length > 0 ? true : undefined), SETTLE_MS)
      expect(earliest.crashes, 'the consumer kept running').to.deep.equal([])
      expect(earliest.read.map(fingerprint).sort()).to.deep.equal(first.map(fingerprint).sort())

      // Not fromBeginning: kafkajs commits -1 (latest), so it reads only what comes after its reset.
      const latest = await startMember(client, 'kjs-past-end-latest', PAST_END, false)
      members.push(latest)
      await eventually('the group to have no committed offset (the reset) for either partition', async () => {
        if (latest.crashes.length > 0) return true
        const [committed] = await admin.fetchOffsets({groupId: 'kjs-past-end-latest', topics: [PAST_END]})
        return committed!.partitions.every((entry) => entry.offset === '-1') ? true : undefined
      }, SETTLE_MS)
      // Two fetches more: the member resolved where the partitions end and fetches from there.
      const fetchesAtReset = latest.fetches
      await eventually('two fetches after the reset', async () => (latest.fetches >= fetchesAtReset + 2 || latest.crashes.length > 0 ? true : undefined), SETTLE_MS)
      const later = range(LATER_RECORDS).map((index) => recordFor(index % PAST_END_PARTITIONS, PAST_END_RECORDS + index))
      await produceAll(producer, PAST_END, later)
      await eventually(`the ${LATER_RECORDS} records produced after the reset`, async () => (latest.read.length >= LATER_RECORDS || latest.crashes.length > 0 ? true : undefined), SETTLE_MS)
      await sleep(QUIET_MS)
      expect(latest.crashes, 'the consumer kept running').to.deep.equal([])
      expect(latest.read.map(fingerprint).sort(), 'only the records after the reset').to.deep.equal(later.map(fingerprint).sort())
      const perPartition = String((PAST_END_RECORDS + LATER_RECORDS) / PAST_END_PARTITIONS)
      await eventually('the group to commit the end of every partition again', async () => {
        const [committed] = await admin.fetchOffsets({groupId: 'kjs-past-end-latest', topics: [PAST_END]})
        return committed!.partitions.every((entry) => entry.offset === perPartition) ? true : undefined
      }, SETTLE_MS)
    } finally {
      for (const member of members) await member.consumer.disconnect()
      await admin.disconnect()
    }
  })

  it("an OffsetCommit of -1 through any node, the group's coordinator or one passing it on, forgets the offset; gRPC clients are still refused", async () => {
    const admin = client.kafka.admin()
    await admin.connect()
    try {
      await admin.createTopics({topics: [{topic: UNSET, numPartitions: 2, replicationFactor: REPLICATION_FACTOR}], waitForLeaders: true})
      // Through each of the three nodes in turn: one coordinates the group, the other two pass the commit on.
      for (const [index, node] of suite.nodes.entries()) {
        await admin.setOffsets({groupId: UNSET, topic: UNSET, partitions: [{partition: 0, offset: '5'}, {partition: 1, offset: '7'}]})
        expect(await commitThroughWire(node.kafkaAddress, UNSET, UNSET, 0, -1n), `the commit of -1 through node ${node.nodeId}`).to.equal(0)
        const [committed] = await admin.fetchOffsets({groupId: UNSET, topics: [UNSET]})
        expect(committed!.partitions.map(({partition, offset}) => [partition, offset]).sort(), `OffsetFetch after the commit through node ${node.nodeId}`).to.deep.equal([[0, '-1'], [1, '7']])
        const described = await runCli(['groups', 'describe', UNSET, '--json', '--brokers', suite.nodes[(index + 1) % suite.nodes.length]!.address])
        expect(described.code, described.stderr).to.equal(0)
        const {offsets} = JSON.parse(described.stdout) as {offsets: {topic: string; partition: number; offset: number}[]}
        expect(offsets, 'lignum groups describe shows no committed offset for partition 0').to.deep.equal([{topic: UNSET, partition: 1, offset: 7}])
      }
      // Lignum's own clients never mean "no offset" by -1: a mistake, refused with how to fix it.
      for (const node of suite.nodes) {
        const lignum = await LignumClient.connect({brokers: node.address})
        try {
          const refused = await lignum.commitOffsets(UNSET, UNSET, [{partition: 1, offset: -1}]).then(() => undefined, (error: LignumError) => error)
          expect(refused?.code, `a gRPC commit of -1 through node ${node.nodeId}`).to.equal('INVALID_ARGUMENT')
          expect(refused?.message).to.match(/cannot commit offset -1 for kjs-unset\/1: offsets are whole numbers from 0/)
        } finally {
          lignum.close()
        }
      }
      const [committed] = await admin.fetchOffsets({groupId: UNSET, topics: [UNSET]})
      expect(committed!.partitions.map(({partition, offset}) => [partition, offset]).sort()).to.deep.equal([[0, '-1'], [1, '7']])
    } finally {
      await admin.disconnect()
    }
  })

  it("errors come back as Kafka's codes, retriable or not as Kafka's are, within the retries and not as a hang", async () => {
    const plain = client.kafka.producer({allowAutoTopicCreation: false, retry: {retries: 2, initialRetryTime: 100}})
    await plain.connect()
    try {
      const startedMs = Date.now()
      expect(await protocolErrorOf(plain.send({topic: 'kjs-no-such-topic', messages: [{value: 'lost'}]})), 'a topic that does not exist, auto-creation off').to.deep.equal({name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true})
      expect(Date.now() - startedMs, 'the failure came within the retries, not after a hang').to.be.below(SETTLE_MS)
      const tooLarge = Buffer.alloc(BATCH_BYTES_MAX + 1024, 0x78)
      expect(await protocolErrorOf(plain.send({topic: ORDERS, messages: [{partition: 0, value: tooLarge}]})), "a record larger than the node's batch limit").to.deep.equal({name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false})
    } finally {
      await plain.disconnect()
    }
    const admin = client.kafka.admin()
    await admin.connect()
    try {
      // kafkajs answers false, not an error, when every topic already exists (TOPIC_ALREADY_EXISTS).
      expect(await admin.createTopics({topics: [{topic: ORDERS, numPartitions: PARTITIONS}]})).to.equal(false)
    } finally {
      await admin.disconnect()
    }
  })
})

interface JsonBytes {
  [field: string]: unknown
}

function bytesOf(json: JsonBytes, field: string, encodingField: string): Buffer {
  const text = json[field]
  if (typeof text !== 'string') return Buffer.alloc(0)
  return Buffer.from(text, json[encodingField] === 'base64' ? 'base64' : 'utf8')
}

function fromJsonLine(line: string): ReadRecord {
  const json = JSON.parse(line) as JsonBytes & {partition: number; offset: number; headers: JsonBytes[]}
  const headers = Object.fromEntries(json.headers.map((header) => [header.key as string, bytesOf(header, 'value', 'valueEncoding')]))
  return {partition: json.partition, offset: json.offset, key: bytesOf(json, 'key', 'keyEncoding'), value: bytesOf(json, 'value', 'valueEncoding'), headers}
}

/** The Kafka protocol error a kafkajs call failed with (kafkajs wraps it once it stops retrying). */
async function protocolErrorOf(call: Promise<unknown>): Promise<{name: string; type?: string; retriable?: boolean}> {
  const failure = await call.then(() => new Error('the call succeeded'), (error: unknown) => error)
  const cause = ((failure as {cause?: unknown}).cause ?? failure) as {name: string; type?: string; retriable?: boolean}
  return {name: cause.name, type: cause.type, retriable: cause.retriable}
}

/** One partition's OffsetCommit v2 without membership, sent to one node's Kafka listener; the partition's error code. */
async function commitThroughWire(kafkaAddress: string, group: string, topic: string, partition: number, offset: bigint): Promise<number> {
  const wire = await KafkaWireClient.connect(Number(kafkaAddress.split(':')[1]))
  try {
    const body = new KafkaWriter().nullableString(group).int32(-1).nullableString('').int64(-1)
    body.flexibleArray(false, [topic], (writer, name) => {
      writer.nullableString(name).flexibleArray(false, [partition], (partitionWriter, index) => partitionWriter.int32(index).int64(offset).nullableString(null))
    })
    wire.send(OFFSET_COMMIT, OFFSET_COMMIT_VERSION, 1, body.toBuffer())
    const response = new KafkaReader((await wire.next())!)
    expect(response.int32(), 'the correlation id').to.equal(1)
    const [answered] = response.flexibleArray(false, (reader) => ({name: reader.flexibleString(false), partitions: reader.flexibleArray(false, (partitionReader) => ({partition: partitionReader.int32(), error: partitionReader.int16()}))}))
    expect(answered).to.deep.include({name: topic})
    return answered!.partitions[0]!.error
  } finally {
    wire.close()
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
