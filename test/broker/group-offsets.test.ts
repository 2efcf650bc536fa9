/**
 * Where a group's offsets live in cluster mode: Kafka's placement, abs(groupId.hashCode) %
 * partitions, so the choice never changes between nodes, restarts or versions.
 */
import {expect} from 'chai'
import {groupOffsetsPartitionOf} from '../../src/broker/group-offsets.js'

describe('the offsets partition of a consumer group', () => {
  it('is abs(Java String.hashCode) modulo the partition count', () => {
    // Java: "hello".hashCode() == 99162322, "abc".hashCode() == 96354, "".hashCode() == 0.
    expect(groupOffsetsPartitionOf('hello', 50)).to.equal(99162322 % 50)
    expect(groupOffsetsPartitionOf('abc', 6)).to.equal(96354 % 6)
    expect(groupOffsetsPartitionOf('', 6)).to.equal(0)
    // Java: "Aa".hashCode() == "BB".hashCode() == 2112.
    expect(groupOffsetsPartitionOf('Aa', 7)).to.equal(groupOffsetsPartitionOf('BB', 7)).and.to.equal(2112 % 7)
  })

  it('wraps at 32 bits and maps a negative hash to its absolute value, Integer.MIN_VALUE to 0 (as Kafka\'s Utils.abs)', () => {
    // Java: "billing".hashCode() == -109829509.
    expect(groupOffsetsPartitionOf('billing', 1000)).to.equal(109829509 % 1000)
    // Java: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
    expect(groupOffsetsPartitionOf('polygenelubricants', 7)).to.equal(0)
  })

  it('is always a partition of the topic', () => {
    for (let index = 0; index < 1000; index++) {
      const partition = groupOffsetsPartitionOf(`group-${index}`, 6)
      expect(Number.isInteger(partition) && partition >= 0 && partition < 6).to.equal(true)
    }
  })
})
