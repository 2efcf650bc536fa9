import {expect} from 'chai'
import {leadershipOfThisProcess} from '../../src/cluster/leadership-incarnation.js'

describe('a leadership recorded for a process of this node', () => {
  it('is acted on when recorded for this incarnation', () => {
    expect(leadershipOfThisProcess({leader: 'a', leaderIncarnation: 'one'}, 'a', 'one')).to.equal(true)
  })

  it('is refused when recorded for an earlier incarnation: the node restarted, the controller elects anew', () => {
    expect(leadershipOfThisProcess({leader: 'a', leaderIncarnation: 'one'}, 'a', 'two')).to.equal(false)
  })

  it('is taken as this process\'s when no incarnation was recorded (a state written before they were)', () => {
    expect(leadershipOfThisProcess({leader: 'a'}, 'a', 'two')).to.equal(true)
  })

  it('never refuses a state naming another node or no leader', () => {
    expect(leadershipOfThisProcess({leader: 'b', leaderIncarnation: 'one'}, 'a', 'two')).to.equal(true)
    expect(leadershipOfThisProcess({leader: null}, 'a', 'two')).to.equal(true)
  })
})
