import {expect} from 'chai'
import {parseSeekTarget, parseTopicSelection} from '../../src/cli/seek-target.js'

describe('groups seek --to and -t', () => {
  it('reads beginning, end, an offset, @epoch-ms and @ISO time', () => {
    expect(parseSeekTarget('beginning')).to.deep.equal({kind: 'beginning'})
    expect(parseSeekTarget('end')).to.deep.equal({kind: 'end'})
    expect(parseSeekTarget('42')).to.deep.equal({kind: 'offset', offset: 42})
    expect(parseSeekTarget('@1767225600000')).to.deep.equal({kind: 'time', timestampMs: 1767225600000})
    expect(parseSeekTarget('@2026-01-01T00:00:00Z')).to.deep.equal({kind: 'time', timestampMs: 1767225600000})
  })

  it('refuses anything else with one line naming the forms', () => {
    for (const text of ['-1', 'start', '@yesterday', '@May 5', '99999999999999999999']) {
      expect(() => parseSeekTarget(text), text).to.throw(/--to ".*" is not a (position|time)|larger than Lignum supports/)
    }
  })

  it('reads TOPIC and TOPIC:partitions', () => {
    expect(parseTopicSelection('orders')).to.deep.equal({topic: 'orders'})
    expect(parseTopicSelection('orders:2,0,2')).to.deep.equal({topic: 'orders', partitions: [0, 2]})
    expect(() => parseTopicSelection('orders:x')).to.throw(/use e.g. -t orders or -t orders:0,2/)
  })
})
