/**
 * A producer through a leader's death, with real nodes and a real Consul: three `lignum serve`
 * processes replicate one partition (RF 3, min ISR 2); the producer, bootstrapped from a
 * follower, writes acks=all while the leader is killed with SIGKILL (or frozen with SIGSTOP).
 * In the SIGKILL case the test writes the partition's next state in Consul with check-and-set,
 * as the controller's election will; in the SIGSTOP case the controller elects. The producer
 * must move its unanswered batches to the new leader with the same producer id and sequences:
 * every record is acknowledged once, at consecutive offsets, and the new leader holds each once.
 * Half of the second wave is sent only once the fault struck, so however fast the machine,
 * only a new leader can acknowledge it.
 */
import {expect} from 'chai'
import {WireClient, type Producer} from '../../src/client/index.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import type {ServeProcess} from './serve-process.js'
import {partitionStatesIn, printLogs, valuesServedBy} from './cluster-reads.js'
import {nodeNamed, replicatedTopic, SETTLE_MS, startThreeNodes} from './three-nodes.js'

const CLUSTER = 'producer-failover'
const TOPIC = 'failover'
const RECORDS_BEFORE = 1_000
// Sent before the fault: some are unacknowledged when it strikes, on a slow machine or a fast one.
const RECORDS_AROUND = 1_500
// Sent once the fault struck: only a new leader can acknowledge them.
const RECORDS_AFTER = 1_500
const RECORDS_DURING = RECORDS_AROUND + RECORDS_AFTER
// The frozen-leader case: the producer must leave the frozen node through its request timeout
// (or keepalive), never its delivery timeout, which is set far beyond what the test waits.
const REQUEST_TIMEOUT_MS = 2_000
const FROZEN_WAIT_MS = 45_000
const FROZEN_DELIVERY_TIMEOUT_MS = 10 * 60 * 1000

interface StoredState {
  replicas: string[]
  leader: string | null
  leaderEpoch: number
  isr: string[]
  partitionEpoch: number
}

/**
 * Sends `values` (one record each, in order) and strikes `fault` once the first of them is
 * acknowledged; the last RECORDS_AFTER are sent only after the fault. Resolves with the
 * offsets, in the order of `values`, once every one is acknowledged or `waitMs` passed.
 */
async function produceAcrossFault(producer: Producer, values: string[], fault: () => Promise<void>, waitMs: number): Promise<number[]> {
  let acknowledged = 0
  const send = (value: string) => producer.send(TOPIC, {value}).then((metadata) => {
    acknowledged++
    return metadata.offset
  })
  const around = values.slice(0, RECORDS_AROUND).map(send)
  await eventually('some of the second wave acknowledged', async () => (acknowledged > 0 ? true : undefined), SETTLE_MS)
  await fault()
  const after = values.slice(RECORDS_AROUND).map(send)
  let waited: NodeJS.Timeout | undefined
  const gaveUp = new Promise<never>((_, reject) => {
    waited = setTimeout(() => reject(new Error(`${values.length - acknowledged} records still unacknowledged ${waitMs} ms after the fault`)), waitMs)
  })
  return Promise.race([Promise.all([...around, ...after]), gaveUp]).finally(() => clearTimeout(waited))
}

