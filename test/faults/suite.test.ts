/**
 * One fault scenario end to end, as `npm run faults -- --scenario follower-kill --seed 1`
 * runs it: a real Consul, three real nodes, acks=all load, a follower killed with -9 and
 * restarted, every replica read after healing; the checker must count no violation, and the
 * run must have acknowledged records and read them back from all three replicas.
 */
import {expect} from 'chai'
import {totalViolations} from '../../faults/checker.js'
import {scenarioNamed} from '../../faults/scenarios/index.js'
import {runScenario} from '../../faults/suite.js'
import {ConsulAgent, requireConsulBinary} from '../helpers/consul.js'

const SEED = 1

describe('fault suite: follower kill -9 and restart (real nodes, real Consul)', function () {
  this.timeout(180_000)
  let consul: ConsulAgent
  let consulBinary: string

  before(async function () {
    consulBinary = await requireConsulBinary(this)
    this.timeout(120_000)
    consul = await ConsulAgent.start(consulBinary, 'dev')
  })

  after(async () => {
    await consul?.destroy()
  })

  it('loses, duplicates, changes and diverges nothing acknowledged with acks=all', async () => {
    const run = await runScenario({url: consul.url, binary: consulBinary}, scenarioNamed('follower-kill')!, SEED)
    expect(run.result.violations, `${JSON.stringify(run.result.examples)}; ${run.notes.join('; ')}`).to.deep.equal({lost: 0, duplicated: 0, changed: 0, divergent: 0, nonMonotonic: 0, phantom: 0, underReplicatedAcks: 0})
    expect(totalViolations(run.result.violations)).to.equal(0)
    expect(run.result.acknowledged, 'the load was acknowledged').to.be.greaterThan(100)
    expect(run.notes.join('; ')).to.match(/kill -9 n\d/)
    expect(run.notes.join('; ')).to.include(`replicas hold`)
  })
})
