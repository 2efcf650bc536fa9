import {expect} from 'chai'
import {CrcCheckedRanges} from '../../src/log/crc-checked-ranges.js'

describe('CrcCheckedRanges', () => {
  it('covers only what was added, merging ranges that touch or overlap', () => {
    const ranges = new CrcCheckedRanges()
    expect(ranges.covers(0, 1)).to.equal(false)
    ranges.add(100, 200)
    ranges.add(300, 400)
    expect(ranges.covers(100, 200)).to.equal(true)
    expect(ranges.covers(150, 250)).to.equal(false)
    expect(ranges.covers(0, 50)).to.equal(false)
    expect(ranges.count).to.equal(2)
    ranges.add(200, 300)
    expect(ranges.count).to.equal(1)
    expect(ranges.covers(100, 400)).to.equal(true)
    ranges.add(50, 120)
    expect(ranges.covers(50, 400)).to.equal(true)
    expect(ranges.count).to.equal(1)
  })

  it('forgets what lies past a truncation', () => {
    const ranges = new CrcCheckedRanges()
    ranges.add(0, 100)
    ranges.add(200, 300)
    ranges.truncate(50)
    expect(ranges.covers(0, 50)).to.equal(true)
    expect(ranges.covers(0, 51)).to.equal(false)
    expect(ranges.count).to.equal(1)
  })

  it('stays bounded: forgetting a range only means checking it again', () => {
    const ranges = new CrcCheckedRanges()
    for (let index = 0; index < 1000; index++) ranges.add(index * 10, index * 10 + 5)
    expect(ranges.count).to.be.at.most(64)
  })
})
