import {expect} from 'chai'
import {borrowWithHeadroom, claimHeadroom, HEADROOM_BYTES, recycleBuffer} from '../../src/format/headroom.js'

describe('headroom', () => {
  it('lends the room in front of a read once, leaving the data in place', () => {
    const data = borrowWithHeadroom(8)
    data.write('abcdefgh')
    const framed = claimHeadroom(data.subarray(0, 5), 3)
    expect(framed).to.not.equal(undefined)
    framed!.write('xyz', 0)
    expect(framed!.toString()).to.equal('xyzabcde')
    expect(claimHeadroom(data, 3)).to.equal(undefined)
  })

  it('refuses buffers it did not allocate, views not at the start, and prefixes larger than the room', () => {
    expect(claimHeadroom(Buffer.from('pooled'), 1)).to.equal(undefined)
    expect(claimHeadroom(borrowWithHeadroom(8).subarray(1), 1)).to.equal(undefined)
    expect(claimHeadroom(borrowWithHeadroom(8), HEADROOM_BYTES + 1)).to.equal(undefined)
  })
})

describe('pooled reads', () => {
  const largeReadBytes = 1024 * 1024

  it('lends a recycled large read again, with its room restored', () => {
    const first = borrowWithHeadroom(largeReadBytes)
    claimHeadroom(first, 5)
    recycleBuffer(first)
    const second = borrowWithHeadroom(largeReadBytes - 10)
    expect(second.buffer).to.equal(first.buffer)
    expect(second.length).to.equal(largeReadBytes - 10)
    expect(claimHeadroom(second, HEADROOM_BYTES)).to.not.equal(undefined)
  })

  it('takes a read back only once, so two readers never share a buffer', () => {
    const read = borrowWithHeadroom(largeReadBytes)
    recycleBuffer(read)
    recycleBuffer(read)
    const first = borrowWithHeadroom(largeReadBytes)
    const second = borrowWithHeadroom(largeReadBytes)
    expect(first.buffer).to.equal(read.buffer)
    expect(second.buffer).to.not.equal(read.buffer)
  })

  it('ignores small buffers and buffers it did not lend', () => {
    const small = borrowWithHeadroom(100)
    recycleBuffer(small)
    expect(borrowWithHeadroom(100).buffer).to.not.equal(small.buffer)
    const foreign = Buffer.allocUnsafeSlow(largeReadBytes)
    recycleBuffer(foreign)
    expect(borrowWithHeadroom(largeReadBytes).buffer).to.not.equal(foreign.buffer)
  })
})
