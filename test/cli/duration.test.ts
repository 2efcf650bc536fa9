import {expect} from 'chai'
import {DURATION_MS_MAX, parseDurationMs} from '../../src/cli/duration.js'
import {LignumError} from '../../src/errors.js'

describe('durations on the command line', () => {
  it('reads milliseconds, ms, s and m', () => {
    expect(['1500', '500ms', '2s', '60s', '1.5s', '2m'].map((text) => parseDurationMs(text, '--timeout'))).to.deep.equal([1500, 500, 2000, 60_000, 1500, 120_000])
  })

  it('refuses what is not a duration, naming the flag and examples', () => {
    for (const text of ['', 's', '-1s', '5x', '1h', '2 s s']) {
      expect(() => parseDurationMs(text, '--timeout'), text).to.throw(LignumError, /^--timeout ".*" is not a duration; use e\.g\. 60s/)
    }
  })

  it('takes the longest allowed and refuses one millisecond more', () => {
    expect(parseDurationMs(String(DURATION_MS_MAX), '--timeout')).to.equal(DURATION_MS_MAX)
    expect(() => parseDurationMs(String(DURATION_MS_MAX + 1), '--timeout')).to.throw(LignumError, /longer than the most allowed/)
  })
})
