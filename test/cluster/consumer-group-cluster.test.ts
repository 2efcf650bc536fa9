/**
 * Consumer groups in cluster mode, with a real Consul and three real `lignum serve --consul`
 * nodes: two `consume -G` members bootstrapped from one node, for a group whose coordinator
 * (the leader of its `__consumer_offsets` partition) is another node. Their requests are
 * forwarded there, in one hop: the coordinator forms the generations, the entry node none. The
 * members split a 6-partition topic 3/3, and when one exits the other takes all 6, skipping no
 * record produced meanwhile.
 */
import {expect} from 'chai'
import {LignumClient} from '../../src/client/index.js'
import type {LignumError} from '../../src/errors.js'
import {GROUP_OFFSETS_TOPIC, groupOffsetsPartitionOf} from '../../src/broker/group-offsets.js'
import {GROUP_OFFSETS_PARTITIONS} from '../../src/server/group-coordinator.js'
import {useConsul} from '../helpers/consul-suite.js'
import {GroupMemberProcess, settledSplit, sleep, waitFor} from '../helpers/group-member-process.js'
import {eventually} from './member-process.js'
import type {ServeProcess} from './serve-process.js'
import {partitionStatesIn, printLogs} from './cluster-reads.js'
import {SETTLE_MS, nodeNamed, replicatedPartitions, startThreeNodes} from './three-nodes.js'

const CLUSTER = 'consumer-groups-1'
const TOPIC = 'orders'
const PARTITIONS = 6
const SESSION_TIMEOUT_MS = 3_000

describe('consumer groups in cluster mode (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  const consul = useConsul({
    kind: 'persistent',
    stopFirst: async () => {
      for (const member of members) if (member.process.exitCode === null) member.process.kill('SIGKILL')
      await Promise.all(nodes.map((node) => node.destroy()))
    },
  })
  let nodes: ServeProcess[] = []
  const members: GroupMemberProcess[] = []

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      printLogs(nodes, 60)
      for (const member of members) console.log(member.stderr)
    }
  })

  it('members bootstrapped from one node reach the coordinator on another, split 3/3, and the survivor takes all 6', async () => {
    nodes = await startThreeNodes(consul().url, CLUSTER, 'g')
    await replicatedPartitions(nodes, consul().url, CLUSTER, TOPIC, PARTITIONS)
    const entry = nodes[0]!
    const client = await LignumClient.connect({brokers: entry.address})
    try {
      // The offsets topic is created on a group's first request.
      await eventually('the offsets topic to answer', () => client.fetchOffsets('warm-up', TOPIC).then(() => true, (error: LignumError) => {
        if (!error.retriable) throw error
        return undefined
      }), SETTLE_MS)
      const offsetsStates = await eventually('a leader for every offsets partition', async () => {
        const states = await partitionStatesIn(consul().url, CLUSTER, GROUP_OFFSETS_TOPIC)
        return states.size === GROUP_OFFSETS_PARTITIONS && [...states.values()].every((state) => state.leader) ? states : undefined
      }, SETTLE_MS)
      const group = Array.from({length: 50}, (_, index) => `readers-${index}`).find((name) => offsetsStates.get(groupOffsetsPartitionOf(name, GROUP_OFFSETS_PARTITIONS))!.leader !== entry.nodeId)!
      const coordinator = nodeNamed(nodes, offsetsStates.get(groupOffsetsPartitionOf(group, GROUP_OFFSETS_PARTITIONS))!.leader)
      expect(coordinator).to.not.equal(entry)

      const producer = client.producer({lingerMs: 0})
      const lastProduced = new Map<number, number>()
      const produceRound = async () => {
        const sent = await Promise.all(Array.from({length: PARTITIONS}, (_, partition) => producer.send(TOPIC, {partition, value: `p${partition}`})))
        for (const metadata of sent) lastProduced.set(metadata.partition, Math.max(metadata.offset, lastProduced.get(metadata.partition) ?? -1))
        return sent
      }
      const args = ['-t', TOPIC, '-G', group, '--session-timeout', `${SESSION_TIMEOUT_MS}ms`, '--brokers', entry.address]
      const a = new GroupMemberProcess(args)
      const b = new GroupMemberProcess(args)
      members.push(a, b)
      const split = await settledSplit(a, b, PARTITIONS, produceRound, 60_000)

      const generations = (node: ServeProcess) => node.logged('consumer group generation started').filter((line) => line.group === group)
      expect(generations(coordinator).some((line) => line.members === 2), 'a two-member generation formed at the coordinator').to.equal(true)
      expect(generations(entry), 'the entry node forwards; it coordinates nothing of the group').to.deep.equal([])

      const producedBeforeExit = new Map(lastProduced)
      b.process.kill('SIGINT')
      expect(await b.exited).to.equal(0)
      const exitedAtMs = Date.now()
      await produceRound()
      await waitFor('the survivor to read every partition past the exit', () => [...producedBeforeExit].every(([partition, offset]) => a.highest(partition) > offset), 2 * SESSION_TIMEOUT_MS)
      const takeoverMs = Date.now() - exitedAtMs
      a.process.kill('SIGINT')
      expect(await a.exited).to.equal(0)
      const skipped = [...lastProduced].flatMap(([partition, last]) => Array.from({length: last + 1}, (_, offset) => offset).filter((offset) => !a.has(partition, offset) && !b.has(partition, offset)).map((offset) => `${partition}:${offset}`))
      console.log(`      group ${group} coordinated by ${coordinator.nodeId}, members entered at ${entry.nodeId}; split a=${split.a} b=${split.b}; takeover ${takeoverMs} ms`)
      expect(skipped).to.deep.equal([])
      expect(coordinator.logged('consumer group member removed').some((line) => line.group === group)).to.equal(true)
      await sleep(0)
    } finally {
      client.close()
    }
  })
})
