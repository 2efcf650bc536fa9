/**
 * Replica assignment for new topics: every partition gets R distinct replicas, leaders and
 * replicas spread evenly, the same inputs give the same answer, and settings that cannot be
 * met are refused with what to change.
 */
import {expect} from 'chai'
import fc from 'fast-check'
import {assignReplicas, defaultReplication, randomStart, validateReplication} from '../../src/cluster/replica-assignment.js'
import {LignumError} from '../../src/errors.js'

function counts(lists: string[][], pick: (replicas: string[]) => string[], nodes: string[]): number[] {
  const byNode = new Map(nodes.map((node) => [node, 0]))
  for (const replicas of lists) for (const node of pick(replicas)) byNode.set(node, byNode.get(node)! + 1)
  return [...byNode.values()]
}

const spread = (values: number[]) => Math.max(...values) - Math.min(...values)

const requests = fc
  .integer({min: 1, max: 9})
  .chain((nodeCount) =>
    fc.record({
      nodes: fc.constant(Array.from({length: nodeCount}, (_, index) => `node-${index}`)),
      partitions: fc.integer({min: 1, max: 300}),
      replicationFactor: fc.integer({min: 1, max: nodeCount}),
      start: fc.record({nodeIndex: fc.nat({max: 50}), shift: fc.nat({max: 50})}),
    }),
  )

describe('replica assignment', function () {
  it('gives every partition R distinct replicas drawn from the nodes', function () {
    fc.assert(
      fc.property(requests, (request) => {
        const assignment = assignReplicas(request)
        expect(assignment).to.have.length(request.partitions)
        for (const replicas of assignment) {
          expect(replicas).to.have.length(request.replicationFactor)
          expect(new Set(replicas).size).to.equal(request.replicationFactor)
          for (const node of replicas) expect(request.nodes).to.include(node)
        }
      }),
    )
  })

  it('balances leaders to within one partition per node, and replicas to within one per position', function () {
    fc.assert(
      fc.property(requests, (request) => {
        const assignment = assignReplicas(request)
        expect(spread(counts(assignment, (replicas) => [replicas[0]!], request.nodes))).to.be.at.most(1)
        // Each replica position (leader, first follower, ...) is itself round-robin.
        for (let position = 0; position < request.replicationFactor; position += 1) {
          expect(spread(counts(assignment, (replicas) => [replicas[position]!], request.nodes))).to.be.at.most(1)
        }
        expect(spread(counts(assignment, (replicas) => replicas, request.nodes))).to.be.at.most(request.replicationFactor)
        // A whole number of rounds over the nodes gives every node the same share.
        if (request.partitions % request.nodes.length === 0) {
          expect(spread(counts(assignment, (replicas) => replicas, request.nodes))).to.equal(0)
        }
      }),
    )
  })

  it('spreads the followers of one node’s leaders over the other nodes', function () {
    const nodes = ['a', 'b', 'c', 'd']
    const assignment = assignReplicas({nodes, partitions: 12, replicationFactor: 2, start: {nodeIndex: 0, shift: 0}})
    const followersOfA = assignment.filter((replicas) => replicas[0] === 'a').map((replicas) => replicas[1])
    expect(new Set(followersOfA)).to.deep.equal(new Set(['b', 'c', 'd']))
  })

  it('is deterministic given the nodes (in any order) and the start', function () {
    const start = {nodeIndex: 2, shift: 1}
    const one = assignReplicas({nodes: ['n3', 'n1', 'n2'], partitions: 7, replicationFactor: 3, start})
    const other = assignReplicas({nodes: ['n1', 'n2', 'n3'], partitions: 7, replicationFactor: 3, start})
    expect(one).to.deep.equal(other)
    expect(one.slice(0, 3)).to.deep.equal([
      ['n3', 'n2', 'n1'],
      ['n1', 'n3', 'n2'],
      ['n2', 'n1', 'n3'],
    ])
    expect(randomStart(3, () => 0.7)).to.deep.equal({nodeIndex: 2, shift: 2})
  })

  it('refuses a replication factor above the live node count, saying what to do', function () {
    expect(() => assignReplicas({nodes: ['a', 'b'], partitions: 3, replicationFactor: 3, start: {nodeIndex: 0, shift: 0}}))
      .to.throw(LignumError, 'replication factor 3 needs 3 live nodes, 2 are registered')
      .with.property('code', 'INVALID_ARGUMENT')
    expect(() => assignReplicas({nodes: [], partitions: 1, replicationFactor: 1, start: {nodeIndex: 0, shift: 0}})).to.throw(LignumError, /1 live nodes, 0 are registered/)
    expect(() => validateReplication({partitions: 3, replicationFactor: 2, minInsyncReplicas: 3}, 3)).to.throw(LignumError, /min in-sync replicas 3/)
    expect(() => validateReplication({partitions: 0, replicationFactor: 1, minInsyncReplicas: 1}, 3)).to.throw(LignumError, /partition count 0/)
  })

  it('defaults auto-created topics to RF min(3, live nodes) and min ISR min(2, RF)', function () {
    expect(defaultReplication(1)).to.deep.equal({replicationFactor: 1, minInsyncReplicas: 1})
    expect(defaultReplication(2)).to.deep.equal({replicationFactor: 2, minInsyncReplicas: 2})
    expect(defaultReplication(5)).to.deep.equal({replicationFactor: 3, minInsyncReplicas: 2})
  })
})
