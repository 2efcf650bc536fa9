import {expect} from 'chai'
import {allocateWithHeadroom, claimHeadroom, HEADROOM_BYTES} from '../../src/log/read-headroom.js'

describe('read headroom', () => {
  it('lends the room in front of a read once, leaving the data in place', () => {
    const data = allocateWithHeadroom(8)
    data.write('abcdefgh')
    const framed = claimHeadroom(data.subarray(0, 5), 3)
    expect(framed).to.not.equal(undefined)
    framed!.write('xyz', 0)
    expect(framed!.toString()).to.equal('xyzabcde')
    expect(claimHeadroom(data, 3)).to.equal(undefined)
  })

  it('refuses buffers it did not allocate, views not at the start, and prefixes larger than the room', () => {
    expect(claimHeadroom(Buffer.from('pooled'), 1)).to.equal(undefined)
    expect(claimHeadroom(allocateWithHeadroom(8).subarray(1), 1)).to.equal(undefined)
    expect(claimHeadroom(allocateWithHeadroom(8), HEADROOM_BYTES + 1)).to.equal(undefined)
  })
})
