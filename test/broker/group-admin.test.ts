/**
 * The group tooling's operations on a real standalone broker's table of committed offsets, with
 * a small fake GroupMembershipView standing in for the coordinator's live membership: describe
 * shows the members, seek refuses a group with members unless forced, delete always refuses
 * one, and a deletion is durable (tombstones a reopened broker honours).
 */
import {expect} from 'chai'
import {mkdtemp} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Broker, type BrokerConfig} from '../../src/broker/broker.js'
import {deleteGroup, describeGroup, listGroups, resetGroupOffsets} from '../../src/broker/group-admin.js'
import type {GroupMembership, GroupMembershipView} from '../../src/broker/group-membership-view.js'
import {LignumError} from '../../src/errors.js'
import {silentLogger} from '../../src/logger.js'

const config: BrokerConfig = {autoCreateTopics: true, defaultPartitions: 1, partitionsPerTopicMax: 64, batchBytesMax: 64 * 1024, logDefaults: {flushPolicy: 'never'}}

/** Live members for the named groups; every other group Empty. */
function fakeMembership(groups: Record<string, GroupMembership>): GroupMembershipView {
  return {
    membershipOf: (group) => groups[group] ?? {state: 'Empty', generationId: 0, protocol: '', members: []},
    groupsWithMembers: () => Object.keys(groups),
  }
}

const STABLE_READERS: GroupMembership = {
  state: 'Stable',
  generationId: 7,
  protocol: 'range',
  members: [
    {memberId: 'readers-1-aaaa', clientId: 'lignum-cli', host: '/10.0.0.1', assignment: [{topic: 'orders', partitions: [0]}]},
    {memberId: 'readers-2-bbbb', clientId: 'lignum-cli', host: '/10.0.0.2', assignment: [{topic: 'orders', partitions: [1]}]},
  ],
}

async function refusal(promise: Promise<unknown> | (() => unknown)): Promise<LignumError> {
  const caught = await Promise.resolve()
    .then(() => (typeof promise === 'function' ? promise() : promise))
    .then(() => undefined, (error: unknown) => error)
  expect(caught, 'expected a refusal').to.be.instanceOf(LignumError)
  return caught as LignumError
}


/** A coordinator with no live member in any group: the tooling sees committed offsets only. */
const noLiveMembers: GroupMembershipView = {membershipOf: () => ({state: 'Empty', generationId: 0, protocol: '', members: []}), groupsWithMembers: () => []}

