import {expect} from 'chai'
import {TopicConfig} from '../../src/generated/lignum/v1/lignum.js'
import {topicInfoOf} from '../../src/client/topic-info.js'
import {settingsFromWire, settingsToWire} from '../../src/server/convert.js'
import {TOPIC_NUMBER_SETTINGS, topicConfigOf, topicNumberSettingsOf} from '../../src/wire/topic-config.js'

describe('topic settings on the wire', () => {
  it('sends every setting the proto has, numbers as int64 and the flush policy as text', () => {
    const config = topicConfigOf({retentionMs: -1, retentionBytes: 1024, segmentBytes: 4096, segmentMs: 60_000, flushPolicy: 250, uncleanLeaderElection: true})
    expect(config).to.deep.equal({retentionMs: -1n, retentionBytes: 1024n, segmentBytes: 4096n, segmentMs: 60_000n, flushPolicy: '250', uncleanLeaderElection: true})
    // Through the real encoder: a field the mapping forgot would not come back.
    expect(TopicConfig.decode(TopicConfig.encode(config).finish())).to.deep.equal(config)
  })

  it('leaves absent settings absent, so the node applies its defaults', () => {
    const bytes = TopicConfig.encode(topicConfigOf({segmentBytes: 1})).finish()
    const present = Object.entries(TopicConfig.decode(bytes)).filter(([, value]) => value !== undefined)
    expect(present).to.deep.equal([['segmentBytes', 1n]])
  })

  it('reads the int64 settings through the side\'s own conversion, in the order a node checks them', () => {
    const seen: string[] = []
    const settings = topicNumberSettingsOf({segmentMs: 5n, retentionMs: 7n, flushPolicy: 'never'}, (value, setting) => {
      seen.push(setting)
      return Number(value) * 2
    })
    expect(settings).to.deep.equal({retentionMs: 14, segmentMs: 10})
    expect(seen).to.deep.equal(['retentionMs', 'segmentMs'])
    expect(TOPIC_NUMBER_SETTINGS).to.deep.equal(['retentionMs', 'retentionBytes', 'segmentBytes', 'segmentMs'])
  })

  it('round-trips the node\'s settings and the client\'s alike', () => {
    const node = {retentionMs: 86_400_000, retentionBytes: -1, segmentBytes: 1 << 20, segmentMs: 3_600_000, flushPolicy: 1000}
    expect(settingsFromWire(TopicConfig.decode(TopicConfig.encode(settingsToWire(node)).finish()))).to.deep.equal(node)
    const client = {retentionMs: 1, segmentMs: 2, flushPolicy: 'always', uncleanLeaderElection: true}
    const described = topicInfoOf({name: 't', internal: false, config: topicConfigOf(client), partitions: []})
    expect(described.settings).to.deep.equal(client)
  })

  it('keeps the node\'s refusals, naming the proto field', () => {
    expect(() => settingsFromWire({retentionBytes: -2n})).to.throw('retention_bytes must be -1 (no limit) or positive, not -2')
    expect(() => settingsFromWire({segmentMs: 0n})).to.throw('segment_ms must be positive, not 0')
    expect(() => settingsFromWire({segmentBytes: 1n << 60n})).to.throw('segment_bytes=1152921504606846976 is outside the range')
  })
})
