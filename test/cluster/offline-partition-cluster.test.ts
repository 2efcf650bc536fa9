/**
 * A partition with no live in-sync replica, end to end with a real Consul and three real nodes.
 * Two topics (one partition, RF 3, min ISR 2), one of them created with
 * --unclean-leader-election. One node is killed and, as acks=1 writes go on without it, both
 * ISRs shrink to the other two; then the two
 * in-sync nodes are killed together and the out-of-sync one restarted alone. It is the only
 * live node and the controller: the clean topic goes offline (no leader, its ISR kept) and
 * `lignum cluster status` shows it without a leader and exits 8 naming it; the unclean topic
 * is led by the out-of-sync replica at the next leader epoch, the ISR it alone.
 */
import {expect} from 'chai'
import {LignumClient} from '../../src/client/index.js'
import {errorTable} from '../../src/errors.js'
import {runCli} from '../helpers/cli.js'
import {useConsul} from '../helpers/consul-suite.js'
import type {ClusterStatus} from '../../src/ui/cluster-status-table.js'
import {eventually} from './member-process.js'
import type {ServeProcess} from './serve-process.js'
import {partitionStatesIn, printLogs, type StoredState} from './cluster-reads.js'
import {replicatedTopic, SETTLE_MS, startThreeNodes} from './three-nodes.js'

const CLUSTER = 'offline-partition'
const CLEAN = 'clean'
const UNCLEAN = 'unclean'
const WRITTEN_WHILE_DOWN = 10

describe('a partition with no live in-sync replica (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  const consul = useConsul({stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []
  const statesBefore = new Map<string, StoredState>()
  const statesAfter = new Map<string, StoredState>()
  let survivor: ServeProcess

  async function stateOf(topic: string): Promise<StoredState | undefined> {
    return (await partitionStatesIn(consul().url, CLUSTER, topic)).get(0)
  }

  before(async function () {
    this.timeout(300_000)
    nodes = await startThreeNodes(consul().url, CLUSTER, 'o')
    statesBefore.set(CLEAN, await replicatedTopic(nodes, consul().url, CLUSTER, CLEAN))
    statesBefore.set(UNCLEAN, await replicatedTopic(nodes, consul().url, CLUSTER, UNCLEAN, ['--unclean-leader-election']))

    const outOfSync = nodes[2]!
    await outOfSync.killHard()
    // A follower at the log end stays in sync however long it is silent (Kafka's rule): writes
    // it misses make it lag, and leave it without them.
    await writeWhileDown(nodes[0]!)
    const shrunk = await eventually(`both ISRs without ${outOfSync.nodeId}, led by another node`, async () => {
      const states = await Promise.all([stateOf(CLEAN), stateOf(UNCLEAN)])
      return states.every((state) => state && state.leader !== null && state.leader !== outOfSync.nodeId && !state.isr.includes(outOfSync.nodeId)) ? (states as StoredState[]) : undefined
    }, SETTLE_MS)
    await Promise.all(nodes.slice(0, 2).map((node) => node.killHard()))
    survivor = await outOfSync.restart()
    nodes[2] = survivor
    // The two killed nodes' checks go critical up to a renewal interval apart, so the
    // controller may first hand leadership to the other killed node; its decision once it saw
    // both dead names no killed node: no leader, or the survivor.
    const killed = new Set(nodes.slice(0, 2).map((node) => node.nodeId))
    for (const [index, topic] of [CLEAN, UNCLEAN].entries()) {
      statesAfter.set(topic, await eventually(`the controller on ${survivor.nodeId} to decide for ${topic} with both others dead`, async () => {
        const state = await stateOf(topic)
        return state && state.leaderEpoch > shrunk[index]!.leaderEpoch && !killed.has(state.leader ?? '') ? state : undefined
      }, SETTLE_MS))
    }
  })

  async function writeWhileDown(node: ServeProcess): Promise<void> {
    const client = await LignumClient.connect({brokers: node.address})
    try {
      const producer = client.producer({acks: 1})
      for (const topic of [CLEAN, UNCLEAN]) {
        await Promise.all(Array.from({length: WRITTEN_WHILE_DOWN}, (_, index) => producer.send(topic, {value: `while-down-${index}`})))
      }
      await producer.close()
    } finally {
      client.close()
    }
  }

  afterEach(function () {
    if (this.currentTest?.state === 'failed') printLogs(nodes, 40)
  })

  it('without --unclean-leader-election the partition goes offline, its ISR kept, rather than be led by the out-of-sync replica', () => {
    const was = statesBefore.get(CLEAN)!
    const now = statesAfter.get(CLEAN)!
    expect(now.leader).to.equal(null)
    expect(now.isr, 'the last in-sync replicas, who hold every acknowledged write').to.not.include(survivor.nodeId)
    expect(now.isr).to.have.length(2)
    expect(now.leaderEpoch).to.be.greaterThan(was.leaderEpoch)
  })

  it('with --unclean-leader-election the out-of-sync replica leads at the next leader epoch, the ISR it alone, without the writes it missed', async () => {
    const was = statesBefore.get(UNCLEAN)!
    const now = statesAfter.get(UNCLEAN)!
    expect(now.leader).to.equal(survivor.nodeId)
    expect(now.isr).to.deep.equal([survivor.nodeId])
    expect(now.leaderEpoch).to.be.greaterThan(was.leaderEpoch)
    const client = await LignumClient.connect({brokers: survivor.address})
    const values: string[] = []
    try {
      for await (const record of client.consume({topic: UNCLEAN, partitions: [0], from: 'beginning', stopAtEnd: true})) values.push(record.value!.toString())
    } finally {
      client.close()
    }
    expect(values, 'the acks=1 writes only the dead replicas held: what unclean election loses').to.deep.equal([])
  })

  it(`lignum cluster status shows the offline partition with no leader and exits ${errorTable.PARTITIONS_OFFLINE.exitCode}, naming it`, async () => {
    const json = await runCli(['cluster', 'status', '--json', '--brokers', survivor.address])
    expect(json.code, json.stderr).to.equal(errorTable.PARTITIONS_OFFLINE.exitCode)
    const status = JSON.parse(json.stdout) as ClusterStatus
    const clean = status.partitions.find((entry) => entry.topic === CLEAN)!
    expect(clean).to.include({leader: null, leaderState: 'no-leader'})
    expect(status.partitions.find((entry) => entry.topic === UNCLEAN)).to.include({leader: survivor.nodeId, leaderState: 'online'})
    expect(status.health.offline).to.deep.equal([`${CLEAN}-0`])
    expect(json.stderr.trimEnd().split('\n'), json.stderr).to.have.length(1)
    expect(json.stderr).to.include(`${CLEAN}-0`)

    const text = await runCli(['cluster', 'status', '--brokers', survivor.address])
    expect(text.code, text.stderr).to.equal(errorTable.PARTITIONS_OFFLINE.exitCode)
    // The partitions table: topic, partition, leader ("-": none), epoch, ... state.
    const row = text.stdout.split('\n').find((line) => line.startsWith(`${CLEAN} `) && line.trimEnd().endsWith('no-leader'))
    expect(row, text.stdout).to.match(new RegExp(`^${CLEAN}\\s+0\\s+-\\s+\\d+\\s`))
    expect(text.stderr.trimEnd().split('\n'), text.stderr).to.have.length(1)
  })
})
