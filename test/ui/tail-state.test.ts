import {expect} from 'chai'
import {createTailState, RATE_WINDOW_MS, recentRate, recordIntoTailState, recordsCounted, TAIL_RECORDS_KEPT_MAX} from '../../src/ui/tail-state.js'

const record = (offset: number, timestamp: number, value = 'x') => ({offset, timestamp, key: null, value: Buffer.from(value)})

/** The rate in tail's live view is the recent one of new records: a backlog or a quiet spell must not skew it. */
describe('tail live view state', () => {
  it('falls to 0 once records stop, instead of averaging since start', () => {
    const state = createTailState('t')
    const startMs = state.startedMs
    for (let offset = 0; offset < 100; offset++) recordIntoTailState(state, 0, record(offset, startMs))
    expect(recentRate(state, startMs + 1000)).to.equal(100)
    for (let atMs = startMs + 1250; atMs <= startMs + 1000 + 2 * RATE_WINDOW_MS; atMs += 250) recentRate(state, atMs)
    expect(recentRate(state, startMs + 1000 + 2 * RATE_WINDOW_MS)).to.equal(0)
  })

  it('does not count the backlog (records stamped before the start) in the rate, only in the count', () => {
    const state = createTailState('t', 1_000_000)
    const startMs = state.startedMs
    let offset = 0
    for (; offset < 10_000; offset++) recordIntoTailState(state, 0, record(offset, startMs - 60_000 + offset))
    expect(recentRate(state, startMs + 500)).to.equal(0)
    for (let second = 1; second <= 20; second++) {
      for (let index = 0; index < 10; index++) recordIntoTailState(state, 0, record(offset++, startMs + second * 1000))
      recentRate(state, startMs + second * 1000)
    }
    expect(recentRate(state, startMs + 20_000)).to.be.closeTo(10, 0.01)
    expect(state.rateSamples.length).to.be.below(30)
    expect(recordsCounted(state)).to.equal('10200 records (10000 from before)')
  })

  it('counts "1 record" in the singular', () => {
    const state = createTailState('t')
    expect(recordsCounted(state)).to.equal('0 records')
    recordIntoTailState(state, 0, record(0, state.startedMs + 1))
    expect(recordsCounted(state)).to.equal('1 record')
  })

  it('keeps the newest records sorted by time across partitions, however the backlog arrives', () => {
    const state = createTailState('t', 10_000)
    // The backlog comes a partition at a time: all of p0, then all of p1.
    for (let offset = 0; offset < 5; offset++) recordIntoTailState(state, 0, record(offset, 1000 + offset * 20))
    for (let offset = 0; offset < 5; offset++) recordIntoTailState(state, 1, record(offset, 1010 + offset * 20))
    expect(state.newest.map((entry) => `${entry.partition}:${entry.offset}`)).to.deep.equal(['0:0', '1:0', '0:1', '1:1', '0:2', '1:2', '0:3', '1:3', '0:4', '1:4'])
    expect(state.newestOffsets).to.deep.equal(new Map([[0, 4], [1, 4]]))
  })

  it('keeps at most TAIL_RECORDS_KEPT_MAX records, the newest, as bounded copies', () => {
    const state = createTailState('t', 0)
    const large = Buffer.alloc(1 << 20, 0x61)
    for (let offset = 0; offset < TAIL_RECORDS_KEPT_MAX * 3; offset++) recordIntoTailState(state, 0, {offset, timestamp: offset, key: large, value: large})
    expect(state.newest).to.have.length(TAIL_RECORDS_KEPT_MAX)
    expect(state.newest[0]!.offset).to.equal(TAIL_RECORDS_KEPT_MAX * 2)
    expect(state.newest.at(-1)!.offset).to.equal(TAIL_RECORDS_KEPT_MAX * 3 - 1)
    expect(state.newest[0]!.value!.length).to.be.below(large.length / 100)
    expect(state.newest[0]!.value!.buffer).to.not.equal(large.buffer)
  })
})
