import {expect} from 'chai'
import {createTailState, RATE_WINDOW_MS, recentRate, recordIntoTailState} from '../../src/ui/tail-view.js'

/** The rate in tail's live view is the recent one: a backlog or a quiet spell must not skew it for ever. */
describe('tail live view rate', () => {
  it('falls to 0 once records stop, instead of averaging since start', () => {
    const state = createTailState('t')
    const startMs = state.startedMs
    for (let offset = 0; offset < 100; offset++) recordIntoTailState(state, 0, offset, startMs, 'x')
    expect(recentRate(state, startMs + 1000)).to.equal(100)
    for (let atMs = startMs + 1250; atMs <= startMs + 1000 + 2 * RATE_WINDOW_MS; atMs += 250) recentRate(state, atMs)
    expect(recentRate(state, startMs + 1000 + 2 * RATE_WINDOW_MS)).to.equal(0)
  })

  it('shows the rate of the last window while records keep coming', () => {
    const state = createTailState('t')
    const startMs = state.startedMs
    let offset = 0
    // A backlog of 10,000 at start, then 10 records a second for 20 seconds.
    for (; offset < 10_000; offset++) recordIntoTailState(state, 0, offset, startMs, 'x')
    for (let second = 1; second <= 20; second++) {
      for (let index = 0; index < 10; index++) recordIntoTailState(state, 0, offset++, startMs, 'x')
      recentRate(state, startMs + second * 1000)
    }
    expect(recentRate(state, startMs + 20_000)).to.be.closeTo(10, 0.01)
    expect(state.rateSamples.length).to.be.below(30)
  })
})
