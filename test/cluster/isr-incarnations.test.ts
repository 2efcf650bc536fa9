/**
 * The ISR's record of which process each member joined with, and the controller's rule built
 * on it (Kafka's KIP-903): a follower registered under another incarnation than the one it
 * joined the ISR with leaves the ISR; nothing recorded, not live, the leader, or the last
 * member: left alone.
 */
import {expect} from 'chai'
import {incarnationsAfterIsrChange, withoutRestartedFollowers} from '../../src/cluster/isr-incarnations.js'

const JOINED = {a: 'a-1', b: 'b-1', c: 'c-1'}

describe('ISR incarnations', () => {
  it('takes out a follower whose live registration shows another incarnation than it joined the ISR with', () => {
    const removal = withoutRestartedFollowers({leader: 'a', isr: ['a', 'b', 'c'], isrIncarnations: JOINED}, new Map([['a', 'a-1'], ['b', 'b-2'], ['c', 'c-1']]))
    expect(removal).to.deep.equal({next: {leader: 'a', isr: ['a', 'c'], isrIncarnations: {a: 'a-1', c: 'c-1'}}, removed: ['b']})
  })

  it('leaves alone a member with no recorded incarnation (an older state), one not live (no registration), and the leader', () => {
    const state = {leader: 'a', isr: ['a', 'b', 'c'], isrIncarnations: {a: 'a-1', c: 'c-1'}}
    expect(withoutRestartedFollowers(state, new Map([['a', 'a-2'], ['b', 'b-2']]))).to.equal(undefined)
    expect(withoutRestartedFollowers({leader: 'a', isr: ['a', 'b']}, new Map([['b', 'b-2']]))).to.equal(undefined)
  })

  it('never empties the ISR: with every member restarted and no leader, the first stays', () => {
    const removal = withoutRestartedFollowers({leader: null, isr: ['b', 'c'], isrIncarnations: JOINED}, new Map([['b', 'b-2'], ['c', 'c-2']]))
    expect(removal?.next.isr).to.deep.equal(['b'])
    expect(removal?.removed).to.deep.equal(['c'])
    expect(withoutRestartedFollowers({leader: null, isr: ['b'], isrIncarnations: JOINED}, new Map([['b', 'b-2']]))).to.equal(undefined)
  })

  it('records an added member with the incarnation its leader saw catch up, and never overwrites what is recorded for a member that stays', () => {
    const current = {isr: ['a', 'b'], isrIncarnations: {a: 'a-1', b: 'b-1'}}
    // The leader has seen b's new process, but b stays under the process it joined with, for the controller to see.
    expect(incarnationsAfterIsrChange(current, ['a', 'b', 'c'], {b: 'b-2', c: 'c-3'})).to.deep.equal({a: 'a-1', b: 'b-1', c: 'c-3'})
    expect(incarnationsAfterIsrChange(current, ['a'])).to.deep.equal({a: 'a-1'})
    expect(incarnationsAfterIsrChange({isr: ['a']}, ['a', 'b'])).to.equal(undefined)
  })
})
