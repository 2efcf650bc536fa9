/**
 * The leader member's assignors: range (Kafka's RangeAssignor, eager) and cooperative-sticky
 * (KIP-429: partitions stay where balance allows; one that moves is first revoked by its owner,
 * and assigned only in the round after), plus the consumer-protocol bytes they travel in.
 */
import {expect} from 'chai'
import {cooperativeStickyAssignor} from '../../../src/client/assignors/cooperative-sticky.js'
import {rangeAssignor} from '../../../src/client/assignors/range.js'
import {decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, type TopicPartitionList} from '../../../src/format/consumer-protocol.js'

const counts = new Map([['orders', 6]])
const member = (memberId: string, owned: number[] = [], topics = ['orders']) => ({memberId, subscription: {topics, ownedPartitions: owned.length ? [{topic: 'orders', partitions: owned}] : []}})
const partitionsOf = (lists: TopicPartitionList[] | undefined) => (lists ?? []).flatMap((list) => list.partitions)

describe('assignors', () => {
  it('range: consecutive runs by member id, the first members taking the remainder', () => {
    const two = rangeAssignor.assign([member('b'), member('a')], counts)
    expect(partitionsOf(two.get('a'))).to.deep.equal([0, 1, 2])
    expect(partitionsOf(two.get('b'))).to.deep.equal([3, 4, 5])
    const four = rangeAssignor.assign([member('a'), member('b'), member('c'), member('d')], counts)
    expect(['a', 'b', 'c', 'd'].map((id) => partitionsOf(four.get(id)))).to.deep.equal([[0, 1], [2, 3], [4], [5]])
    // A member not subscribed to the topic gets none of it.
    const mixed = rangeAssignor.assign([member('a'), member('b', [], ['other'])], counts)
    expect(partitionsOf(mixed.get('a'))).to.deep.equal([0, 1, 2, 3, 4, 5])
    expect(partitionsOf(mixed.get('b'))).to.deep.equal([])
  })

  it('cooperative-sticky: a joining member gets nothing still owned; the owner revokes, and the next round hands it over', () => {
    const first = cooperativeStickyAssignor.assign([member('a', [0, 1, 2, 3, 4, 5]), member('b')], counts)
    expect(partitionsOf(first.get('a'))).to.deep.equal([0, 1, 2])
    expect(partitionsOf(first.get('b'))).to.deep.equal([])
    // a revoked 3, 4, 5 and rejoined: now they are free.
    const second = cooperativeStickyAssignor.assign([member('a', [0, 1, 2]), member('b')], counts)
    expect(partitionsOf(second.get('a'))).to.deep.equal([0, 1, 2])
    expect(partitionsOf(second.get('b'))).to.deep.equal([3, 4, 5])
  })

  it('cooperative-sticky: keeps every partition where it is when the owners are balanced, and gives a leaver\'s away whole', () => {
    const stable = cooperativeStickyAssignor.assign([member('a', [1, 3, 5]), member('b', [0, 2, 4])], counts)
    expect(partitionsOf(stable.get('a'))).to.deep.equal([1, 3, 5])
    expect(partitionsOf(stable.get('b'))).to.deep.equal([0, 2, 4])
    const alone = cooperativeStickyAssignor.assign([member('a', [1, 3, 5])], counts)
    expect(partitionsOf(alone.get('a'))).to.deep.equal([0, 1, 2, 3, 4, 5])
    // Three members, one new: each ends with two, and only moved partitions are withheld this round.
    const three = cooperativeStickyAssignor.assign([member('a', [0, 1, 2]), member('b', [3, 4, 5]), member('c')], counts)
    expect(partitionsOf(three.get('a'))).to.have.length(2)
    expect(partitionsOf(three.get('b'))).to.have.length(2)
    expect(partitionsOf(three.get('c'))).to.deep.equal([])
  })

  it('encodes subscriptions and assignments in Kafka\'s consumer protocol (version 1)', () => {
    const subscription = {topics: ['orders'], ownedPartitions: [{topic: 'orders', partitions: [3, 4]}]}
    const bytes = encodeSubscription(subscription)
    // version 1 | 1 topic | "orders" | null user data | 1 owned topic | "orders" | 2 partitions | 3 | 4
    expect(bytes.toString('hex')).to.equal('0001' + '00000001' + '0006' + Buffer.from('orders').toString('hex') + 'ffffffff' + '00000001' + '0006' + Buffer.from('orders').toString('hex') + '00000002' + '00000003' + '00000004')
    expect(decodeSubscription(bytes)).to.deep.equal(subscription)
    expect(decodeAssignment(encodeAssignment([{topic: 'orders', partitions: [0, 5]}]))).to.deep.equal([{topic: 'orders', partitions: [0, 5]}])
    expect(decodeAssignment(Buffer.alloc(0))).to.deep.equal([])
    expect(() => decodeSubscription(Buffer.from('0001000000ff', 'hex'))).to.throw(/consumer protocol/)
  })
})
