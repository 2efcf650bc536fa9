import {expect} from 'chai'
import {errorTable} from '../../src/errors.js'
import type {ClusterStatusResponse, PartitionStatus} from '../../src/generated/lignum/v1/lignum.js'
import {healthOf, unhealthyError, type PartitionHealthInput} from '../../src/ui/cluster-health.js'
import {clusterStatusOf, renderClusterStatusText} from '../../src/ui/cluster-status-table.js'

function partition(index: number, fields: Partial<PartitionHealthInput> = {}): PartitionHealthInput {
  return {topic: 't', partition: index, replicas: ['n1', 'n2', 'n3'], isr: ['n1', 'n2', 'n3'], minInsyncReplicas: 2, leaderState: 'online', reason: null, ...fields}
}

const cluster = (partitions: PartitionHealthInput[], fields: {controller?: string | null; partitionsError?: string | null} = {}) => ({
  cluster: 'c',
  controller: fields.controller === undefined ? 'n1' : fields.controller,
  partitionsError: fields.partitionsError ?? null,
  partitions,
})

describe('cluster health from the status document', () => {
  it('is healthy with every partition online and every ISR full, and exits 0', () => {
    const status = cluster([partition(0), partition(1)])
    const health = healthOf(status)
    expect(health).to.deep.equal({healthy: true, partitionCount: 2, underReplicated: [], belowMinIsr: [], offline: [], unknown: [], damagedReplicas: [], reason: null})
    expect(unhealthyError(health, status)).to.equal(null)
  })

  it('an ISR smaller than the replicas is under-replicated (exit 7), below min ISR named too', () => {
    const status = cluster([partition(0), partition(1, {isr: ['n1', 'n2']}), partition(2, {isr: ['n1']})])
    const health = healthOf(status)
    expect(health).to.deep.include({healthy: false, underReplicated: ['t-1', 't-2'], belowMinIsr: ['t-2'], offline: [], unknown: []})
    expect(health.reason).to.equal('2 under-replicated (t-1, t-2) of 3 partitions')
    expect(unhealthyError(health, status)?.exitCode).to.equal(errorTable.UNDER_REPLICATED.exitCode).and.to.equal(7)
  })

  it('offline and unknown partitions are told apart, and outrank under-replication (exit 8)', () => {
    const status = cluster([
      partition(0, {leaderState: 'leader-down', reason: 'its leader n3 is not a live member of the cluster'}),
      partition(1, {leaderState: 'unknown', reason: 'its leader n2 did not report its offsets'}),
      partition(2, {isr: ['n1', 'n2']}),
      partition(3, {leaderState: 'no-leader', reason: 'it has no leader'}),
    ])
    const health = healthOf(status)
    expect(health).to.deep.include({offline: ['t-0', 't-3'], unknown: ['t-1'], underReplicated: ['t-2']})
    expect(health.reason).to.equal('2 offline (t-0: its leader n3 is not a live member of the cluster; t-3: it has no leader), 1 unknown (t-1: its leader n2 did not report its offsets), 1 under-replicated (t-2) of 4 partitions')
    const error = unhealthyError(health, status, 'still unhealthy after 2s: ')
    expect(error?.exitCode).to.equal(errorTable.PARTITIONS_OFFLINE.exitCode).and.to.equal(8)
    expect(error?.message).to.match(/^still unhealthy after 2s: 2 offline/)
  })

  it('an unreadable catalog is not healthy (exit 8); no controller outranks everything (exit 5)', () => {
    const unreadable = cluster([], {partitionsError: 'cannot read the topic catalog from Consul'})
    expect(unhealthyError(healthOf(unreadable), unreadable)?.exitCode).to.equal(8)
    const leaderless = cluster([partition(0, {isr: ['n1']})], {controller: null})
    expect(healthOf(leaderless).reason).to.equal('cluster c has no controller')
    expect(unhealthyError(healthOf(leaderless), leaderless)?.exitCode).to.equal(errorTable.UNAVAILABLE.exitCode)
  })

  it('the exit codes of an unhealthy cluster are distinct from every other error\'s', () => {
    const others = Object.entries(errorTable).filter(([code]) => code !== 'PARTITIONS_OFFLINE' && code !== 'UNDER_REPLICATED').map(([, entry]) => entry.exitCode)
    expect(others).to.not.include(7)
    expect(others).to.not.include(8)
  })

  it('a replica its node reports damaged makes the cluster unhealthy (exit 7), naming it and the repair command', () => {
    const status = cluster([partition(0, {replicaStatus: [{node: 'n1', storage: 'verified'}, {node: 'n2', storage: 'damaged'}, {node: 'n3', storage: 'unverified'}]}), partition(1)])
    const health = healthOf(status)
    expect(health).to.deep.include({healthy: false, damagedReplicas: ['t-0 on n2'], underReplicated: []})
    expect(health.reason).to.equal('1 damaged replica to repair with lignum segments repair (t-0 on n2) of 2 partitions')
    expect(unhealthyError(health, status)?.exitCode).to.equal(errorTable.UNDER_REPLICATED.exitCode)
  })

  it('the one-line reason stays bounded however many partitions are wrong', () => {
    const status = cluster(Array.from({length: 500}, (_, index) => partition(index, {isr: ['n1']})))
    expect(healthOf(status).reason).to.match(/^500 under-replicated \(t-0, t-1, .*t-9, and 490 more\) of 500 partitions$/)
  })
})

