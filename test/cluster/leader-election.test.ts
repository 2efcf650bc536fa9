/**
 * The controller's choice of a partition's next leader, on its own: the first live in-sync
 * replica in assignment order at the next leader epoch, the dead leader out of the ISR; offline
 * when no in-sync replica is live; the first live replica when the topic allows unclean election.
 * A replica its node reports damaged is never elected; an unverified one only when no verified
 * in-sync replica is live.
 */
import {expect} from 'chai'
import {electLeader, type ElectionInput} from '../../src/cluster/leader-election.js'
import {eligibilityOf, replicaHealthFromMeta, replicaHealthMeta} from '../../src/cluster/replica-health.js'

const state = (fields: Partial<ElectionInput>): ElectionInput => ({replicas: ['a', 'b', 'c'], leader: 'a', leaderEpoch: 4, isr: ['a', 'b', 'c'], ...fields})

describe('leader election choice', () => {
  it('keeps a live leader', () => {
    expect(electLeader(state({}), new Set(['a', 'b', 'c']), false)).to.deep.equal({kind: 'unchanged'})
  })

  it('picks the first live in-sync replica in assignment order, bumps the epoch and drops the dead leader from the ISR', () => {
    const decision = electLeader(state({replicas: ['a', 'c', 'b'], isr: ['b', 'a', 'c']}), new Set(['b', 'c']), false)
    expect(decision).to.deep.equal({kind: 'elected', unclean: false, next: {replicas: ['a', 'c', 'b'], leader: 'c', leaderEpoch: 5, isr: ['b', 'c']}})
  })

  it('skips a live replica that is out of sync', () => {
    const decision = electLeader(state({isr: ['a', 'c']}), new Set(['b', 'c']), false)
    expect(decision.kind).to.equal('elected')
    expect(decision.kind === 'elected' && decision.next).to.deep.include({leader: 'c', leaderEpoch: 5, isr: ['c']})
  })

  it('skips a dead in-sync replica', () => {
    const decision = electLeader(state({}), new Set(['c']), false)
    expect(decision.kind === 'elected' && decision.next).to.deep.include({leader: 'c', isr: ['b', 'c']})
  })

  it('takes the partition offline when no in-sync replica is live, keeping the ISR', () => {
    const decision = electLeader(state({isr: ['a']}), new Set(['b', 'c']), false)
    expect(decision).to.deep.equal({kind: 'offline', next: {replicas: ['a', 'b', 'c'], leader: null, leaderEpoch: 5, isr: ['a']}})
  })

  it('leaves an offline partition alone until an in-sync replica is live again, then elects it', () => {
    const offline = state({leader: null, leaderEpoch: 5, isr: ['a']})
    expect(electLeader(offline, new Set(['b', 'c']), false)).to.deep.equal({kind: 'unchanged'})
    const decision = electLeader(offline, new Set(['a', 'b']), false)
    expect(decision).to.deep.equal({kind: 'elected', unclean: false, next: {replicas: ['a', 'b', 'c'], leader: 'a', leaderEpoch: 6, isr: ['a']}})
  })

  it('elects the first live replica out of sync when the topic allows unclean election', () => {
    const decision = electLeader(state({isr: ['a']}), new Set(['c', 'b']), true)
    expect(decision).to.deep.equal({kind: 'elected', unclean: true, next: {replicas: ['a', 'b', 'c'], leader: 'b', leaderEpoch: 5, isr: ['b']}})
  })

  it('prefers a clean choice even when unclean election is allowed', () => {
    const decision = electLeader(state({isr: ['a', 'c']}), new Set(['b', 'c']), true)
    expect(decision.kind === 'elected' && decision.next.leader).to.equal('c')
    expect(decision.kind === 'elected' && decision.unclean).to.equal(false)
  })

  it('stays offline with unclean election allowed when no replica is live', () => {
    expect(electLeader(state({}), new Set(), true).kind).to.equal('offline')
  })

  describe('eligibility', () => {
    const damaged = (...nodes: string[]) => ({damaged: new Set(nodes), unverified: new Set<string>()})

    it('never elects a damaged in-sync replica that comes first in assignment order', () => {
      const decision = electLeader(state({}), new Set(['b', 'c']), false, damaged('b'))
      expect(decision).to.deep.equal({kind: 'elected', unclean: false, next: {replicas: ['a', 'b', 'c'], leader: 'c', leaderEpoch: 5, isr: ['b', 'c']}})
    })

    it('goes offline rather than elect the only live in-sync replica when it is damaged, and stays so', () => {
      const decision = electLeader(state({isr: ['a', 'b']}), new Set(['b', 'c']), false, damaged('b'))
      expect(decision.kind).to.equal('offline')
      const offline = state({leader: null, leaderEpoch: 5, isr: ['a', 'b']})
      expect(electLeader(offline, new Set(['b', 'c']), false, damaged('b'))).to.deep.equal({kind: 'unchanged'})
    })

    it('does not elect a damaged replica uncleanly either', () => {
      const decision = electLeader(state({isr: ['a']}), new Set(['b', 'c']), true, damaged('b'))
      expect(decision.kind === 'elected' && decision.next).to.deep.include({leader: 'c', isr: ['c']})
    })

    it('moves leadership off a live leader reported damaged, which leaves the ISR', () => {
      const decision = electLeader(state({}), new Set(['a', 'b', 'c']), false, damaged('a'))
      expect(decision).to.deep.equal({kind: 'elected', unclean: false, next: {replicas: ['a', 'b', 'c'], leader: 'b', leaderEpoch: 5, isr: ['b', 'c']}})
    })

    it('keeps a damaged live leader when no other in-sync replica can take over', () => {
      expect(electLeader(state({isr: ['a']}), new Set(['a', 'b']), false, damaged('a'))).to.deep.equal({kind: 'unchanged'})
    })

    it('prefers a verified in-sync replica, and takes an unverified one when none is live', () => {
      const unverifiedB = {damaged: new Set<string>(), unverified: new Set(['b'])}
      const preferred = electLeader(state({}), new Set(['b', 'c']), false, unverifiedB)
      expect(preferred.kind === 'elected' && preferred.next.leader).to.equal('c')
      const fallback = electLeader(state({isr: ['a', 'b']}), new Set(['b', 'c']), false, unverifiedB)
      expect(fallback.kind === 'elected' && fallback.next).to.deep.include({leader: 'b', leaderEpoch: 5})
    })

    it('reads what nodes report in their registration metadata', () => {
      const meta = replicaHealthMeta({damaged: ['t-0'], unverified: ['t-1', 't-0']})
      const nodes = [{id: 'a', ...replicaHealthFromMeta(meta)}, {id: 'b', ...replicaHealthFromMeta({})}, {id: 'c', ...replicaHealthFromMeta(replicaHealthMeta({damaged: [], unverified: Array.from({length: 100}, (_, index) => `long-topic-name-${index}`)}))}]
      expect(eligibilityOf(nodes, 't', 0)).to.deep.equal({damaged: new Set(['a']), unverified: new Set(['a', 'c'])})
      expect(eligibilityOf(nodes, 't', 1)).to.deep.equal({damaged: new Set(), unverified: new Set(['a', 'c'])})
      expect(eligibilityOf(nodes, 't', 2)).to.deep.equal({damaged: new Set(), unverified: new Set(['c'])})
    })
  })

  describe('a leader whose node restarted', () => {
    const led = state({leaderIncarnation: 'a-1'})
    const incarnations = (a: string) => new Map([['a', a], ['b', 'b-1'], ['c', 'c-1']])

    it('keeps a leader still in the incarnation its leadership was given to', () => {
      expect(electLeader(led, new Set(['a', 'b', 'c']), false, undefined, incarnations('a-1'))).to.deep.equal({kind: 'unchanged'})
    })

    it('ends the leadership of a restarted leader: the next in-sync replica leads at the next epoch, the restarted one leaves the ISR', () => {
      const decision = electLeader(led, new Set(['a', 'b', 'c']), false, undefined, incarnations('a-2'))
      expect(decision).to.deep.equal({kind: 'elected', unclean: false, next: {replicas: ['a', 'b', 'c'], leader: 'b', leaderEpoch: 5, isr: ['b', 'c'], leaderIncarnation: 'b-1'}})
    })

    it('re-elects the restarted leader at the next epoch when no other in-sync replica is live', () => {
      const decision = electLeader(state({leaderIncarnation: 'a-1', isr: ['a']}), new Set(['a', 'b']), false, undefined, incarnations('a-2'))
      expect(decision).to.deep.equal({kind: 'elected', unclean: false, next: {replicas: ['a', 'b', 'c'], leader: 'a', leaderEpoch: 5, isr: ['a'], leaderIncarnation: 'a-2'}})
    })

    it('records the incarnation of a live leader in a state that has none, at the same epoch', () => {
      expect(electLeader(state({}), new Set(['a', 'b', 'c']), false, undefined, incarnations('a-1'))).to.deep.equal({kind: 'recorded', next: {...state({}), leaderIncarnation: 'a-1'}})
    })
  })
})