describe('producer failover in cluster mode (real nodes, real Consul, SIGKILL of the leader)', function () {
  this.timeout(240_000)
  const consul = useConsul({stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  const nodes: ServeProcess[] = []

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      printLogs(nodes, 30)
    }
  })

  async function readState(cluster: string): Promise<{state: StoredState; modifyIndex: number}> {
    const response = await fetch(`${consul().url}/v1/kv/lignum/${cluster}/partitions/${TOPIC}/0`)
    const [entry] = (await response.json()) as {Value: string; ModifyIndex: number}[]
    return {state: JSON.parse(Buffer.from(entry!.Value, 'base64').toString('utf8')) as StoredState, modifyIndex: entry!.ModifyIndex}
  }

  async function sendFirstWave(producer: Producer, values: string[]): Promise<number[]> {
    const first = await eventually('the new topic to take writes', async () => producer.send(TOPIC, {value: values[0]!}).then((metadata) => [metadata.offset], () => undefined), SETTLE_MS)
    first.push(...(await Promise.all(values.slice(1, RECORDS_BEFORE).map((value) => producer.send(TOPIC, {value})))).map((metadata) => metadata.offset))
    return first
  }

  it('acknowledges every record exactly once when the leader is killed mid-stream and a follower takes over', async () => {
    const members = await startThreeNodes(consul().url, CLUSTER, 'f')
    nodes.push(...members)
    const initial = await replicatedTopic(members, consul().url, CLUSTER, TOPIC)
    const oldLeader = nodeNamed(members, initial.leader)
    const [bootstrap, heir] = members.filter((node) => node !== oldLeader) as [ServeProcess, ServeProcess]

    const client = await WireClient.connect({brokers: bootstrap.address})
    try {
      const producer = client.producer({acks: 'all', batchBytes: 2048, deliveryTimeoutMs: 60_000})
      const values = Array.from({length: RECORDS_BEFORE + RECORDS_DURING}, (_, index) => `v${index}`)
      const first = await sendFirstWave(producer, values)
      const producerId = producer.producerId

      const during = await produceAcrossFault(producer, values.slice(RECORDS_BEFORE), async () => {
        await oldLeader.killHard()
        // The election the controller will make: the next in-sync replica leads in a new epoch.
        const current = await readState(CLUSTER)
        const next = {...current.state, leader: heir.nodeId, leaderEpoch: current.state.leaderEpoch + 1, isr: current.state.isr.filter((id) => id !== oldLeader.nodeId), partitionEpoch: current.state.partitionEpoch + 1}
        const written = await fetch(`${consul().url}/v1/kv/lignum/${CLUSTER}/partitions/${TOPIC}/0?cas=${current.modifyIndex}`, {method: 'PUT', body: JSON.stringify(next)})
        expect((await written.text()).trim()).to.equal('true')
      }, SETTLE_MS)
      await producer.close()
      expect([...first, ...during], 'each record acknowledged once, at consecutive offsets').to.deep.equal(values.map((_, index) => index))
      expect(producer.producerId, 'the same producer id throughout').to.equal(producerId)
      expect(producer.stats.recordsFailed).to.equal(0)
      // The heir acknowledged the records sent after the kill, so its high watermark covers all.
      expect(await valuesServedBy(heir, TOPIC), 'the new leader holds every record once, in order').to.deep.equal(values)
    } finally {
      client.close()
    }
  })

  it('leaves a frozen (SIGSTOPped) leader by its request timeout: the controller elects another, and every record is acknowledged once there, long before the delivery timeout', async () => {
    const cluster = `${CLUSTER}-frozen`
    const members = await startThreeNodes(consul().url, cluster, 'z')
    nodes.push(...members)
    const before = await replicatedTopic(members, consul().url, cluster, TOPIC)
    const frozen = nodeNamed(members, before.leader)
    for (const member of members) await member.status().catch(() => {})

    // Bootstrapped from the leader itself: the metadata refresh after the timeout must find the
    // new leader through the other nodes while the bootstrap node does not answer.
    const client = await WireClient.connect({brokers: [frozen.address, ...members.filter((node) => node !== frozen).map((node) => node.address)]})
    try {
      const producer = client.producer({acks: 'all', batchBytes: 2048, deliveryTimeoutMs: FROZEN_DELIVERY_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS})
      const values = Array.from({length: RECORDS_BEFORE + RECORDS_DURING}, (_, index) => `v${index}`)
      const first = await sendFirstWave(producer, values)
      const producerId = producer.producerId

      const during = await produceAcrossFault(producer, values.slice(RECORDS_BEFORE), async () => {
        frozen.signal('SIGSTOP')
      }, FROZEN_WAIT_MS)

      const after = (await partitionStatesIn(consul().url, cluster, TOPIC)).get(0)!
      expect(after.leader, 'another leader, elected by the controller').to.be.oneOf(members.filter((node) => node !== frozen).map((node) => node.nodeId))
      expect(after.leaderEpoch).to.be.greaterThan(before.leaderEpoch)
      expect([...first, ...during], 'each record acknowledged once, at consecutive offsets').to.deep.equal(values.map((_, index) => index))
      expect(producer.producerId, 'the same producer id throughout').to.equal(producerId)
      expect(producer.stats.recordsFailed).to.equal(0)
      await producer.close()
      expect(await valuesServedBy(nodeNamed(members, after.leader), TOPIC), 'the new leader holds every record once, in order').to.deep.equal(values)
    } finally {
      client.close()
      frozen.signal('SIGCONT')
    }
  })
})
