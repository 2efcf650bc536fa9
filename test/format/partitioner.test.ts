import {expect} from 'chai'
import {murmur2, partitionForKey, StickyPartitioner} from '../../src/format/partitioner.js'

describe('partitioner', () => {
  it('hashes like Kafka\'s murmur2 (vectors from Kafka\'s UtilsTest)', () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ]
    for (const [input, expected] of vectors) expect(murmur2(Buffer.from(input)), input).to.equal(expected)
  })

  it('puts a key on the partition Kafka\'s default partitioner picks', () => {
    // (murmur2("foobar") & 0x7fffffff) % 50 = 1357151166 % 50 = 16
    expect(partitionForKey(Buffer.from('foobar'), 50)).to.equal(16)
    expect(partitionForKey(Buffer.from('21'), 7)).to.equal((-973932308 & 0x7fffffff) % 7)
  })

  it('sticks to one partition until a batch is sent, then moves on', () => {
    const sticky = new StickyPartitioner()
    const first = sticky.choose(4)
    expect(sticky.choose(4)).to.equal(first)
    sticky.next(4)
    expect(sticky.choose(4)).to.equal((first + 1) % 4)
  })
})