describe('the status document and its text', () => {
  const wirePartition = (fields: Partial<PartitionStatus>): PartitionStatus => ({
    topic: 't', partition: 0, leader: 'n1', leaderEpoch: 3, replicas: ['n1', 'n2'], isr: ['n1'], minInsyncReplicas: 1, leaderState: 'online', reason: '',
    highWatermark: 7n, logEndOffset: 9n,
    replicaStatus: [{node: 'n1', logEndOffset: 9n, lagRecords: 0n, caughtUpAgoMs: 0n}, {node: 'n2', logEndOffset: 7n, lagRecords: 2n, caughtUpAgoMs: 12_000n}],
    ...fields,
  })
  const response = (partitions: PartitionStatus[]): ClusterStatusResponse => ({
    cluster: 'c', controller: 'n1', controllerEpoch: 4n, node: 'n2', nodes: [{id: 'n1', address: 'h:1', status: 'up', version: '1', damagedReplicas: [], unverifiedReplicas: []}, {id: 'n2', address: 'h:2', status: 'up', version: '1', damagedReplicas: [], unverifiedReplicas: []}],
    topics: [], consulReachable: true, mode: 'cluster', damagedPartitions: [], partitions, partitionsError: '', ledPartitions: [], unreachableNodes: {},
  })

  it('a node Consul says is up but that did not answer is unreachable, not up, in the document and the text', () => {
    const status = clusterStatusOf({...response([wirePartition({})]), unreachableNodes: {n1: 'connect ECONNREFUSED h:1'}})
    expect(status.nodes.map((node) => node.status)).to.deep.equal(['unreachable', 'up'])
    expect(status.unreachable).to.deep.equal([{node: 'n1', reason: 'connect ECONNREFUSED h:1'}])
    expect(status.partitions[0]!.replicaStatus[0]!.storage).to.equal('unknown')
    const lines = renderClusterStatusText(status).split('\n')
    expect(lines[0]).to.equal('cluster c (cluster): controller n1 (epoch 4), 1/2 nodes up, answered by n2')
    expect(lines).to.include('n1    h:1      unreachable  1        controller')
    expect(lines).to.include('node n1 is unreachable: connect ECONNREFUSED h:1')
  })

  it('unknown offsets are null in the document and "-" in text; the last line says what is wrong', () => {
    const status = clusterStatusOf(response([wirePartition({}), wirePartition({partition: 1, leader: 'n2', leaderState: 'unknown', reason: 'its leader n2 did not report its offsets', isr: ['n1', 'n2'], highWatermark: undefined, logEndOffset: undefined, replicaStatus: [{node: 'n1', logEndOffset: undefined, lagRecords: undefined, caughtUpAgoMs: undefined}, {node: 'n2', logEndOffset: undefined, lagRecords: undefined, caughtUpAgoMs: undefined}]})]))
    expect(status.partitions[0]!.replicaStatus[1]).to.deep.equal({node: 'n2', inSync: false, logEndOffset: 7, lagRecords: 2, caughtUpAgoMs: 12_000, storage: 'verified'})
    expect(status.partitions[1]).to.deep.include({highWatermark: null, logEndOffset: null, leaderState: 'unknown'})
    const lines = renderClusterStatusText(status).split('\n')
    expect(lines).to.include.members([
      'TOPIC  PARTITION  LEADER  EPOCH  REPLICAS  ISR    MIN-ISR  HIGH-WATERMARK  STATE',
      't      0          n1      3      n1,n2     n1     1        7               online',
      't      1          n2      3      n1,n2     n1,n2  1        -               unknown',
      't      0          n2       out-of-sync  7        2    12000ms ago  verified',
      't      1          n1       in-sync      -        -    -            verified',
    ].map((line) => line.trimEnd()))
    expect(lines.at(-1)).to.equal('unhealthy: 1 unknown (t-1: its leader n2 did not report its offsets), 1 under-replicated (t-0) of 2 partitions')
  })

  it('each replica shows what its node reports of its stored batches, "unknown" when the node is down', () => {
    const base = response([wirePartition({replicas: ['n1', 'n2', 'n3'], replicaStatus: [{node: 'n1', logEndOffset: 9n, lagRecords: 0n, caughtUpAgoMs: 0n}, {node: 'n2', logEndOffset: 7n, lagRecords: 2n, caughtUpAgoMs: 1n}, {node: 'n3', logEndOffset: undefined, lagRecords: undefined, caughtUpAgoMs: undefined}]}), wirePartition({partition: 1})])
    const nodes = [
      {id: 'n1', address: 'h:1', status: 'up', version: '1', damagedReplicas: [], unverifiedReplicas: ['t-0']},
      {id: 'n2', address: 'h:2', status: 'up', version: '1', damagedReplicas: ['t-0'], unverifiedReplicas: []},
      {id: 'n3', address: 'h:3', status: 'down', version: '1', damagedReplicas: [], unverifiedReplicas: []},
    ]
    const status = clusterStatusOf({...base, nodes})
    expect(status.partitions[0]!.replicaStatus.map((replica) => replica.storage)).to.deep.equal(['unverified', 'damaged', 'unknown'])
    expect(status.partitions[1]!.replicaStatus.map((replica) => replica.storage)).to.deep.equal(['verified', 'verified'])
    expect(status.health.damagedReplicas).to.deep.equal(['t-0 on n2'])
    // A node whose list did not fit its registration reports "*": every replica it holds.
    const all = clusterStatusOf({...base, nodes: nodes.map((node) => (node.id === 'n1' ? {...node, damagedReplicas: ['*']} : node))})
    expect(all.partitions.map((entry) => entry.replicaStatus[0]!.storage)).to.deep.equal(['damaged', 'damaged'])
    expect(renderClusterStatusText(status).split('\n')).to.include('t      0          n2       out-of-sync  7        2    1ms ago      damaged')
  })
})
