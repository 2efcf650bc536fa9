/**
 * The Kafka listener in cluster mode: three real nodes on a real Consul, each registering its
 * Kafka listener, so Kafka's own console producer, bootstrapped from one node, sends each
 * partition's records to that partition's leader on whichever node it is, with acks=all and
 * idempotence; every record is then read back through gRPC. Two console consumers of one
 * group, each bootstrapped from a different node, split a topic's partitions: their group
 * requests reach the group's coordinator through whichever node they were sent to.
 *
 * The admin APIs answer the same through every node: a topic created through one is described
 * through another and deleted through a node that is not the controller; every node lists the
 * groups coordinated anywhere, and deletes one coordinated elsewhere. Last (it stops a node and
 * starts it again), a console consumer keeps reading across a leader change, validating its
 * position with OffsetForLeaderEpoch on the new leader.
 */
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import path from 'node:path'
import {runCli} from '../helpers/cli.js'
import {kafkaClusterForSuite} from '../helpers/kafka-cluster-suite.js'
import {awaitStableSplit, consoleGroupConsumer, describeGroup, IDLE_EXIT_MS, parseConsumed} from '../helpers/kafka-console-group.js'
import {consoleProduce, requireKafkaTools, runKafkaTool, type KafkaTools} from '../helpers/kafka-tools.js'
import type {ServeProcess} from '../cluster/serve-process.js'
import {controllerWithAllUp, nodeNamed, replicatedPartitions, SETTLE_MS} from '../cluster/three-nodes.js'
import {partitionStatesIn} from '../cluster/cluster-reads.js'
import {eventually} from '../cluster/member-process.js'
import {KafkaErrorCode} from '../../src/kafka/kafka-error-codes.js'
import {KafkaReader} from '../../src/kafka/protocol/kafka-reader.js'
import {KafkaWriter} from '../../src/kafka/protocol/kafka-writer.js'
import {KafkaWireClient} from './kafka-wire-client.js'

const CLUSTER = 'kafka-listener-1'
const TOPIC = 'spread'
const PARTITIONS = 3
const RECORDS = 900
const GROUPED_TOPIC = 'grouped'
const GROUPED_PARTITIONS = 6
const GROUPED_RECORDS = 600
const TOPIC_COMMAND = 'org.apache.kafka.tools.TopicCommand'
const GROUP_COMMAND = 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand'
const OFFSET_COMMIT = 8
const LIST_GROUPS = 16
const OFFSET_FOR_LEADER_EPOCH = 23
const DESCRIBE_CLUSTER = 60
const EPOCH_RECORDS = 200

/** One request to a node's Kafka listener; the response after its correlation id (and header tags when flexible). */
async function roundTrip(node: ServeProcess, apiKey: number, version: number, body: Buffer, flexible = false): Promise<KafkaReader> {
  const client = await KafkaWireClient.connect(Number(node.kafkaAddress.split(':')[1]))
  try {
    client.send(apiKey, version, 1, body, flexible)
    const frame = await client.next()
    if (frame === null) throw new Error(`${node.nodeId} closed the connection instead of answering API ${apiKey} v${version}`)
    const response = new KafkaReader(frame)
    expect(response.int32()).to.equal(1)
    if (flexible) response.skipTaggedFields()
    return response
  } finally {
    client.close()
  }
}

/** The groups a node's ListGroups v0 names. */
async function groupsListedBy(node: ServeProcess): Promise<string[]> {
  const response = await roundTrip(node, LIST_GROUPS, 0, Buffer.alloc(0))
  expect(response.int16()).to.equal(KafkaErrorCode.NONE)
  return response.flexibleArray(false, (r) => {
    const group = r.string()
    r.string()
    return group
  })
}

/** Commits offset 0 of `topic`'s partition 0 for `group`, as an admin commit (OffsetCommit v2, no member). */
async function commitWithoutMember(node: ServeProcess, group: string, topic: string): Promise<void> {
  const body = new KafkaWriter().nullableString(group).int32(-1).nullableString('').int64(-1)
    .flexibleArray(false, [topic], (w, name) => w.nullableString(name).flexibleArray(false, [0], (p, partition) => p.int32(partition).int64(0).nullableString(null)))
  const response = await roundTrip(node, OFFSET_COMMIT, 2, body.toBuffer())
  const [answer] = response.flexibleArray(false, (r) => ({topic: r.string(), partitions: r.flexibleArray(false, (p) => ({partition: p.int32(), error: p.int16()}))}))
  expect(answer?.partitions, `${group}'s commit`).to.deep.equal([{partition: 0, error: KafkaErrorCode.NONE}])
}