describe('group tooling on a coordinator (list, describe, seek, delete)', () => {
  let dataDir: string
  let broker: Broker
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-group-admin-'))
    broker = await Broker.open(dataDir, config, silentLogger)
    await broker.createTopic('orders', {partitions: 2})
    await broker.commitOffsets('readers', [{topic: 'orders', partition: 0, offset: 3, metadata: ''}])
    await broker.commitOffsets('auditors', [{topic: 'orders', partition: 1, offset: 1, metadata: ''}])
  })
  afterEach(async () => {
    await broker.close()
  })

  it('describes a group\'s live members and assignments beside its committed offsets', () => {
    const details = describeGroup('readers', broker.groupOffsetsTable(), fakeMembership({readers: STABLE_READERS}))
    expect(details).to.deep.include({group: 'readers', state: 'Stable', generationId: 7, protocol: 'range'})
    expect(details.members.map((member) => [member.memberId, member.host, member.assignment])).to.deep.equal([
      ['readers-1-aaaa', '/10.0.0.1', [{topic: 'orders', partitions: [0]}]],
      ['readers-2-bbbb', '/10.0.0.2', [{topic: 'orders', partitions: [1]}]],
    ])
    expect(details.offsets).to.deep.equal([{topic: 'orders', partition: 0, offset: 3, metadata: ''}])
  })

  it('lists groups with offsets and groups with live members only, each once, with their state', () => {
    const membership = fakeMembership({readers: STABLE_READERS, joining: {...STABLE_READERS, state: 'PreparingRebalance'}})
    expect(listGroups(broker.groupOffsetsTable(), membership)).to.deep.equal([
      {group: 'auditors', state: 'Empty', memberCount: 0},
      {group: 'joining', state: 'PreparingRebalance', memberCount: 2},
      {group: 'readers', state: 'Stable', memberCount: 2},
    ])
  })

  it('refuses to seek a group with live members unless forced, and then moves it', async () => {
    const table = broker.groupOffsetsTable()
    const membership = fakeMembership({readers: STABLE_READERS})
    const target = [{topic: 'orders', partition: 0, offset: 0, metadata: ''}]
    const refused = await refusal(resetGroupOffsets('readers', target, {force: false, validateOnly: false}, table, membership))
    expect(refused.code).to.equal('NON_EMPTY_GROUP')
    expect(refused.message).to.equal('group "readers" has 2 live member(s) (state Stable)')
    expect(refused.hint).to.match(/^stop its consumers first, or pass --force/)
    expect(broker.fetchOffsets('readers')[0]?.offset).to.equal(3)
    const forced = await resetGroupOffsets('readers', target, {force: true, validateOnly: false}, table, membership)
    expect(forced).to.deep.equal([{topic: 'orders', partition: 0, previousOffset: 3, offset: 0}])
    expect(broker.fetchOffsets('readers')[0]?.offset).to.equal(0)
  })

  it('answers a dry run with the changes and commits nothing', async () => {
    const changes = await resetGroupOffsets('readers', [{topic: 'orders', partition: 1, offset: 0, metadata: ''}], {force: false, validateOnly: true}, broker.groupOffsetsTable(), noLiveMembers)
    expect(changes).to.deep.equal([{topic: 'orders', partition: 1, previousOffset: undefined, offset: 0}])
    expect(broker.fetchOffsets('readers')).to.have.length(1)
  })

  it('refuses to delete a group with live members, with how to fix it; deletes an empty one', async () => {
    const refused = await refusal(deleteGroup('readers', broker.groupOffsetsTable(), fakeMembership({readers: STABLE_READERS})))
    expect(refused.code).to.equal('NON_EMPTY_GROUP')
    expect(refused.message).to.match(/cannot delete group "readers": it has 2 live member\(s\).*stop its consumers/)
    expect(broker.fetchOffsets('readers')).to.have.length(1)
    expect(await deleteGroup('readers', broker.groupOffsetsTable(), noLiveMembers)).to.equal(1)
    expect(broker.fetchOffsets('readers')).to.deep.equal([])
  })

  it('answers NOT_FOUND for a group with neither offsets nor members', async () => {
    expect((await refusal(() => describeGroup('nobody', broker.groupOffsetsTable(), noLiveMembers))).code).to.equal('NOT_FOUND')
    expect((await refusal(deleteGroup('nobody', broker.groupOffsetsTable(), noLiveMembers))).code).to.equal('NOT_FOUND')
  })

  it('keeps a deletion across a reopen also for offsets of a topic deleted before', async () => {
    await broker.createTopic('gone', {partitions: 1})
    await broker.commitOffsets('readers', [{topic: 'gone', partition: 0, offset: 0, metadata: ''}])
    await broker.deleteTopic('gone')
    expect(await deleteGroup('readers', broker.groupOffsetsTable(), noLiveMembers)).to.equal(1)
    await broker.close()
    broker = await Broker.open(dataDir, config, silentLogger)
    expect(broker.groupOffsetsTable().groups()).to.deep.equal(['auditors'])
  })

  it('keeps a deletion across a reopen (tombstones in __consumer_offsets), and a later commit after it', async () => {
    await deleteGroup('readers', broker.groupOffsetsTable(), noLiveMembers)
    await broker.commitOffsets('auditors', [{topic: 'orders', partition: 0, offset: 2, metadata: ''}])
    await broker.close()
    broker = await Broker.open(dataDir, config, silentLogger)
    expect(broker.groupOffsetsTable().groups()).to.deep.equal(['auditors'])
    expect(broker.fetchOffsets('auditors').map((entry) => entry.offset)).to.deep.equal([2, 1])
    await broker.commitOffsets('readers', [{topic: 'orders', partition: 1, offset: 5, metadata: ''}])
    await broker.close()
    broker = await Broker.open(dataDir, config, silentLogger)
    expect(broker.fetchOffsets('readers')).to.deep.equal([{topic: 'orders', partition: 1, offset: 5, metadata: ''}])
  })
})
