import {expect} from 'chai'
import type {LedPartition} from '../../src/generated/lignum/v1/lignum.js'
import {mergePartitionStatus, type CatalogPartition, type LeaderReport} from '../../src/server/partition-status.js'

/** A partition of topic "t" as the catalog holds it, led by n1 at epoch 2 unless told otherwise. */
function catalogEntry(partition: number, fields: Partial<CatalogPartition> = {}): CatalogPartition {
  return {topic: 't', partition, leader: 'n1', leaderEpoch: 2, replicas: ['n1', 'n2', 'n3'], isr: ['n1', 'n2', 'n3'], minInsyncReplicas: 2, ...fields}
}

function led(partition: number, fields: Partial<LedPartition> = {}): LedPartition {
  return {
    topic: 't',
    partition,
    leaderEpoch: 2,
    highWatermark: 90n,
    logEndOffset: 100n,
    followers: [
      {node: 'n2', logEndOffset: 100n, caughtUpAgoMs: 5n},
      {node: 'n3', logEndOffset: 90n, caughtUpAgoMs: 1500n},
    ],
    state: 'leading',
    ...fields,
  }
}

const allLive = new Set(['n1', 'n2', 'n3'])

describe('merging the catalog with the leaders\' reports', () => {
  it('takes roles from the catalog and offsets from the leader; lag is the leader\'s log end minus the replica\'s', () => {
    const [status] = mergePartitionStatus([catalogEntry(0)], new Map([['n1', {answered: true, led: [led(0)]}]]), allLive)
    expect(status).to.deep.include({topic: 't', partition: 0, leader: 'n1', leaderEpoch: 2, leaderState: 'online', reason: '', highWatermark: 90n, logEndOffset: 100n, minInsyncReplicas: 2})
    expect(status!.replicaStatus).to.deep.equal([
      {node: 'n1', logEndOffset: 100n, lagRecords: 0n, caughtUpAgoMs: 0n},
      {node: 'n2', logEndOffset: 100n, lagRecords: 0n, caughtUpAgoMs: 5n},
      {node: 'n3', logEndOffset: 90n, lagRecords: 10n, caughtUpAgoMs: 1500n},
    ])
  })

  it('a follower that has not fetched from this leader yet has unknown offsets, not zero', () => {
    const report = led(0, {followers: [{node: 'n2', logEndOffset: 100n, caughtUpAgoMs: 1n}]})
    const [status] = mergePartitionStatus([catalogEntry(0)], new Map([['n1', {answered: true, led: [report]}]]), allLive)
    expect(status!.replicaStatus[2]).to.deep.equal({node: 'n3', logEndOffset: undefined, lagRecords: undefined, caughtUpAgoMs: undefined})
  })

  it('names why a partition is not online, one state per cause, and gives it no offsets', () => {
    const catalog = [
      catalogEntry(0, {leader: null}),
      catalogEntry(1, {leader: 'n4'}),
      catalogEntry(2, {leader: 'n2'}),
      catalogEntry(3, {leader: 'n3'}),
      catalogEntry(4),
      catalogEntry(5),
      catalogEntry(6),
    ]
    const reports = new Map<string, LeaderReport>([
      ['n1', {answered: true, led: [led(4, {state: 'damaged', leaderEpoch: -1}), led(5, {leaderEpoch: 1}), led(6, {leaderEpoch: 3})]}],
      ['n2', {answered: false, reason: 'no answer from 127.0.0.1:1 within 2000 ms'}],
    ])
    const merged = mergePartitionStatus(catalog, reports, allLive)
    expect(merged.map((entry) => entry.leaderState)).to.deep.equal(['no-leader', 'leader-down', 'unknown', 'unknown', 'damaged', 'not-leading', 'online'])
    expect(merged[1]!.reason).to.equal('its leader n4 is not a live member of the cluster')
    expect(merged[2]!.reason).to.equal('its leader n2 did not report its offsets: no answer from 127.0.0.1:1 within 2000 ms')
    expect(merged[5]!.reason).to.equal('n1 does not lead it at leader epoch 2 yet')
    for (const entry of merged.slice(0, 6)) {
      expect(entry.highWatermark, `${entry.leaderState}`).to.equal(undefined)
      expect(entry.replicaStatus.every((replica) => replica.logEndOffset === undefined)).to.equal(true)
    }
    expect(merged[6]!.highWatermark).to.equal(90n)
  })

  it('every catalog partition appears once, in catalog order, whatever the leaders report', () => {
    const catalog = [catalogEntry(2), {...catalogEntry(0), topic: 'a'}, catalogEntry(1)]
    const merged = mergePartitionStatus(catalog, new Map([['n1', {answered: true, led: [led(1), led(7), led(2)]}]]), allLive)
    expect(merged.map((entry) => `${entry.topic}-${entry.partition}`)).to.deep.equal(['t-2', 'a-0', 't-1'])
    expect(merged.map((entry) => entry.leaderState)).to.deep.equal(['online', 'not-leading', 'online'])
  })
})
