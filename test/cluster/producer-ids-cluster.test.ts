/**
 * Producer ids end to end: real `lignum serve` processes with a real Consul hand out ids from
 * blocks they reserve there, so no two nodes (nor one node before and after a restart) give out
 * the same id; a producer takes its id from the node it bootstrapped from. A standalone node
 * hands out none and its producers keep choosing their own.
 */
import {expect} from 'chai'
import {WireClient} from '../../src/client/index.js'
import {Connection} from '../../src/client/connection.js'
import {PRODUCER_ID_BLOCK_SIZE} from '../../src/cluster/producer-id-blocks.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import {ServeProcess} from './serve-process.js'

const SESSION_TTL_MS = 3_000
const LOCK_DELAY_MS = 1_000
// Room on a loaded 2-core machine for processes to start and Consul to answer.
const SETTLE_MS = 60_000
const IDS_PER_NODE = 20

async function initProducerIds(node: ServeProcess, count: number): Promise<number[]> {
  const connection = new Connection(node.address)
  try {
    const answers = await Promise.all(Array.from({length: count}, () => connection.call(connection.grpc.initProducerId, {})))
    for (const answer of answers) expect(answer.producerEpoch).to.equal(answer.producerId < 0n ? -1 : 0)
    return answers.map((answer) => Number(answer.producerId))
  } finally {
    connection.close()
  }
}

const blockOf = (id: number) => Math.floor(id / PRODUCER_ID_BLOCK_SIZE)

describe('producer ids in cluster mode (real nodes, real Consul)', function () {
  this.timeout(180_000)
  const consul = useConsul({stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []

  it('gives each node its own block, a restarted node a new one, and a producer the id of its node', async () => {
    nodes = await Promise.all(['p1', 'p2'].map((nodeId) => ServeProcess.start({consulUrl: consul().url, cluster: 'producer-ids', nodeId, sessionTtlMs: SESSION_TTL_MS, lockDelayMs: LOCK_DELAY_MS})))
    const [first, second] = await Promise.all(nodes.map((node) => initProducerIds(node, IDS_PER_NODE)))
    const all = [...first!, ...second!]
    expect(new Set(all).size, 'distinct ids across both nodes').to.equal(2 * IDS_PER_NODE)
    expect(new Set(first!.map(blockOf)).size, 'one block per node').to.equal(1)
    expect(new Set(second!.map(blockOf)).size, 'one block per node').to.equal(1)
    expect(blockOf(first![0]!)).to.not.equal(blockOf(second![0]!))
    expect(Math.max(...all)).to.be.below(2 * PRODUCER_ID_BLOCK_SIZE)

    nodes[0] = await nodes[0]!.restart()
    const afterRestart = await initProducerIds(nodes[0], 1)
    expect(afterRestart[0], 'a restarted node reserves a block past every earlier one').to.equal(2 * PRODUCER_ID_BLOCK_SIZE)

    await eventually('a controller with both nodes up', async () => {
      const status = await nodes[1]!.status()
      return status.controller !== null && status.nodes.filter((node) => node.status === 'up').length === 2 ? true : undefined
    }, SETTLE_MS)
    const client = await WireClient.connect({brokers: nodes[1]!.address})
    try {
      await client.createTopic('ids', 1, {}, {replicationFactor: 2, minInsyncReplicas: 1})
      const producer = client.producer({acks: 'all'})
      await eventually('the topic to take a write', async () => (await producer.send('ids', {value: 'x'}).then(() => true, () => undefined)), SETTLE_MS)
      await producer.close()
      expect(blockOf(producer.producerId), 'the producer\'s id comes from its node\'s block').to.equal(blockOf(second![0]!))
      expect(all).to.not.include(producer.producerId)
    } finally {
      client.close()
    }
  })

  it('hands out no id from a standalone node: its producers keep a random one', async () => {
    const standalone = await ServeProcess.start({cluster: 'none', nodeId: 'alone', sessionTtlMs: SESSION_TTL_MS, lockDelayMs: LOCK_DELAY_MS})
    nodes.push(standalone)
    expect(await initProducerIds(standalone, 1)).to.deep.equal([-1])
    const client = await WireClient.connect({brokers: standalone.address})
    try {
      await client.createTopic('alone', 1)
      const producer = client.producer({acks: 'all'})
      expect((await producer.send('alone', {value: 'x'})).offset).to.equal(0)
      await producer.close()
      expect(producer.producerId).to.be.at.least(0)
    } finally {
      client.close()
    }
  })
})