/** A node's OffsetForLeaderEpoch v4 answer for partition 0 of `topic`. */
async function epochEndAt(node: ServeProcess, topic: string, currentLeaderEpoch: number, leaderEpoch: number): Promise<{error: number; leaderEpoch: number; endOffset: number}> {
  const body = new KafkaWriter().int32(-1).flexibleArray(true, [topic], (w, name) => w.compactNullableString(name).flexibleArray(true, [0], (p, partition) => p.int32(partition).int32(currentLeaderEpoch).int32(leaderEpoch).emptyTaggedFields()).emptyTaggedFields()).emptyTaggedFields()
  const response = await roundTrip(node, OFFSET_FOR_LEADER_EPOCH, 4, body.toBuffer(), true)
  response.int32()
  const [answer] = response.flexibleArray(true, (r) => {
    r.compactString()
    const [partition] = r.flexibleArray(true, (p) => {
      const found = {error: p.int16(), partition: p.int32(), leaderEpoch: p.int32(), endOffset: Number(p.int64())}
      p.skipTaggedFields()
      return found
    })
    r.skipTaggedFields()
    return partition!
  })
  return {error: answer!.error, leaderEpoch: answer!.leaderEpoch, endOffset: answer!.endOffset}
}

/** The leader epoch a node's Metadata v7 names for partition 0 of `topic`. */
async function metadataLeaderEpoch(node: ServeProcess, topic: string): Promise<number> {
  const response = await roundTrip(node, 3, 7, new KafkaWriter().flexibleArray(false, [topic], (w, name) => w.nullableString(name)).boolean(false).toBuffer())
  response.int32()
  response.flexibleArray(false, (r) => [r.int32(), r.string(), r.int32(), r.nullableString()])
  response.nullableString()
  response.int32()
  const [epoch] = response.flexibleArray(false, (r) => {
    r.int16()
    r.string()
    r.boolean()
    const [partition] = r.flexibleArray(false, (p) => {
      p.int16()
      p.int32()
      p.int32()
      const leaderEpoch = p.int32()
      for (let list = 0; list < 3; list++) p.flexibleArray(false, (x) => x.int32())
      return leaderEpoch
    })
    return partition!
  })
  return epoch!
}

/**
 * Kafka's console consumer reading partition 0 of `topic` from the start, its values collected
 * as they come. Assigned, not subscribed: a member of a group would rejoin when the group's
 * coordinator moves, and with nothing committed start over by auto.offset.reset.
 */
function liveConsoleConsumer(tools: KafkaTools, bootstrap: string, topic: string): {values: string[]; stderr: () => string; stop: () => Promise<void>} {
  const child = spawn('java', ['-cp', path.join(tools.libDir, '*'), 'org.apache.kafka.tools.consumer.ConsoleConsumer', '--bootstrap-server', bootstrap, '--topic', topic, '--partition', '0', '--offset', 'earliest'], {stdio: ['ignore', 'pipe', 'pipe']})
  const values: string[] = []
  let pending = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n')
    pending = lines.pop()!
    values.push(...lines)
  })
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  return {values, stderr: () => stderr, stop: async () => {
    child.kill('SIGTERM')
    await exited
  }}
}

