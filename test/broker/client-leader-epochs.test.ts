import {expect} from 'chai'
import {checkClientLeaderEpoch, epochAtOffset, epochEndForClient} from '../../src/broker/client-leader-epochs.js'
import {LignumError} from '../../src/errors.js'

// Epoch 2 wrote offsets 0-9, epoch 4 offsets 10-24, epoch 7 from 25 to the log end, 40.
const HISTORY = [
  {epoch: 2, startOffset: 0},
  {epoch: 4, startOffset: 10},
  {epoch: 7, startOffset: 25},
]
const LOG_END_OFFSET = 40

describe('leader epochs as clients name them', () => {
  it("answers an epoch's end as Kafka's leader answers a consumer's OffsetForLeaderEpoch", () => {
    const answer = (epoch: number) => epochEndForClient(HISTORY, LOG_END_OFFSET, epoch)
    expect(answer(2)).to.deep.equal({epoch: 2, endOffset: 10})
    expect(answer(3), 'an epoch this log never saw: the one before it').to.deep.equal({epoch: 2, endOffset: 10})
    expect(answer(4)).to.deep.equal({epoch: 4, endOffset: 25})
    expect(answer(7), 'the latest ends at the log end').to.deep.equal({epoch: 7, endOffset: 40})
    expect(answer(9)).to.deep.equal({epoch: 7, endOffset: 40})
    expect(answer(1), 'older than the history: the first epoch start').to.deep.equal({epoch: 1, endOffset: 0})
    expect(answer(-1)).to.deep.equal({epoch: -1, endOffset: -1})
    expect(epochEndForClient([], 0, 0), 'no history').to.deep.equal({epoch: -1, endOffset: -1})
  })

  it('names the epoch an offset was written in', () => {
    expect([0, 9, 10, 24, 25, 39, 40].map((offset) => epochAtOffset(HISTORY, offset))).to.deep.equal([2, 2, 4, 4, 7, 7, 7])
    expect(epochAtOffset([{epoch: 3, startOffset: 5}], 4)).to.equal(-1)
    expect(epochAtOffset([], 0)).to.equal(-1)
  })

  it("fences a client's current leader epoch: older is fenced, newer unknown yet, -1 not checked", () => {
    const codeOf = (current: number) => {
      try {
        checkClientLeaderEpoch('orders-0', 4, current)
        return 'none'
      } catch (error) {
        expect(error).to.be.instanceOf(LignumError)
        return (error as LignumError).code
      }
    }
    expect([3, 4, 5, -1].map(codeOf)).to.deep.equal(['FENCED_LEADER_EPOCH', 'none', 'UNKNOWN_LEADER_EPOCH', 'none'])
  })
})
