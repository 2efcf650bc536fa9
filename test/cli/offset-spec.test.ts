import {expect} from 'chai'
import {consumeRangeOf, parseOffsetSpec} from '../../src/cli/offset-spec.js'
import {LignumError} from '../../src/errors.js'

const NOW_MS = Date.parse('2026-01-31T12:00:00Z')
const HOUR_MS = 3_600_000

describe('--from as kcat and rpk spell it', () => {
  const parse = (text: string) => parseOffsetSpec(text, NOW_MS)

  it('reads the named ends, with kcat\'s and rpk\'s synonyms', () => {
    for (const text of ['beginning', 'start', 'oldest']) expect(parse(text), text).to.deep.equal({from: 'beginning'})
    for (const text of ['end', 'newest']) expect(parse(text), text).to.deep.equal({from: 'end'})
    expect(parse('stored')).to.deep.equal({from: 'stored'})
  })

  it('reads -0 as the end, never as offset 0', () => {
    expect(parse('-0')).to.deep.equal({from: 'end'})
    expect(parse('-00')).to.deep.equal({from: 'end'})
  })

  it('reads N, +N (after the start), -N (before the end) and offset ranges', () => {
    expect(parse('42')).to.deep.equal({from: 42})
    expect(parse('0')).to.deep.equal({from: 0})
    expect(parse('+5')).to.deep.equal({from: {fromStart: 5}})
    expect(parse('-10')).to.deep.equal({from: -10})
    expect(parse('10:20')).to.deep.equal({from: 10, toOffset: 20})
    expect(parse(':20')).to.deep.equal({from: 'beginning', toOffset: 20})
    expect(parse('10:')).to.deep.equal({from: 10, toOffset: undefined})
  })

  it('reads kcat\'s s@ and e@ and rpk\'s @ times: epoch ms, ISO dates and durations ago', () => {
    expect(parse('@1700000000000')).to.deep.equal({from: 'beginning', fromTimeMs: 1_700_000_000_000})
    expect(parse('s@1700000000000')).to.deep.equal({from: 'beginning', fromTimeMs: 1_700_000_000_000})
    expect(parse('e@1700000000000')).to.deep.equal({from: 'beginning', toTimeMs: 1_700_000_000_000})
    expect(parse('@-1h')).to.deep.equal({from: 'beginning', fromTimeMs: NOW_MS - HOUR_MS})
    expect(parse('@-90s').fromTimeMs).to.equal(NOW_MS - 90_000)
    expect(parse('@-2d').fromTimeMs).to.equal(NOW_MS - 48 * HOUR_MS)
    expect(parse('@2026-01-01').fromTimeMs).to.equal(Date.parse('2026-01-01'))
    expect(parse('e@-30m').toTimeMs).to.equal(NOW_MS - 30 * 60_000)
  })

  it('reads time ranges with either side relative or empty, and ISO times with colons of their own', () => {
    expect(parse('@1000:2000')).to.deep.equal({from: 'beginning', fromTimeMs: 1000, toTimeMs: 2000})
    expect(parse('@-2h:-1h')).to.deep.equal({from: 'beginning', fromTimeMs: NOW_MS - 2 * HOUR_MS, toTimeMs: NOW_MS - HOUR_MS})
    expect(parse('@-2h:30m')).to.deep.equal({from: 'beginning', fromTimeMs: NOW_MS - 2 * HOUR_MS, toTimeMs: NOW_MS - 90 * 60_000})
    expect(parse('@:-1h')).to.deep.equal({from: 'beginning', fromTimeMs: undefined, toTimeMs: NOW_MS - HOUR_MS})
    expect(parse('@-1h:')).to.deep.equal({from: 'beginning', fromTimeMs: NOW_MS - HOUR_MS, toTimeMs: undefined})
    expect(parse('@2026-01-31T10:00:00Z:2026-01-31T11:00:00Z')).to.deep.equal({from: 'beginning', fromTimeMs: NOW_MS - 2 * HOUR_MS, toTimeMs: NOW_MS - HOUR_MS})
  })

  it('refuses anything else in one line that names every accepted form', () => {
    for (const text of ['', 'begin', '1.5', '+', '-', '+-3', 'x@5', '@', '@soon', '@-1y', 's@', 'e@yesterday', '1:2:3', 'a:b', '@1:2:3', '--5']) {
      expect(() => parseOffsetSpec(text, NOW_MS), JSON.stringify(text)).to.throw(LignumError, /^--from ".*" is not a position; use beginning, end, stored, N, \+N, -N \(-0 is the end\), N:M, @T, @T1:T2, s@T or e@T, where a time T is epoch ms, an ISO-8601 date or -1h \(an hour ago\)$/)
    }
  })

  it('refuses ranges that end before they start, and numbers no offset can reach', () => {
    expect(() => parse('20:10')).to.throw(LignumError, /--from 20:10 ends before it starts/)
    expect(() => parse('@2000:1000')).to.throw(LignumError, /ends \(1970-01-01T00:00:01.000Z\) before it starts/)
    expect(() => parse('@:1h')).to.throw(LignumError, /an end of 1h counts from the start time/)
    expect(() => parse('99999999999999999999')).to.throw(LignumError, /larger than any offset or time/)
  })

  it('needs a group for stored, and one place to say where to stop', () => {
    expect(() => consumeRangeOf(parse('stored'), {})).to.throw(LignumError, /--from stored starts at a group's committed offsets; name the group with -G/)
    expect(consumeRangeOf(parse('stored'), {group: 'billing'})).to.deep.equal({from: undefined, fromTimeMs: undefined, toTimeMs: undefined, toOffset: undefined})
    expect(() => consumeRangeOf(parse('1:5'), {toOffset: 3, fromText: '1:5'})).to.throw(LignumError, /--from 1:5 already says where to stop; drop --to/)
    expect(() => consumeRangeOf(parse('5'), {toOffset: 3})).to.throw(LignumError, /--to 3 is below --from 5/)
    expect(consumeRangeOf(parse('5'), {toOffset: 9})).to.include({from: 5, toOffset: 9})
  })
})
