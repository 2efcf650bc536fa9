/**
 * The topic catalog against a real Consul: topics of more partitions than one transaction
 * holds, written partitions first and topic last; only the lock holder writes, and not under
 * an older epoch; a leader's ISR change is fenced by its leader epoch and by check-and-set;
 * corrupt values are skipped with a warning.
 */
import {expect} from 'chai'
import {ClusterKeys} from '../../src/cluster/cluster-keys.js'
import {ConsulApi, type TxnKvOperation} from '../../src/cluster/consul-api.js'
import {acquireOperations} from '../../src/cluster/controller-state.js'
import {TopicCatalog} from '../../src/cluster/topic-catalog.js'
import {LignumError} from '../../src/errors.js'
import {useConsul} from '../helpers/consul-suite.js'
import {bystander, plant, recordingLogger, takeControl} from './catalog-fixtures.js'

const REQUEST_TIMEOUT_MS = 5_000
const NODES = ['n1', 'n2', 'n3']
const START = {nodeIndex: 0, shift: 0}

async function rejection(promise: Promise<unknown>): Promise<LignumError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof LignumError) return error
    throw error
  }
  throw new Error('expected a LignumError, the call succeeded')
}

describe('topic catalog in Consul KV (real Consul)', function () {
  this.timeout(120_000)
  const consul = useConsul({stopFirst: () => api?.close()})
  let api: ConsulApi

  before(async function () {
    api = new ConsulApi(consul().url, REQUEST_TIMEOUT_MS)
  })

  it('creates a topic of 130 partitions in several transactions, topic key last, and reads it back', async function () {
    const keys = new ClusterKeys('big')
    const catalog = new TopicCatalog(api, keys, recordingLogger(), () => 1_700_000_000_000)
    const term = await takeControl(api, keys, 'n1')
    const transactions: TxnKvOperation[][] = []
    const original = api.transaction.bind(api)
    api.transaction = (operations) => {
      transactions.push(operations)
      return original(operations)
    }
    try {
      await catalog.createTopic(term, {name: 'orders', partitions: 130, replicationFactor: 3, minInsyncReplicas: 2, settings: {'retention.ms': '1000'}}, NODES, START)
    } finally {
      api.transaction = original
    }
    // 130 partition writes at 62 per transaction (two of Consul's 64 operations are the checks), then the topic.
    expect(transactions.map((operations) => operations.length)).to.deep.equal([64, 64, 8, 3])
    for (const operations of transactions) {
      expect(operations[0]!.KV).to.include({Verb: 'check-session', Key: keys.controller, Session: term.sessionId})
      expect(operations[1]!.KV).to.include({Verb: 'check-index', Key: keys.controllerEpoch, Index: term.epochModifyIndex})
    }
    expect(transactions.at(-1)![2]!.KV.Key).to.equal(keys.topic('orders'))
    expect(transactions.slice(0, -1).flat().some((operation) => operation.KV.Key === keys.topic('orders'))).to.equal(false)

    const described = (await catalog.describeTopic('orders'))!
    expect(described.topic).to.deep.equal({
      version: 1,
      name: 'orders',
      partitions: 130,
      replicationFactor: 3,
      minInsyncReplicas: 2,
      settings: {'retention.ms': '1000'},
      createdAtMs: 1_700_000_000_000,
      epoch: term.epoch,
    })
    expect(described.partitions.map((stored) => stored.partition)).to.deep.equal(Array.from({length: 130}, (_, index) => index))
    const leaders = new Map<string, number>()
    for (const {state} of described.partitions) {
      expect(new Set(state.replicas).size).to.equal(3)
      expect(state).to.include({leader: state.replicas[0], leaderEpoch: 0, epoch: term.epoch, partitionEpoch: 0})
      expect(state.isr).to.deep.equal(state.replicas)
      leaders.set(state.leader!, (leaders.get(state.leader!) ?? 0) + 1)
    }
    expect([...leaders.values()].sort()).to.deep.equal([43, 43, 44])
    expect((await catalog.readPartitionState('orders', 129))?.state).to.deep.equal(described.partitions[129]!.state)
    expect((await catalog.listTopics()).map((topic) => topic.name)).to.deep.equal(['orders'])

    const again = await rejection(catalog.createTopic(term, {name: 'orders', partitions: 1}, NODES, START))
    expect(again.code).to.equal('ALREADY_EXISTS')

    await catalog.deleteTopic(term, 'orders')
    expect(await catalog.describeTopic('orders')).to.equal(undefined)
    expect((await api.kvTree(keys.partitionsPrefix('orders'), 0, 0)).data).to.have.length(0)
    expect((await rejection(catalog.deleteTopic(term, 'orders'))).code).to.equal('UNKNOWN_TOPIC')
    await api.destroySession(term.sessionId)
  })

  it('gives auto-created topics the cluster defaults and refuses a replication factor above the live nodes', async function () {
    const keys = new ClusterKeys('defaults')
    const catalog = new TopicCatalog(api, keys, recordingLogger())
    const term = await takeControl(api, keys, 'n1')
    const created = await catalog.createTopic(term, {name: 'auto', partitions: 2}, ['n1', 'n2'], START)
    expect(created.topic).to.include({replicationFactor: 2, minInsyncReplicas: 2})
    const refused = await rejection(catalog.createTopic(term, {name: 'wide', partitions: 1, replicationFactor: 3}, ['n1', 'n2'], START))
    expect(refused.code).to.equal('INVALID_ARGUMENT')
    expect([refused.message, refused.hint]).to.deep.equal(['replication factor 3 needs 3 live nodes, 2 are registered', 'start more nodes or lower --replication-factor'])
    expect(await catalog.describeTopic('wide')).to.equal(undefined)
    await api.destroySession(term.sessionId)
  })

  it('records each replica\'s incarnation in the ISR at creation; an ISR change keeps what is recorded for members that stay and records an added member as its leader saw it', async function () {
    const keys = new ClusterKeys('isr-incarnations')
    const catalog = new TopicCatalog(api, keys, recordingLogger())
    const term = await takeControl(api, keys, 'n1')
    const incarnations = new Map([['n1', 'n1-a'], ['n2', 'n2-a'], ['n3', 'n3-a']])
    await catalog.createTopic(term, {name: 'members', partitions: 1, replicationFactor: 3}, NODES, START, incarnations)
    const created = (await catalog.readPartitionState('members', 0))!
    expect(created.state).to.deep.include({leader: 'n1', leaderIncarnation: 'n1-a', isrIncarnations: {n1: 'n1-a', n2: 'n2-a', n3: 'n3-a'}})
    const shrunk = await catalog.writeIsr('members', 0, {isr: ['n1', 'n2'], leaderEpoch: 0, expectedPartitionEpoch: 0})
    expect(shrunk.ok && shrunk.state.state.isrIncarnations).to.deep.equal({n1: 'n1-a', n2: 'n2-a'})
    // n3 caught up again under a new process; the leader's newer word on n2 does not replace the record.
    const expanded = await catalog.writeIsr('members', 0, {isr: ['n1', 'n2', 'n3'], leaderEpoch: 0, expectedPartitionEpoch: 1, addedIncarnations: {n2: 'n2-b', n3: 'n3-b'}})
    expect(expanded.ok).to.equal(true)
    expect((await catalog.readPartitionState('members', 0))!.state.isrIncarnations).to.deep.equal({n1: 'n1-a', n2: 'n2-a', n3: 'n3-b'})
    await api.destroySession(term.sessionId)
  })

  it('refuses writes from a session that does not hold the controller lock, and writes nothing', async function () {
    const keys = new ClusterKeys('lockless')
    const catalog = new TopicCatalog(api, keys, recordingLogger())
    const term = await takeControl(api, keys, 'n1')
    const intruder = {sessionId: await bystander(api, 'intruder'), epoch: term.epoch}

    const refused = await rejection(catalog.createTopic(intruder, {name: 'sneaky', partitions: 70, replicationFactor: 1}, NODES, START))
    expect(refused.code).to.equal('NOT_CONTROLLER')
    expect(refused.retriable).to.equal(true)
    expect(await catalog.describeTopic('sneaky')).to.equal(undefined)
    expect((await api.kvTree(keys.prefix, 0, 0)).data.map((entry) => entry.key)).to.have.members([keys.controller, keys.controllerEpoch])

    await catalog.createTopic(term, {name: 'kept', partitions: 1, replicationFactor: 1}, NODES, START)
    expect((await rejection(catalog.deleteTopic(intruder, 'kept'))).code).to.equal('NOT_CONTROLLER')
    expect(await catalog.describeTopic('kept')).to.not.equal(undefined)

    // A controller that lost its session loses its right to write with it.
    await api.destroySession(term.sessionId)
    expect((await rejection(catalog.deleteTopic(term, 'kept'))).code).to.equal('NOT_CONTROLLER')
    expect(await catalog.describeTopic('kept')).to.not.equal(undefined)
    await api.destroySession(intruder.sessionId)
  })

  it('refuses to overwrite what a newer controller epoch wrote', async function () {
    const keys = new ClusterKeys('epochs')
    const catalog = new TopicCatalog(api, keys, recordingLogger())
    const term = await takeControl(api, keys, 'n1')
    await catalog.createTopic(term, {name: 'fresh', partitions: 2, replicationFactor: 1}, NODES, START)
    // The same session under an epoch older than the one that wrote the topic: a stale term.
    const stale = {sessionId: term.sessionId, epoch: term.epoch - 1}
    const refused = await rejection(catalog.deleteTopic(stale, 'fresh'))
    expect(refused.code).to.equal('STALE_CONTROLLER_EPOCH')
    expect(refused.message).to.match(new RegExp(`under controller epoch ${stale.epoch}: epoch ${term.epoch} has written it`))
    expect(await catalog.describeTopic('fresh')).to.not.equal(undefined)

    // Partition states a newer epoch left behind (a creation that died halfway) are not overwritten either.
    await plant(api, keys.partition('orphan', 0), JSON.stringify({version: 1, replicas: ['n1'], leader: 'n1', leaderEpoch: 0, isr: ['n1'], epoch: term.epoch, partitionEpoch: 0}))
    expect((await rejection(catalog.createTopic(stale, {name: 'orphan', partitions: 1, replicationFactor: 1}, NODES, START))).code).to.equal('STALE_CONTROLLER_EPOCH')
    // The current controller takes the orphaned partition over.
    const created = await catalog.createTopic(term, {name: 'orphan', partitions: 1, replicationFactor: 1}, NODES, START)
    expect(created.partitions).to.have.length(1)
    await api.destroySession(term.sessionId)
  })

  it('refuses, in Consul, writes of a term that a newer one replaced, even under the same session', async function () {
    const keys = new ClusterKeys('replaced')
    const catalog = new TopicCatalog(api, keys, recordingLogger())
    const old = await takeControl(api, keys, 'n1')
    // The same session takes the lock again: a new term, a new epoch; the old term lingers in some task.
    const epochEntry = await api.kvGet(keys.controllerEpoch)
    const retaken = await api.transaction(acquireOperations(keys, old.sessionId, {nodeId: 'n1', address: 'n1:1', epoch: old.epoch + 1}, epochEntry))
    expect(retaken.ok).to.equal(true)
    const refused = await rejection(catalog.createTopic(old, {name: 'late', partitions: 3, replicationFactor: 1}, NODES, START))
    expect(refused.code).to.equal('NOT_CONTROLLER')
    expect((await api.kvTree(keys.partitionsPrefix('late'), 0, 0)).data).to.have.length(0)
    const current = {sessionId: old.sessionId, epoch: old.epoch + 1, epochModifyIndex: retaken.ok ? retaken.results.find((result) => result.key === keys.controllerEpoch)!.modifyIndex : 0}
    expect((await catalog.createTopic(current, {name: 'late', partitions: 3, replicationFactor: 1}, NODES, START)).partitions).to.have.length(3)
    await api.destroySession(old.sessionId)
  })

  describe('ISR changes by the leader', function () {
    const keys = new ClusterKeys('isr')
    let catalog: TopicCatalog

    before(async function () {
      catalog = new TopicCatalog(api, keys, recordingLogger())
      const term = await takeControl(api, keys, 'n1')
      await catalog.createTopic(term, {name: 'events', partitions: 2, replicationFactor: 3}, NODES, START)
      // The leader writes without the controller's lock: its session ending changes nothing.
      await api.destroySession(term.sessionId)
    })

    it('lands with the stored leader epoch and partition epoch, and bumps the partition epoch', async function () {
      const before = (await catalog.readPartitionState('events', 0))!
      const leader = before.state.leader!
      const isr = before.state.isr.filter((node) => node === leader)
      const written = await catalog.writeIsr('events', 0, {isr, leaderEpoch: 0, expectedPartitionEpoch: 0})
      expect(written.ok).to.equal(true)
      const stored = (await catalog.readPartitionState('events', 0))!
      expect(stored.state).to.deep.equal({...before.state, isr, partitionEpoch: 1})
      expect(written.ok && written.state).to.deep.equal(stored)
    })

    it('is refused for a stale leader epoch or a stale partition epoch, and changes nothing', async function () {
      const before = (await catalog.readPartitionState('events', 1))!
      const isr = [before.state.leader!]
      const fenced = await catalog.writeIsr('events', 1, {isr, leaderEpoch: 1, expectedPartitionEpoch: 0})
      expect(fenced).to.include({ok: false, reason: 'fenced-leader-epoch'})
      const stale = await catalog.writeIsr('events', 1, {isr, leaderEpoch: 0, expectedPartitionEpoch: 7})
      expect(stale).to.include({ok: false, reason: 'stale-partition-epoch'})
      expect(await catalog.readPartitionState('events', 1)).to.deep.equal(before)
      expect(await catalog.writeIsr('events', 9, {isr, leaderEpoch: 0, expectedPartitionEpoch: 0})).to.include({ok: false, reason: 'unknown-partition'})
    })

    it('is refused by check-and-set when the partition changed between the read and the write', async function () {
      const before = (await catalog.readPartitionState('events', 1))!
      const leader = before.state.leader!
      const other = new TopicCatalog(api, keys, recordingLogger())
      // Between this writer's read and its write, another write of the same partition lands.
      const originalGet = api.kvGet.bind(api)
      let raced = false
      api.kvGet = async (key) => {
        const entry = await originalGet(key)
        if (!raced && key === keys.partition('events', 1)) {
          raced = true
          api.kvGet = originalGet
          const racing = await other.writeIsr('events', 1, {isr: before.state.isr, leaderEpoch: 0, expectedPartitionEpoch: before.state.partitionEpoch})
          expect(racing.ok).to.equal(true)
        }
        return entry
      }
      let result
      try {
        result = await catalog.writeIsr('events', 1, {isr: [leader], leaderEpoch: 0, expectedPartitionEpoch: before.state.partitionEpoch})
      } finally {
        api.kvGet = originalGet
      }
      expect(raced).to.equal(true)
      expect(result).to.deep.equal({ok: false, reason: 'concurrent-change'})
      const after = (await catalog.readPartitionState('events', 1))!
      expect(after.state.isr).to.deep.equal(before.state.isr)
      expect(after.state.partitionEpoch).to.equal(before.state.partitionEpoch + 1)
    })

    it('is fenced once the controller moved leadership to a new leader epoch', async function () {
      const term = await takeControl(api, keys, 'n2')
      const before = (await catalog.readPartitionState('events', 0))!
      const oldLeader = before.state.leader!
      const newLeader = before.state.replicas.find((node) => node !== oldLeader)!
      const moved = (await catalog.writePartitionAsController(term, before, {...before.state, leader: newLeader, leaderEpoch: 1, isr: [newLeader]}))!
      expect(moved.state).to.deep.equal({...before.state, leader: newLeader, leaderEpoch: 1, isr: [newLeader], epoch: term.epoch, partitionEpoch: before.state.partitionEpoch + 1})
      // The controller's write is checked and set too: a second one based on the same read is refused.
      expect(await catalog.writePartitionAsController(term, before, {...before.state, leaderEpoch: 2})).to.equal(undefined)
      // The old leader, still at leader epoch 0 and knowing the new partition epoch, is fenced.
      const fenced = await catalog.writeIsr('events', 0, {isr: [oldLeader], leaderEpoch: 0, expectedPartitionEpoch: moved.state.partitionEpoch})
      expect(fenced).to.include({ok: false, reason: 'fenced-leader-epoch'})
      expect(await catalog.writeIsr('events', 0, {isr: [newLeader, oldLeader], leaderEpoch: 1, expectedPartitionEpoch: moved.state.partitionEpoch})).to.include({ok: true})
      // A deposed controller term cannot move it back.
      const stale = {...term, epoch: term.epoch - 1}
      const current = (await catalog.readPartitionState('events', 0))!
      expect((await rejection(catalog.writePartitionAsController(stale, current, before.state))).code).to.equal('STALE_CONTROLLER_EPOCH')
      await api.destroySession(term.sessionId)
    })

    it('refuses an ISR that is not made of the replicas and the leader', async function () {
      const before = (await catalog.readPartitionState('events', 0))!
      const refused = await rejection(
        catalog.writeIsr('events', 0, {isr: ['n1', 'n9'], leaderEpoch: before.state.leaderEpoch, expectedPartitionEpoch: before.state.partitionEpoch}),
      )
      expect(refused.code).to.equal('INVALID_ARGUMENT')
    })
  })

  it('skips corrupt topic and partition values with a warning instead of failing', async function () {
    const keys = new ClusterKeys('corrupt')
    const logger = recordingLogger()
    const catalog = new TopicCatalog(api, keys, logger)
    const term = await takeControl(api, keys, 'n1')
    await catalog.createTopic(term, {name: 'good', partitions: 3, replicationFactor: 2}, NODES, START)
    await plant(api, keys.topic('garbage'), '{not json')
    await plant(api, keys.topic('wrong-types'), JSON.stringify({version: 1, name: 'wrong-types', partitions: 'three'}))
    await plant(api, keys.topic('future'), JSON.stringify({version: 2, name: 'future'}))
    await plant(api, keys.partition('good', 1), JSON.stringify({version: 1, replicas: 'n1', leader: 'n1'}))

    expect((await catalog.listTopics()).map((topic) => topic.name)).to.deep.equal(['good'])
    expect(logger.warnings.map((warning) => warning.fields.key)).to.have.members([keys.topic('garbage'), keys.topic('wrong-types'), keys.topic('future')])
    expect(logger.warnings.find((warning) => warning.fields.key === keys.topic('future'))?.fields.reason).to.match(/record version 2/)

    logger.warnings.length = 0
    const described = (await catalog.describeTopic('good'))!
    expect(described.partitions.map((stored) => stored.partition)).to.deep.equal([0, 2])
    expect(logger.warnings.map((warning) => warning.fields.key)).to.deep.equal([keys.partition('good', 1)])
    expect(await catalog.readPartitionState('good', 1)).to.equal(undefined)
    expect(await catalog.describeTopic('garbage')).to.equal(undefined)
    await api.destroySession(term.sessionId)
  })

  it('refuses a topic record written under an older controller epoch than one it read, keeping the record it had', async function () {
    const keys = new ClusterKeys('stale-topic')
    const logger = recordingLogger()
    const catalog = new TopicCatalog(api, keys, logger)
    const term = await takeControl(api, keys, 'n1')
    await catalog.createTopic(term, {name: 'orders', partitions: 2, replicationFactor: 2, settings: {'retention.ms': '1000'}}, NODES, START)
    const created = (await catalog.readTopic('orders'))!
    expect(created.epoch).to.equal(term.epoch)
    const rewritten = (epoch: number, retentionMs: string) => JSON.stringify({...created, epoch, settings: {'retention.ms': retentionMs}})

    // What a deposed controller, or a Consul restored from an old snapshot, could leave.
    await plant(api, keys.topic('orders'), rewritten(term.epoch - 1, '5'))
    expect((await catalog.readTopic('orders'))!.settings).to.deep.equal({'retention.ms': '1000'})
    expect((await catalog.listTopics()).map((topic) => topic.settings)).to.deep.equal([{'retention.ms': '1000'}])
    expect((await catalog.describeTopic('orders'))!.topic.settings).to.deep.equal({'retention.ms': '1000'})
    expect(logger.warnings.map((warning) => warning.message)).to.include('ignoring a topic record from an older controller epoch')
    expect(logger.warnings.find((warning) => warning.message === 'ignoring a topic record from an older controller epoch')?.fields.reason).to.match(new RegExp(`controller epoch ${term.epoch - 1}: epoch ${term.epoch} has been seen`))

    // A newer epoch is taken, and from then on the epoch before it is the stale one.
    await plant(api, keys.topic('orders'), rewritten(term.epoch + 1, '7'))
    expect((await catalog.readTopic('orders'))!.settings).to.deep.equal({'retention.ms': '7'})
    await plant(api, keys.topic('orders'), rewritten(term.epoch, '1000'))
    expect((await catalog.readTopic('orders'))!.settings).to.deep.equal({'retention.ms': '7'})
    // The same epoch again is no regression (a controller rewriting its own record).
    await plant(api, keys.topic('orders'), rewritten(term.epoch + 1, '8'))
    expect((await catalog.readTopic('orders'))!.settings).to.deep.equal({'retention.ms': '8'})
    await api.destroySession(term.sessionId)
  })

  it('refuses a topic record over Consul’s value limit before writing anything', async function () {
    const keys = new ClusterKeys('large')
    const catalog = new TopicCatalog(api, keys, recordingLogger())
    const term = await takeControl(api, keys, 'n1')
    const settings = {'huge.setting': 'x'.repeat(600 * 1024)}
    const refused = await rejection(catalog.createTopic(term, {name: 'big-settings', partitions: 1, replicationFactor: 1, settings}, NODES, START))
    expect(refused.code).to.equal('INVALID_ARGUMENT')
    expect(refused.message).to.match(/over Consul's limit of 524288/)
    expect(await catalog.describeTopic('big-settings')).to.equal(undefined)
    await api.destroySession(term.sessionId)
  })
})
