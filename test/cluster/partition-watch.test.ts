/**
 * A node's watch on the topic catalog against a real Consul: it learns topics from their
 * names only, follows the partition states of the topics it holds replicas of and of no
 * other, so one partition's ISR change reaches it with its topic's states and not the whole
 * tree; stale and corrupt states are refused with a warning.
 */
import {expect} from 'chai'
import {ClusterKeys} from '../../src/cluster/cluster-keys.js'
import {ConsulApi} from '../../src/cluster/consul-api.js'
import {PartitionWatch, type CatalogEvent} from '../../src/cluster/partition-watch.js'
import {TopicCatalog} from '../../src/cluster/topic-catalog.js'
import {useConsul} from '../helpers/consul-suite.js'
import {plant, recordingLogger, sleep, takeControl, waitFor, type RecordingLogger} from './catalog-fixtures.js'

const REQUEST_TIMEOUT_MS = 5_000
const START = {nodeIndex: 0, shift: 0}
// Long enough for a blocking query to answer a change on loopback many times over.
const QUIET_MS = 500

describe('partition watch (real Consul)', function () {
  this.timeout(120_000)
  const consul = useConsul({stopFirst: () => api?.close()})
  let api: ConsulApi
  let watches: PartitionWatch[] = []

  before(async function () {
    api = new ConsulApi(consul().url, REQUEST_TIMEOUT_MS)
  })

  afterEach(async () => {
    await Promise.all(watches.map((watch) => watch.stop()))
    watches = []
  })

  function watchAs(keys: ClusterKeys, nodeId: string, logger: RecordingLogger = recordingLogger()): {watch: PartitionWatch; events: CatalogEvent[]} {
    const events: CatalogEvent[] = []
    const watch = new PartitionWatch({api, keys, nodeId, logger, onEvent: (event) => events.push(event)})
    watches.push(watch)
    watch.start()
    return {watch, events}
  }

  const changes = (events: CatalogEvent[]) =>
    events.flatMap((event) => (event.kind === 'partition-changed' ? [`${event.stored.topic}-${event.stored.partition}`] : []))

  it('delivers one partition’s ISR change to the nodes holding its topic, with that topic’s states only', async function () {
    const keys = new ClusterKeys('traffic')
    const catalog = new TopicCatalog(api, keys, recordingLogger())
    const term = await takeControl(api, keys, 'n1')
    await catalog.createTopic(term, {name: 'held', partitions: 8, replicationFactor: 2}, ['n1', 'n2'], START)
    await catalog.createTopic(term, {name: 'elsewhere', partitions: 100, replicationFactor: 2}, ['n2', 'n3'], START)
    const holder = watchAs(keys, 'n1')
    const outsider = watchAs(keys, 'n4')
    await waitFor('n1 to follow its topic', () => holder.watch.followedTopics().includes('held') && changes(holder.events).length === 8)
    await waitFor('n4 to settle', () => outsider.events.filter((event) => event.kind === 'topic-created').length === 2 && outsider.watch.followedTopics().length === 0)
    await sleep(QUIET_MS)
    expect(holder.watch.followedTopics()).to.deep.equal(['held'])
    expect(changes(holder.events)).to.deep.equal(Array.from({length: 8}, (_, index) => `held-${index}`))

    const holderBefore = {...holder.watch.traffic}
    const outsiderBefore = {...outsider.watch.traffic}
    holder.events.length = 0
    const state = (await catalog.readPartitionState('held', 3))!
    const written = await catalog.writeIsr('held', 3, {isr: [state.state.leader!], leaderEpoch: 0, expectedPartitionEpoch: 0})
    expect(written.ok).to.equal(true)
    await waitFor('the ISR change to reach n1', () => changes(holder.events).length === 1)
    await sleep(QUIET_MS)
    expect(changes(holder.events)).to.deep.equal(['held-3'])
    const event = holder.events[0] as Extract<CatalogEvent, {kind: 'partition-changed'}>
    expect(event.stored.state.isr).to.deep.equal([state.state.leader])

    // n1 got one answer with its topic's 8 states: not the 100 of the other topic, not the tree.
    expect(holder.watch.traffic.partitionAnswers - holderBefore.partitionAnswers).to.equal(1)
    expect(holder.watch.traffic.partitionEntriesReceived - holderBefore.partitionEntriesReceived).to.equal(8)
    expect(holder.watch.traffic.topicListAnswers).to.equal(holderBefore.topicListAnswers)
    const treeEntries = (await api.kvTree(keys.prefix, 0, 0)).data.length
    expect(treeEntries).to.be.greaterThan(100)
    // n4 holds nothing: an ISR change costs it nothing at all.
    expect(outsider.watch.traffic).to.deep.equal(outsiderBefore)

    // A change of the topic n1 does not hold does not reach it either.
    const elsewhere = (await catalog.readPartitionState('elsewhere', 0))!
    expect((await catalog.writeIsr('elsewhere', 0, {isr: [elsewhere.state.leader!], leaderEpoch: 0, expectedPartitionEpoch: 0})).ok).to.equal(true)
    await sleep(QUIET_MS)
    expect(holder.watch.traffic.partitionAnswers - holderBefore.partitionAnswers).to.equal(1)
    expect(changes(holder.events)).to.deep.equal(['held-3'])
    await api.destroySession(term.sessionId)
  })

  it('tells of topics created and deleted, from their names only, and stops following a deleted one', async function () {
    const keys = new ClusterKeys('lifecycle')
    const catalog = new TopicCatalog(api, keys, recordingLogger())
    const term = await takeControl(api, keys, 'n1')
    const node = watchAs(keys, 'n1')
    await waitFor('the first topic list', () => node.watch.traffic.topicListAnswers > 0)
    await catalog.createTopic(term, {name: 'brief', partitions: 2, replicationFactor: 1}, ['n1'], START)
    await waitFor('the topic to be followed', () => changes(node.events).length === 2)
    expect(node.events[0]).to.deep.equal({kind: 'topic-created', topic: 'brief'})
    expect(node.watch.followedTopics()).to.deep.equal(['brief'])

    await catalog.deleteTopic(term, 'brief')
    await waitFor('the deletion', () => node.events.some((event) => event.kind === 'topic-deleted'))
    expect(node.events.at(-1)).to.deep.equal({kind: 'topic-deleted', topic: 'brief'})
    expect(node.watch.followedTopics()).to.deep.equal([])
    // Names, never records: the topic list answers carried one name at most.
    expect(node.watch.traffic.topicNamesReceived).to.be.at.most(node.watch.traffic.topicListAnswers)
    await api.destroySession(term.sessionId)
  })

  it('refuses a partition state from an older controller epoch and skips a corrupt one, with warnings', async function () {
    const keys = new ClusterKeys('guarded')
    const catalog = new TopicCatalog(api, keys, recordingLogger())
    const term = await takeControl(api, keys, 'n1')
    await catalog.createTopic(term, {name: 'fenced', partitions: 2, replicationFactor: 1}, ['n1'], START)
    const logger = recordingLogger()
    const node = watchAs(keys, 'n1', logger)
    await waitFor('the topic to be followed', () => changes(node.events).length === 2)
    node.events.length = 0

    const current = (await catalog.readPartitionState('fenced', 0))!
    await plant(api, keys.partition('fenced', 0), JSON.stringify({...current.state, isr: [], epoch: term.epoch - 1, partitionEpoch: 9}))
    await plant(api, keys.partition('fenced', 1), '{"version":1,"replicas":')
    await waitFor('both warnings', () => logger.warnings.length === 2)
    await sleep(QUIET_MS)
    expect(changes(node.events)).to.deep.equal([])
    expect(logger.warnings.map((warning) => warning.message)).to.have.members([
      'ignoring a partition state from an older controller epoch',
      'ignoring an unreadable catalog record in Consul',
    ])

    // The watch lives on: a good state after the bad ones is delivered.
    await plant(api, keys.partition('fenced', 0), JSON.stringify({...current.state, partitionEpoch: 10}))
    await waitFor('the good state', () => changes(node.events).length === 1)
    expect(changes(node.events)).to.deep.equal(['fenced-0'])
    await api.destroySession(term.sessionId)
  })
})
