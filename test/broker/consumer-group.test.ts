/**
 * The classic group protocol's state machine at the coordinator (broker/consumer-group.ts and
 * its registry, group-membership.ts): rounds and generations, the leader's assignment reaching
 * every member, session expiry, the rebalance timeout, and the fencing of stale members' commits.
 * Real timers, at the shortest session timeout allowed (1 s).
 */
import {expect} from 'chai'
import {SESSION_TIMEOUT_MS_MIN, type JoinRequest} from '../../src/broker/consumer-group.js'
import {GroupMemberships} from '../../src/broker/group-membership.js'
import {LignumError} from '../../src/errors.js'
import {decodeAssignment, encodeAssignment, encodeSubscription} from '../../src/format/consumer-protocol.js'
import {createLogger} from '../../src/logger.js'

const sessionTimeoutMs = SESSION_TIMEOUT_MS_MIN

function joinRequest(memberId = '', overrides: Partial<JoinRequest> = {}): JoinRequest {
  return {
    memberId,
    clientId: 'test',
    host: '127.0.0.1',
    protocolType: 'consumer',
    protocols: [{name: 'range', metadata: encodeSubscription({topics: ['orders'], ownedPartitions: []})}],
    sessionTimeoutMs,
    rebalanceTimeoutMs: 5_000,
    ...overrides,
  }
}

