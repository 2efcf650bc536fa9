/**
 * What a cluster member reads from Consul to follow the cluster: the controller keys and the
 * node records, never the topic catalog beside them, so partition-state changes cost a member
 * nothing (against a real Consul, the member in this process).
 */
import {expect} from 'chai'
import {ClusterKeys} from '../../src/cluster/cluster-keys.js'
import {ClusterMember} from '../../src/cluster/cluster-member.js'
import {ConsulApi} from '../../src/cluster/consul-api.js'
import {silentLogger} from '../../src/logger.js'
import {useConsul} from '../helpers/consul-suite.js'
import {plant, sleep, waitFor} from './catalog-fixtures.js'

const PARTITIONS = 200
const ISR_CHANGES = 5
// Long enough for a blocking query to answer a change on loopback many times over.
const QUIET_MS = 500

describe('cluster member watches (real Consul)', function () {
  this.timeout(120_000)
  const consul = useConsul({
    stopFirst: async () => {
      await member?.stop()
      api?.close()
    },
  })
  let api: ConsulApi
  let member: ClusterMember | undefined

  before(async function () {
    api = new ConsulApi(consul().url, 5_000)
  })

  it('follow the controller and the nodes without receiving the topic catalog’s partition states', async function () {
    const keys = new ClusterKeys('narrow')
    member = await ClusterMember.start({
      consulUrl: consul().url,
      cluster: keys.cluster,
      nodeId: 'n1',
      advertiseAddress: '127.0.0.1:41001',
      version: 'v',
      sessionTtlMs: 3_000,
      lockDelayMs: 0,
      logger: silentLogger,
    })
    await waitFor('the member to become controller and record itself', () => member!.isController() && member!.view().nodes.some((node) => node.id === 'n1'))
    while (!(await api.kvGet(keys.node('n1')))) await sleep(50)
    await sleep(QUIET_MS)

    const before = member.kvEntriesReceived()
    const state = (isr: string[]) => JSON.stringify({version: 1, replicas: ['n1'], leader: 'n1', leaderEpoch: 0, isr, epoch: 1, partitionEpoch: 0})
    for (let partition = 0; partition < PARTITIONS; partition += 1) await plant(api, keys.partition('wide', partition), state(['n1']))
    await plant(api, keys.topic('wide'), JSON.stringify({version: 1, name: 'wide'}))
    for (let change = 0; change < ISR_CHANGES; change += 1) await plant(api, keys.partition('wide', 7), state(change % 2 ? ['n1'] : []))
    await sleep(QUIET_MS)
    // Watching the whole tree would have cost about PARTITIONS entries per write.
    expect(member.kvEntriesReceived() - before).to.equal(0)
    expect(member.view()).to.include({controller: 'n1'})
  })
})
