import {expect} from 'chai'
import {isCatchingUp, nextFetchBytes} from '../../src/replication/fetch-sizing.js'

const MIB = 1024 * 1024
const LIMITS = {fetchMaxBytes: MIB, catchUpFetchMaxBytes: 8 * MIB}

describe('fetch sizing', () => {
  it('doubles while catching up, never past catchUpFetchMaxBytes, and drops to fetchMaxBytes at the log end', () => {
    const sizes = [MIB]
    for (let answer = 0; answer < 6; answer++) sizes.push(nextFetchBytes(sizes.at(-1)!, true, LIMITS))
    expect(sizes).to.deep.equal([MIB, 2 * MIB, 4 * MIB, 8 * MIB, 8 * MIB, 8 * MIB, 8 * MIB])
    expect(nextFetchBytes(8 * MIB, false, LIMITS)).to.equal(MIB)
  })

  it('stays within its bounds from any size it is handed, and does not grow when the two limits are equal', () => {
    expect(nextFetchBytes(1, true, LIMITS)).to.equal(MIB)
    expect(nextFetchBytes(5 * MIB, true, LIMITS)).to.equal(8 * MIB)
    expect(nextFetchBytes(64 * MIB, true, LIMITS)).to.equal(8 * MIB)
    expect(nextFetchBytes(MIB, true, {fetchMaxBytes: MIB, catchUpFetchMaxBytes: MIB})).to.equal(MIB)
  })

  it('counts a follower as catching up only after a full answer, with at least as much again waiting on the leader', () => {
    const full = {fetchOffset: 0, answerEndOffset: 10, answerBytes: 900, askedBytes: 1000}
    expect(isCatchingUp({...full, leaderLogEndOffset: 20})).to.equal(true)
    expect(isCatchingUp({...full, answerBytes: 500, leaderLogEndOffset: 20})).to.equal(true)
    // An answer well short of the size asked held all the leader had when it read: keeping pace.
    expect(isCatchingUp({...full, answerBytes: 499, leaderLogEndOffset: 1000})).to.equal(false)
    expect(isCatchingUp({...full, leaderLogEndOffset: 19})).to.equal(false)
    expect(isCatchingUp({...full, leaderLogEndOffset: 10})).to.equal(false)
    // An empty answer, and a leader that did not say (an error, an older build): never.
    expect(isCatchingUp({...full, answerEndOffset: 0, answerBytes: 0, leaderLogEndOffset: 500})).to.equal(false)
    expect(isCatchingUp({...full, leaderLogEndOffset: -1})).to.equal(false)
  })
})
