/**
 * Replica ids: what the data plane calls a node must not change across restarts, and must fit
 * the wire's int32. Topic settings: what the catalog record stores reads back as it was asked.
 */
import {expect} from 'chai'
import {replicaIdOf, settingsFromCatalog, settingsToCatalog} from '../../src/server/cluster-replication.js'

describe('replica ids of cluster nodes', () => {
  it('are the same for the same node id every time, and differ between node ids', () => {
    expect(replicaIdOf('n1')).to.equal(replicaIdOf('n1'))
    const ids = ['n1', 'n2', 'n3', 'broker-a', 'broker-b', '10.0.0.5'].map(replicaIdOf)
    expect(new Set(ids).size).to.equal(ids.length)
  })

  it('are FNV-1a kept to 31 bits: non-negative int32 values', () => {
    // FNV-1a 32-bit of "a" is 0xe40c292c; its low 31 bits are 0x640c292c.
    expect(replicaIdOf('a')).to.equal(0x640c292c)
    for (const id of ['n1', 'a-very-long-node-identifier-used-somewhere', 'ü']) {
      const replicaId = replicaIdOf(id)
      expect(Number.isInteger(replicaId) && replicaId >= 0 && replicaId <= 0x7fffffff, id).to.equal(true)
    }
  })
})

describe('topic settings in the catalog record', () => {
  it('are stored as text and read back as they were given', () => {
    const settings = {retentionMs: -1, retentionBytes: 1 << 30, segmentBytes: 65_536, segmentMs: 3_600_000, flushPolicy: 250 as const}
    const stored = settingsToCatalog(settings)
    expect(stored).to.deep.equal({retentionMs: '-1', retentionBytes: String(1 << 30), segmentBytes: '65536', segmentMs: '3600000', flushPolicy: '250'})
    expect(settingsFromCatalog(stored)).to.deep.equal(settings)
    expect(settingsFromCatalog(settingsToCatalog({flushPolicy: 'always'}))).to.deep.equal({flushPolicy: 'always'})
    expect(settingsToCatalog({})).to.deep.equal({})
  })

  it('refuses what a node cannot open, naming the setting', () => {
    expect(() => settingsFromCatalog({segmentBytes: '0'})).to.throw(/segment_bytes must be positive/)
    expect(() => settingsFromCatalog({segmentBytes: '1e3'})).to.throw(/segmentBytes="1e3" is not a whole number/)
    expect(() => settingsFromCatalog({compaction: 'on'})).to.throw(/"compaction" is unknown/)
    expect(() => settingsFromCatalog({flushPolicy: 'sometimes'})).to.throw(/flush policy "sometimes"/)
  })
})
