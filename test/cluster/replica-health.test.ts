/**
 * A node's replica health reaches every member's view through its Consul registration: given
 * when it joins, changed by a report, and the report keeps the node's session and controller
 * term (registering again must not cost it its roles). A member on a real Consul.
 */
import {expect} from 'chai'
import {ClusterMember} from '../../src/cluster/cluster-member.js'
import {silentLogger} from '../../src/logger.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'

const SESSION_TTL_MS = 3_000
// Room on a loaded 2-core machine for Consul to answer.
const SETTLE_MS = 45_000

describe('replica health in the registration (real Consul)', function () {
  this.timeout(120_000)
  const consul = useConsul({stopFirst: () => member?.stop()})
  let member: ClusterMember | undefined

  it('shows what the node joined with, then what it reports, under the same session', async () => {
    member = await ClusterMember.start({
      consulUrl: consul().url, cluster: 'health-1', nodeId: 'n1', advertiseAddress: '127.0.0.1:41999', version: 'test',
      sessionTtlMs: SESSION_TTL_MS, lockDelayMs: 1_000, logger: silentLogger,
      replicaHealth: {damaged: ['orders-1'], unverified: ['orders-0', 'orders-1']},
    })
    const joined = member
    const node = () => joined.view().nodes.find((candidate) => candidate.id === 'n1')
    const term = await eventually('n1 to be controller with its replica health in its view', async () => {
      const found = node()
      return joined.controllerTerm() && found?.status === 'up' && found.damagedReplicas?.length ? joined.controllerTerm() : undefined
    }, SETTLE_MS)
    expect(node()).to.deep.include({damagedReplicas: ['orders-1'], unverifiedReplicas: ['orders-0', 'orders-1']})
    await joined.reportReplicaHealth({damaged: ['orders-1'], unverified: []})
    await eventually('the report in the view', async () => (node()?.unverifiedReplicas?.length === 0 ? true : undefined), SETTLE_MS)
    expect(node()).to.deep.include({status: 'up', damagedReplicas: ['orders-1'], unverifiedReplicas: []})
    expect(joined.controllerTerm()).to.deep.equal(term)
    expect(joined.leaseValid()).to.equal(true)
  })
})
