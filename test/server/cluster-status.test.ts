import {expect} from 'chai'
import type {LedPartition} from '../../src/generated/lignum/v1/lignum.js'
import {gatherReports, LEADER_REPORT_CONCURRENCY, LEADER_REPORT_TIMEOUT_MS} from '../../src/server/cluster-status.js'

describe('asking the other nodes for their reports', function () {
  this.timeout(LEADER_REPORT_TIMEOUT_MS * 5)

  it('asks every live node other than itself, leading something or not, at most LEADER_REPORT_CONCURRENCY at once', async () => {
    const count = LEADER_REPORT_CONCURRENCY * 2 + 3
    const nodes = Array.from({length: count}, (_, index) => ({id: `n${index}`, address: `host:${index}`}))
    const live = new Set(nodes.map((node) => node.id).filter((id) => id !== 'n1'))
    let inFlight = 0
    let most = 0
    const askedAddresses: string[] = []
    const own: LedPartition[] = []
    const reports = await gatherReports(nodes, live, 'n0', own, async (address) => {
      askedAddresses.push(address)
      most = Math.max(most, ++inFlight)
      await new Promise((resolve) => setTimeout(resolve, 5))
      inFlight--
      return []
    })
    expect(most).to.equal(LEADER_REPORT_CONCURRENCY)
    expect(askedAddresses.sort()).to.deep.equal(nodes.filter((node) => node.id !== 'n0' && node.id !== 'n1').map((node) => node.address).sort())
    expect(reports.get('n0')).to.deep.equal({answered: true, led: own})
    expect(reports.has('n1'), 'a node that is not live is not asked').to.equal(false)
  })

  it('a node that does not answer in time, or fails, is reported as not answered with the reason', async () => {
    const nodes = [{id: 'n1', address: 'frozen:1'}, {id: 'n2', address: 'broken:2'}]
    const reports = await gatherReports(nodes, new Set(['n1', 'n2']), 'n0', [], (address) =>
      address.startsWith('frozen') ? new Promise<never>(() => {}) : Promise.reject(new Error('connection refused')),
    )
    expect(reports.get('n1')).to.deep.equal({answered: false, reason: `no answer from frozen:1 within ${LEADER_REPORT_TIMEOUT_MS} ms`})
    expect(reports.get('n2')).to.deep.equal({answered: false, reason: 'connection refused'})
  })
})