async function refusal(action: () => unknown): Promise<string> {
  try {
    await action()
  } catch (error) {
    expect(error).to.be.instanceOf(LignumError)
    return (error as LignumError).code
  }
  return 'accepted'
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('consumer group membership at the coordinator', function () {
  this.timeout(20_000)
  let groups: GroupMemberships
  beforeEach(() => {
    groups = new GroupMemberships(createLogger({level: 'error'}))
  })
  afterEach(() => groups.close())

  /** Two members in a Stable generation 2: a joined alone (generation 1), then b joined and a rejoined. */
  async function twoMembers() {
    const a1 = await groups.join('g', joinRequest())
    expect(a1.generationId).to.equal(1)
    await groups.sync('g', a1, new Map([[a1.memberId, encodeAssignment([{topic: 'orders', partitions: [0, 1]}])]]))
    const bJoining = groups.join('g', joinRequest())
    expect(groups.membershipOf('g').state).to.equal('PreparingRebalance')
    expect(await refusal(() => groups.heartbeat('g', a1))).to.equal('REBALANCE_IN_PROGRESS')
    const a2 = await groups.join('g', joinRequest(a1.memberId))
    const b2 = await bJoining
    return {a1, a2, b2}
  }

  it('starts a generation once every member joined; the leader alone gets the members, and every member its assignment', async () => {
    const {a1, a2, b2} = await twoMembers()
    expect(a2.generationId).to.equal(2)
    expect(b2.generationId).to.equal(2)
    expect(a2.leaderId).to.equal(a1.memberId)
    expect(b2.leaderId).to.equal(a1.memberId)
    expect(a2.members.map((member) => member.memberId).sort()).to.deep.equal([a1.memberId, b2.memberId].sort())
    expect(b2.members).to.deep.equal([])
    expect(groups.membershipOf('g').state).to.equal('CompletingRebalance')
    const followerSync = groups.sync('g', b2, new Map())
    const assignments = new Map([
      [a2.memberId, encodeAssignment([{topic: 'orders', partitions: [0, 1, 2]}])],
      [b2.memberId, encodeAssignment([{topic: 'orders', partitions: [3, 4, 5]}])],
    ])
    expect(decodeAssignment(await groups.sync('g', a2, assignments))).to.deep.equal([{topic: 'orders', partitions: [0, 1, 2]}])
    expect(decodeAssignment(await followerSync)).to.deep.equal([{topic: 'orders', partitions: [3, 4, 5]}])
    const view = groups.membershipOf('g')
    expect(view).to.include({state: 'Stable', generationId: 2, protocol: 'range'})
    expect(view.members.find((member) => member.memberId === b2.memberId)?.assignment).to.deep.equal([{topic: 'orders', partitions: [3, 4, 5]}])
    expect(groups.groupsWithMembers()).to.deep.equal(['g'])
  })

  it('fences commits: an older generation, an unknown member, and a commit without membership while members live', async () => {
    const {a1, a2, b2} = await twoMembers()
    await groups.sync('g', a2, new Map())
    await groups.sync('g', b2, new Map())
    expect(await refusal(() => groups.checkCommit('g', a1 /* generation 1 */))).to.equal('ILLEGAL_GENERATION')
    expect(await refusal(() => groups.checkCommit('g', {memberId: 'nobody', generationId: 2}))).to.equal('UNKNOWN_MEMBER_ID')
    expect(await refusal(() => groups.checkCommit('g', undefined))).to.equal('UNKNOWN_MEMBER_ID')
    expect(await refusal(() => groups.checkCommit('g', a2))).to.equal('accepted')
    // While a rebalance's join phase runs, members still commit what they read before giving it up.
    const joining = groups.join('g', joinRequest(b2.memberId, {protocols: [{name: 'range', metadata: Buffer.from('changed')}]}))
    expect(groups.membershipOf('g').state).to.equal('PreparingRebalance')
    expect(await refusal(() => groups.checkCommit('g', a2))).to.equal('accepted')
    groups.leave('g', a2.memberId)
    const b3 = await joining
    expect(b3.generationId).to.equal(3)
    groups.leave('g', b3.memberId)
    expect(groups.membershipOf('g')).to.deep.equal({state: 'Empty', generationId: 0, protocol: '', members: []})
    expect(await refusal(() => groups.checkCommit('g', undefined))).to.equal('accepted')
  })

  it('removes a member after its session timeout and rebalances the others', async () => {
    const {a2, b2} = await twoMembers()
    await groups.sync('g', a2, new Map())
    await groups.sync('g', b2, new Map())
    // a keeps its session; b goes silent.
    const beats = setInterval(() => {
      try {
        groups.heartbeat('g', a2)
      } catch {
        // REBALANCE_IN_PROGRESS once b has expired: asserted below.
      }
    }, sessionTimeoutMs / 4)
    try {
      await sleep(sessionTimeoutMs * 1.5)
    } finally {
      clearInterval(beats)
    }
    expect(groups.membershipOf('g').members.map((member) => member.memberId)).to.deep.equal([a2.memberId])
    expect(await refusal(() => groups.heartbeat('g', a2))).to.equal('REBALANCE_IN_PROGRESS')
    expect(await refusal(() => groups.heartbeat('g', b2))).to.equal('UNKNOWN_MEMBER_ID')
    const a3 = await groups.join('g', joinRequest(a2.memberId))
    expect(a3.generationId).to.equal(3)
    expect(a3.members.map((member) => member.memberId)).to.deep.equal([a2.memberId])
  })

  it('ends a round at the rebalance timeout without the members that did not rejoin', async () => {
    const a1 = await groups.join('g', joinRequest('', {rebalanceTimeoutMs: 300, sessionTimeoutMs: 5_000}))
    await groups.sync('g', a1, new Map())
    const started = Date.now()
    const b = await groups.join('g', joinRequest('', {rebalanceTimeoutMs: 300, sessionTimeoutMs: 5_000}))
    expect(Date.now() - started).to.be.at.least(250)
    expect(b.generationId).to.equal(2)
    expect(b.leaderId).to.equal(b.memberId)
    expect(b.members.map((member) => member.memberId)).to.deep.equal([b.memberId])
    expect(await refusal(() => groups.heartbeat('g', a1))).to.equal('UNKNOWN_MEMBER_ID')
  })

  it('refuses a member whose assignor no member shares, and a first sync from an older generation', async () => {
    const a1 = await groups.join('g', joinRequest())
    const other = joinRequest('', {protocols: [{name: 'cooperative-sticky', metadata: Buffer.alloc(0)}]})
    expect(await refusal(() => groups.join('g', other))).to.equal('INCONSISTENT_GROUP_PROTOCOL')
    expect(await refusal(() => groups.sync('g', {memberId: a1.memberId, generationId: 0}, new Map()))).to.equal('ILLEGAL_GENERATION')
    expect(await refusal(() => groups.join('g', joinRequest('', {sessionTimeoutMs: 10})))).to.equal('INVALID_ARGUMENT')
  })

  it('answers waiting members NOT_COORDINATOR when coordination moves away', async () => {
    const a1 = await groups.join('g', joinRequest())
    await groups.sync('g', a1, new Map())
    const bJoining = groups.join('g', joinRequest())
    groups.close()
    expect(await refusal(() => bJoining)).to.equal('NOT_COORDINATOR')
    expect(await refusal(() => groups.heartbeat('g', a1))).to.equal('NOT_COORDINATOR')
  })
})
