import {expect} from 'chai'
import {healthOf} from '../../src/ui/cluster-health.js'
import type {ClusterStatus, ClusterStatusPartition} from '../../src/ui/cluster-status-table.js'
import {partitionSummaryLine} from '../../src/ui/partition-summary.js'

const partition = (topic: string, index: number, fields: Partial<ClusterStatusPartition> = {}): ClusterStatusPartition => ({
  topic, partition: index, leader: 'n1', leaderEpoch: 0, replicas: ['n1', 'n2'], isr: ['n1', 'n2'], minInsyncReplicas: 2, leaderState: 'online', reason: null, highWatermark: 0, logEndOffset: 0, replicaStatus: [], ...fields,
})

function statusOf(partitions: ClusterStatusPartition[], fields: Partial<ClusterStatus> = {}): ClusterStatus {
  const base = {cluster: 'c', controller: 'n1', partitionsError: null, partitions}
  return {...base, controllerEpoch: 1, node: 'n1', mode: 'cluster', consulReachable: true, nodes: [], unreachable: [], topics: [], damagedPartitions: [], health: healthOf(base), ...fields}
}

describe('the partitions of a cluster status in one line', () => {
  it('counts the partitions, their topics and those online, and names only the troubles there are', () => {
    const many = Array.from({length: 300}, (_, index) => partition(index < 200 ? 'orders' : 'events', index))
    expect(partitionSummaryLine(statusOf(many))).to.equal('partitions: 300 partitions in 2 topics: 300 online')
    many[3] = partition('orders', 3, {leaderState: 'leader-down', reason: 'gone'})
    many[4] = partition('orders', 4, {isr: ['n1']})
    expect(partitionSummaryLine(statusOf(many))).to.equal('partitions: 300 partitions in 2 topics: 299 online, 1 offline, 1 under-replicated, 1 below min ISR')
  })

  it('says when there are none, or when they could not be listed', () => {
    expect(partitionSummaryLine(statusOf([]))).to.equal('partitions: none')
    expect(partitionSummaryLine(statusOf([], {partitionsError: 'no catalog'}))).to.equal('partitions: not listed (no catalog)')
  })
})
