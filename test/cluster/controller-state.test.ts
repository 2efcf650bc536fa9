/**
 * The controller's state in Consul KV against a real Consul: taking the lock bumps the epoch
 * in the same transaction, and a write fenced by a session that no longer holds the lock is
 * refused by Consul itself; records from an older epoch are refused by the nodes.
 */
import {expect} from 'chai'
import {ClusterKeys} from '../../src/cluster/cluster-keys.js'
import {ConsulApi, type KvEntry} from '../../src/cluster/consul-api.js'
import {acquireOperations, EpochGuard, parseNodeRecord, parsePartitionAssignment, writeAsController} from '../../src/cluster/controller-state.js'
import {LignumError} from '../../src/errors.js'
import {useConsul} from '../helpers/consul-suite.js'

const REQUEST_TIMEOUT_MS = 5_000

describe('controller state in Consul KV (real Consul)', function () {
  this.timeout(120_000)
  const consul = useConsul({stopFirst: () => api?.close()})
  let api: ConsulApi
  const keys = new ClusterKeys('fencing')

  before(async function () {
    api = new ConsulApi(consul().url, REQUEST_TIMEOUT_MS)
  })

  async function entries(): Promise<Map<string, KvEntry>> {
    const tree = await api.kvTree(keys.prefix, 0, 0)
    return new Map(tree.data.map((entry) => [entry.key, entry]))
  }

  async function session(name: string): Promise<string> {
    // Sessions on the agent's gossip check only: enough to hold locks in this test.
    return api.createSession({name, checkIds: ['serfHealth'], lockDelayMs: 0})
  }

  it('takes the lock and bumps the epoch in one transaction; a second taker is refused and bumps nothing', async function () {
    const first = await session('first')
    const second = await session('second')
    const taken = await api.transaction(acquireOperations(keys, first, {nodeId: 'a', address: 'a:1', epoch: 1}, undefined))
    expect(taken.ok).to.equal(true)
    const afterFirst = await entries()
    expect(afterFirst.get(keys.controller)?.session).to.equal(first)
    expect(afterFirst.get(keys.controllerEpoch)?.value).to.equal('1')

    const refused = await api.transaction(acquireOperations(keys, second, {nodeId: 'b', address: 'b:1', epoch: 2}, afterFirst.get(keys.controllerEpoch)))
    expect(refused.ok).to.equal(false)
    const afterSecond = await entries()
    expect(afterSecond.get(keys.controller)?.session).to.equal(first)
    expect(afterSecond.get(keys.controllerEpoch)?.value).to.equal('1')

    // An epoch counter read before someone else bumped it cannot be used to take over.
    await api.destroySession(first)
    const stale = await api.transaction(acquireOperations(keys, second, {nodeId: 'b', address: 'b:1', epoch: 1}, undefined))
    expect(stale.ok).to.equal(false)
    const fresh = await api.transaction(acquireOperations(keys, second, {nodeId: 'b', address: 'b:1', epoch: 2}, afterSecond.get(keys.controllerEpoch)))
    expect(fresh.ok).to.equal(true)
    expect((await entries()).get(keys.controllerEpoch)?.value).to.equal('2')
    await api.destroySession(second)
  })

  it('accepts a controller write only from the lock holder and only at the expected index', async function () {
    const holder = await session('holder')
    const other = await session('other')
    const epochEntry = (await entries()).get(keys.controllerEpoch)
    const nextEpoch = Number(epochEntry?.value ?? 0) + 1
    expect((await api.transaction(acquireOperations(keys, holder, {nodeId: 'h', address: 'h:1', epoch: nextEpoch}, epochEntry))).ok).to.equal(true)
    const key = keys.node('n1')
    const record = {id: 'n1', address: '127.0.0.1:1', version: 'v', epoch: nextEpoch}

    expect(await writeAsController(api, keys, other, {key, value: record, expectedModifyIndex: 0})).to.equal(false)
    expect((await entries()).get(key)).to.equal(undefined)

    expect(await writeAsController(api, keys, holder, {key, value: record, expectedModifyIndex: 0})).to.equal(true)
    const written = (await entries()).get(key)!
    expect(parseNodeRecord(written.value)).to.deep.equal(record)

    // Check-and-set: a write based on an old read is refused.
    expect(await writeAsController(api, keys, holder, {key, value: {...record, address: 'x:2'}, expectedModifyIndex: 0})).to.equal(false)
    expect(await writeAsController(api, keys, holder, {key, value: {...record, address: 'x:2'}, expectedModifyIndex: written.modifyIndex})).to.equal(true)

    // Once the session is gone, so is the right to write.
    await api.destroySession(holder)
    const current = (await entries()).get(key)!
    expect(await writeAsController(api, keys, holder, {key, value: {...record, address: 'late:3'}, expectedModifyIndex: current.modifyIndex})).to.equal(false)
    expect(parseNodeRecord((await entries()).get(key)!.value)?.address).to.equal('x:2')
    await api.destroySession(other)
  })

  // The same agent, under another cluster prefix.
  describe('partition assignments', () => {
    const keys = new ClusterKeys('assignments')

  it('are written by the controller under its epoch and read back through the epoch guard', async function () {
    const session = await api.createSession({name: 'controller', checkIds: ['serfHealth'], lockDelayMs: 0})
    expect((await api.transaction(acquireOperations(keys, session, {nodeId: 'c', address: 'c:1', epoch: 7}, undefined))).ok).to.equal(true)
    const key = keys.partition('orders.v1', 3)
    expect(key).to.equal('lignum/assignments/partitions/orders.v1/3')
    const assignment = {replicas: ['n1', 'n2', 'n3'], leader: 'n2', leaderEpoch: 4, isr: ['n2', 'n3'], epoch: 7}
    expect(await writeAsController(api, keys, session, {key, value: assignment, expectedModifyIndex: 0})).to.equal(true)

    const stored = (await api.kvTree(keys.prefix, 0, 0)).data.find((entry) => entry.key === key)!
    const read = parsePartitionAssignment(stored.value)
    expect(read).to.deep.equal(assignment)
    const guard = new EpochGuard()
    guard.observe(7)
    guard.check(read!.epoch, `partition orders.v1-3`)
    guard.observe(8)
    expect(() => guard.check(read!.epoch, 'partition orders.v1-3')).to.throw(LignumError, /controller epoch 7: epoch 8 has been seen/)
    await api.destroySession(session)
  })

  it('refuses to parse a record that is not an assignment', function () {
    expect(parsePartitionAssignment('{"replicas":"n1","isr":[],"leaderEpoch":0,"epoch":1}')).to.equal(undefined)
    expect(parsePartitionAssignment('{"replicas":[],"isr":[],"leaderEpoch":-1,"epoch":1}')).to.equal(undefined)
    expect(parsePartitionAssignment('not json')).to.equal(undefined)
    expect(parsePartitionAssignment(null)).to.equal(undefined)
    expect(parsePartitionAssignment('{"replicas":["n1"],"leader":null,"isr":[],"leaderEpoch":0,"epoch":1}')).to.deep.equal({
      replicas: ['n1'],
      leader: null,
      leaderEpoch: 0,
      isr: [],
      epoch: 1,
    })
  })
})

describe('epoch guard', function () {
  it('remembers the highest epoch and refuses records from an older one', function () {
    const guard = new EpochGuard()
    guard.check(3, 'partition a-0')
    guard.observe(2)
    expect(guard.highest).to.equal(3)
    guard.check(3, 'partition a-1')
    expect(() => guard.check(2, 'partition a-0'))
      .to.throw(LignumError, 'refusing partition a-0 written under controller epoch 2: epoch 3 has been seen')
      .with.property('code', 'STALE_CONTROLLER_EPOCH')
    guard.check(5, 'partition a-0')
    expect(guard.highest).to.equal(5)
  })
})
})