describe('kafka listener in cluster mode (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  const suite = kafkaClusterForSuite(CLUSTER, 'k')
  // The suite's own array: a node started again in its place is still stopped after the tests.
  let nodes: ServeProcess[] = []
  let consulUrl = ''
  let tools: KafkaTools

  before(async function () {
    tools = await requireKafkaTools(this)
    this.timeout(180_000)
    nodes = suite.nodes
    consulUrl = suite.consulUrl
    await replicatedPartitions(nodes, consulUrl, CLUSTER, TOPIC, PARTITIONS)
    await replicatedPartitions(nodes, consulUrl, CLUSTER, GROUPED_TOPIC, GROUPED_PARTITIONS)
  })

  it("names every node's Kafka listener in Metadata, with each partition's leader", async () => {
    const [, port] = nodes[0]!.kafkaAddress.split(':')
    const client = await KafkaWireClient.connect(Number(port))
    try {
      client.send(3, 1, 1, new KafkaWriter().flexibleArray(false, [TOPIC], (w, name) => w.nullableString(name)).toBuffer())
      const response = new KafkaReader((await client.next())!)
      response.int32()
      const brokers = response.flexibleArray(false, (r) => ({id: r.int32(), address: `${r.string()}:${r.int32()}`, rack: r.nullableString()}))
      expect(brokers.map((broker) => `${broker.id}=${broker.address}`).sort()).to.deep.equal(nodes.map((node, index) => `${index + 1}=${node.kafkaAddress}`).sort())
      response.int32()
      const [topic] = response.flexibleArray(false, (r) => ({error: r.int16(), name: r.string(), internal: r.boolean(), leaders: r.flexibleArray(false, (p) => {
        const partition = {error: p.int16(), index: p.int32(), leader: p.int32()}
        p.flexibleArray(false, (x) => x.int32())
        p.flexibleArray(false, (x) => x.int32())
        return partition
      })}))
      // The round-robin assignment puts one leader on each node.
      expect(topic?.leaders.map((partition) => partition.leader).sort()).to.deep.equal([1, 2, 3])
    } finally {
      client.close()
    }
  })

  it("Kafka's idempotent acks=all console producer, bootstrapped from one node, reaches every partition's leader", async () => {
    const lines = Array.from({length: RECORDS}, (_, index) => `key-${index}|value-${index}`)
    const produced = await consoleProduce(tools, nodes[0]!.kafkaAddress, TOPIC, lines, ['acks=all', 'enable.idempotence=true', 'linger.ms=5'])
    expect(produced.code, produced.stderr).to.equal(0)
    const read = await runCli(['consume', '-t', TOPIC, '-e', '--json', '--brokers', nodes[1]!.address], {timeoutMs: 60_000})
    expect(read.code, read.stderr).to.equal(0)
    const records = read.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as {partition: number; key: string; value: string})
    expect(records.map((record) => `${record.key}|${record.value}`).sort()).to.deep.equal([...lines].sort())
    expect(new Set(records.map((record) => record.partition)).size).to.equal(PARTITIONS)
  })

  it("two console consumers of one group, bootstrapped from different nodes, split the partitions and commit at the group's coordinator", async () => {
    const group = 'cluster-readers'
    const brokers = ['--brokers', nodes[1]!.address]
    const first = consoleGroupConsumer(tools, nodes[0]!.kafkaAddress, GROUPED_TOPIC, group, IDLE_EXIT_MS)
    const second = consoleGroupConsumer(tools, nodes[2]!.kafkaAddress, GROUPED_TOPIC, group, IDLE_EXIT_MS)
    await awaitStableSplit(brokers, group, GROUPED_TOPIC, GROUPED_PARTITIONS, 2, 90_000)
    const lines = Array.from({length: GROUPED_RECORDS}, (_, index) => `key-${index}|value ${index}`)
    const produced = await runCli(['produce', '-t', GROUPED_TOPIC, '-K', '|', '--acks', 'all', ...brokers], {input: lines.join('\n') + '\n'})
    expect(produced.code, produced.stderr).to.equal(0)
    const [one, two] = await Promise.all([first.done, second.done])
    expect(one.code, one.stderr).to.equal(0)
    expect(two.code, two.stderr).to.equal(0)
    const [readByOne, readByTwo] = [parseConsumed(one.stdout), parseConsumed(two.stdout)]
    expect(readByOne).to.not.be.empty
    expect(readByTwo).to.not.be.empty
    const partitionsOfTwo = new Set(readByTwo.map((entry) => entry.partition))
    expect(readByOne.filter((entry) => partitionsOfTwo.has(entry.partition)), 'no partition read by both').to.deep.equal([])
    expect([...readByOne, ...readByTwo].map((entry) => entry.record).sort()).to.deep.equal([...lines].sort())
    const described = await describeGroup(brokers, group)
    const committed = described.partitions.filter((entry) => entry.topic === GROUPED_TOPIC)
    expect(committed.map((entry) => entry.committedOffset)).to.deep.equal(committed.map((entry) => entry.logEndOffset))
    expect(committed.reduce((total, entry) => total + (entry.committedOffset ?? 0), 0)).to.equal(GROUPED_RECORDS)
  })


  it("kafka-topics creates a topic through one node, describes it through another with leaders spread, and deletes it through a node that is not the controller", async () => {
    const topic = 'made-by-kafka-tools'
    const kafkaTopics = (node: ServeProcess, args: string[]) => runKafkaTool(tools, TOPIC_COMMAND, ['--bootstrap-server', node.kafkaAddress, ...args])
    const created = await kafkaTopics(nodes[0]!, ['--create', '--topic', topic, '--partitions', '3', '--replication-factor', '3', '--config', 'retention.ms=60000'])
    expect(created.code, created.stdout + created.stderr).to.equal(0)
    await eventually('three in-sync replicas of every partition', async () => {
      const states = await partitionStatesIn(consulUrl, CLUSTER, topic)
      return states.size === 3 && [...states.values()].every((state) => state.isr.length === 3) ? true : undefined
    }, SETTLE_MS)
    const listed = await runCli(['topics', 'list', '--brokers', nodes[2]!.address])
    expect(listed.stdout).to.include(topic)

    const described = await kafkaTopics(nodes[1]!, ['--describe', '--topic', topic])
    expect(described.code, described.stderr).to.equal(0)
    expect(described.stdout).to.match(/PartitionCount: 3\s+ReplicationFactor: 3/)
    expect(described.stdout, 'DescribeConfigs through a node').to.include('retention.ms=60000')
    const rows = [...described.stdout.matchAll(/Partition: (\d+)\s+Leader: (\d+)\s+Replicas: ([\d,]+)\s+Isr: ([\d,]+)/g)].map(([, partition, leader, replicas, isr]) => ({partition: Number(partition), leader: Number(leader), replicas: replicas!.split(',').sort(), isr: isr!.split(',').sort()}))
    expect(rows.map((row) => row.partition)).to.deep.equal([0, 1, 2])
    expect(rows.map((row) => row.leader).sort(), 'one leader on each node').to.deep.equal([1, 2, 3])
    expect(rows.map((row) => [...row.replicas, ...row.isr].join(',')), 'three replicas, all in sync').to.deep.equal(Array(3).fill('1,2,3,1,2,3'))

    const controller = (await nodes[0]!.status()).controller
    const notController = nodes.find((node) => node.nodeId !== controller)!
    const deleted = await kafkaTopics(notController, ['--delete', '--topic', topic])
    expect(deleted.code, deleted.stdout + deleted.stderr).to.equal(0)
    for (const node of nodes.filter((candidate) => candidate !== notController)) {
      const listedAfter = await runCli(['topics', 'list', '--brokers', node.address])
      expect(listedAfter.code, listedAfter.stderr).to.equal(0)
      expect(listedAfter.stdout, `topics through ${node.nodeId}`).to.not.include(topic)
    }
  })

  it('DescribeCluster v0 and v1 through every node name the three brokers and the controller', async () => {
    const controller = (await nodes[0]!.status()).controller
    const expected = nodes.map((node, index) => `${index + 1}=${node.kafkaAddress}`).sort()
    for (const node of nodes) {
      for (const version of [0, 1]) {
        const body = new KafkaWriter().boolean(false)
        if (version >= 1) body.int8(1)
        const response = await roundTrip(node, DESCRIBE_CLUSTER, version, body.emptyTaggedFields().toBuffer(), true)
        expect(response.int32()).to.equal(0)
        expect(response.int16()).to.equal(KafkaErrorCode.NONE)
        expect(response.compactNullableString()).to.equal(null)
        if (version >= 1) expect(response.int8(), 'endpoint type: brokers').to.equal(1)
        expect(response.compactNullableString()).to.equal(CLUSTER)
        expect(response.int32(), `${node.nodeId}'s controller (v${version})`).to.equal(Number(controller!.slice(1)))
        const brokers = response.flexibleArray(true, (r) => {
          const broker = `${r.int32()}=${r.compactString()}:${r.int32()}`
          r.compactNullableString()
          r.skipTaggedFields()
          return broker
        })
        expect(brokers.sort(), `${node.nodeId}'s brokers (v${version})`).to.deep.equal(expected)
      }
    }
  })

  it('every node lists the groups coordinated anywhere; ConsumerGroupCommand describes and deletes a group through a node that does not coordinate it', async () => {
    const groups = Array.from({length: 6}, (_, index) => `admin-group-${index}`)
    for (const group of groups) await commitWithoutMember(nodes[0]!, group, TOPIC)
    const listing = await runCli(['groups', 'list', '--json', '--brokers', nodes[0]!.address])
    expect(listing.code, listing.stderr).to.equal(0)
    const coordinatorOf = new Map((JSON.parse(listing.stdout).groups as {group: string; coordinator: string}[]).map((entry) => [entry.group, entry.coordinator]))
    expect(new Set(groups.map((group) => coordinatorOf.get(group))).size, 'the groups are coordinated on more than one node').to.be.greaterThan(1)
    for (const node of nodes) expect(await groupsListedBy(node), `ListGroups through ${node.nodeId}`).to.include.members(groups)

    const elsewhere = (group: string) => nodes.find((node) => node.nodeId !== coordinatorOf.get(group))!
    const [described, removed] = groups
    const listed = await runKafkaTool(tools, GROUP_COMMAND, ['--bootstrap-server', elsewhere(described!).kafkaAddress, '--list'])
    expect(listed.code, listed.stderr).to.equal(0)
    expect(listed.stdout.split('\n')).to.include.members(groups)
    const description = await runKafkaTool(tools, GROUP_COMMAND, ['--bootstrap-server', elsewhere(described!).kafkaAddress, '--describe', '--group', described!])
    expect(description.code, description.stderr).to.equal(0)
    expect(description.stdout).to.match(new RegExp(`${described}\\s+${TOPIC}\\s+0\\s+0\\s`))
    const deleted = await runKafkaTool(tools, GROUP_COMMAND, ['--bootstrap-server', elsewhere(removed!).kafkaAddress, '--delete', '--group', removed!])
    expect(deleted.code, deleted.stdout + deleted.stderr).to.equal(0)
    expect(deleted.stdout).to.include(`Deletion of requested consumer groups ('${removed}') was successful.`)
    for (const node of nodes) expect(await groupsListedBy(node), `ListGroups through ${node.nodeId} after the delete`).to.not.include(removed)
  })

  // Last: it stops a partition leader (and starts it again after).
  it("a Java console consumer keeps reading across a leader change: the new leader's OffsetForLeaderEpoch ends the old epoch where it read to, so nothing is lost or read twice", async () => {
    const topic = 'epochs'
    const before = (await replicatedPartitions(nodes, consulUrl, CLUSTER, topic, 1)).get(0)!
    const leader = nodeNamed(nodes, before.leader)
    const survivors = nodes.filter((node) => node !== leader)
    const values = Array.from({length: 2 * EPOCH_RECORDS}, (_, index) => `epoch-record-${index}`)
    const produce = async (lines: string[]) => {
      const produced = await runCli(['produce', '-t', topic, '--acks', 'all', '--brokers', survivors[0]!.address], {input: lines.join('\n') + '\n'})
      expect(produced.code, produced.stderr).to.equal(0)
    }
    await produce(values.slice(0, EPOCH_RECORDS))
    const consumer = liveConsoleConsumer(tools, survivors.map((node) => node.kafkaAddress).join(','), topic)
    try {
      await eventually('the consumer to read the first epoch', async () => (consumer.values.length >= EPOCH_RECORDS ? true : undefined), SETTLE_MS)
      await leader.stop()
      const after = await eventually('a new leader', async () => {
        const state = (await partitionStatesIn(consulUrl, CLUSTER, topic)).get(0)
        return state?.leader && state.leader !== leader.nodeId && state.leaderEpoch > before.leaderEpoch ? state : undefined
      }, SETTLE_MS)
      const newLeader = nodeNamed(nodes, after.leader)
      const follower = survivors.find((node) => node !== newLeader)!
      // What the consumer asks the new leader: where the epoch it read in ends.
      const answer = await eventually('the new leader to answer', async () => {
        const found = await epochEndAt(newLeader, topic, after.leaderEpoch, before.leaderEpoch)
        return found.error === KafkaErrorCode.NONE ? found : undefined
      }, SETTLE_MS)
      expect(answer).to.deep.equal({error: KafkaErrorCode.NONE, leaderEpoch: before.leaderEpoch, endOffset: EPOCH_RECORDS})
      expect((await epochEndAt(newLeader, topic, before.leaderEpoch, before.leaderEpoch)).error, 'a stale current epoch').to.equal(KafkaErrorCode.FENCED_LEADER_EPOCH)
      expect((await epochEndAt(follower, topic, after.leaderEpoch, before.leaderEpoch)).error, 'asked of a follower').to.equal(KafkaErrorCode.NOT_LEADER_OR_FOLLOWER)
      await produce(values.slice(EPOCH_RECORDS))
      await eventually('the consumer to read the second epoch', async () => (consumer.values.length >= values.length ? true : undefined), SETTLE_MS)
      // The epoch Metadata gives clients is the one the new leader stamped in its batches.
      expect(await metadataLeaderEpoch(follower, topic)).to.equal(after.leaderEpoch)
      expect(await epochEndAt(newLeader, topic, after.leaderEpoch, after.leaderEpoch)).to.deep.equal({error: KafkaErrorCode.NONE, leaderEpoch: after.leaderEpoch, endOffset: values.length})
    } finally {
      await consumer.stop()
      nodes[nodes.indexOf(leader)] = await leader.startAgain()
    }
    expect(consumer.values, 'every record once, in order').to.deep.equal(values)
    expect(consumer.stderr()).to.not.match(/ERROR|Truncation/)
    await controllerWithAllUp(nodes)
  })
})
