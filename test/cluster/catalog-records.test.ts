/**
 * Reading a partition state back: the ISR's incarnations (isr-incarnations.ts) are optional,
 * so a state written before they were recorded stays readable; a malformed map is refused.
 */
import {expect} from 'chai'
import {CATALOG_RECORD_VERSION, parsePartitionState} from '../../src/cluster/catalog-records.js'
import {recordingLogger} from './catalog-fixtures.js'

const KEY = 'lignum/test/partitions/orders/0'
const OLDER = {version: CATALOG_RECORD_VERSION, replicas: ['a', 'b'], leader: 'a', leaderEpoch: 2, isr: ['a', 'b'], epoch: 1, partitionEpoch: 3, leaderIncarnation: 'a-1'}

describe('partition state records', () => {
  it('reads the ISR members\' incarnations when recorded, and a state without them as before', () => {
    const logger = recordingLogger()
    expect(parsePartitionState(KEY, JSON.stringify({...OLDER, isrIncarnations: {a: 'a-1', b: 'b-1'}}), logger)).to.deep.equal({...OLDER, isrIncarnations: {a: 'a-1', b: 'b-1'}})
    expect(parsePartitionState(KEY, JSON.stringify(OLDER), logger)).to.deep.equal(OLDER)
    expect(logger.warnings).to.deep.equal([])
  })

  it('ignores, with a warning, a state whose ISR incarnations are not a map of strings', () => {
    const logger = recordingLogger()
    expect(parsePartitionState(KEY, JSON.stringify({...OLDER, isrIncarnations: {a: 7}}), logger)).to.equal(undefined)
    expect(parsePartitionState(KEY, JSON.stringify({...OLDER, isrIncarnations: ['a-1']}), logger)).to.equal(undefined)
    expect(logger.warnings.length).to.equal(2)
  })
})
