/**
 * A controller whose check (and so its session) Consul lost steps down as soon as an answer
 * shows it, not at its next renewal nor at its lease's end: the member, in this process,
 * reaches a real Consul through a proxy that cuts its KV watch off, so the lock Consul
 * released cannot tell it. The health watch shows its service gone, the heartbeat runs at
 * once, the renewal is refused, and it steps down before it registers again.
 */
import {expect} from 'chai'
import {ClusterKeys} from '../../src/cluster/cluster-keys.js'
import {ClusterMember} from '../../src/cluster/cluster-member.js'
import {ConsulApi} from '../../src/cluster/consul-api.js'
import {silentLogger} from '../../src/logger.js'
import {useConsul} from '../helpers/consul-suite.js'
import {startConsulHttpProxy, type ConsulHttpProxy} from '../helpers/consul-http-proxy.js'
import {waitFor} from './catalog-fixtures.js'

// Renewals every 10 s and a 24 s lease: a step-down within STEP_DOWN_MS_MAX is neither.
const SESSION_TTL_MS = 30_000
// Room on a loaded 2-core machine for the health watch's answer and one renewal.
const STEP_DOWN_MS_MAX = 3_000

describe('cluster member whose check Consul lost (real Consul)', function () {
  this.timeout(120_000)
  const consul = useConsul({
    stopFirst: async () => {
      proxy?.release()
      await member?.stop()
      await proxy?.close()
      api?.close()
    },
  })
  let api: ConsulApi
  let proxy: ConsulHttpProxy
  let member: ClusterMember | undefined

  before(async function () {
    api = new ConsulApi(consul().url, 5_000)
    proxy = await startConsulHttpProxy(consul().url)
  })

  it('steps down as controller before registering again, long before its next renewal', async function () {
    const keys = new ClusterKeys('check-gone')
    member = await ClusterMember.start({
      consulUrl: proxy.url,
      cluster: keys.cluster,
      nodeId: 'n1',
      advertiseAddress: '127.0.0.1:41001',
      version: 'v',
      sessionTtlMs: SESSION_TTL_MS,
      lockDelayMs: 0,
      logger: silentLogger,
    })
    const controller = member
    await waitFor('the member to become controller', () => controller.isController() && controller.ready(), 30_000)
    const actingAtRegistration: boolean[] = []
    proxy.onRequest((method, path) => {
      if (method === 'PUT' && path.startsWith('/v1/agent/service/register')) actingAtRegistration.push(controller.isController())
    })
    proxy.hold((_method, path) => path.startsWith('/v1/kv/'))

    const removedAtMs = performance.now()
    await api.deregisterService(keys.serviceId('n1'))
    await waitFor('the member to step down', () => !controller.isController(), 30_000)
    const stepDownMs = performance.now() - removedAtMs
    expect(stepDownMs, 'from the check\'s removal to the step-down').to.be.lessThan(STEP_DOWN_MS_MAX)
    await waitFor('the member to register again', () => actingAtRegistration.length > 0)
    expect(actingAtRegistration[0], 'acting as controller when it registered again').to.equal(false)

    proxy.release()
    await waitFor('the member to be controller again under a new session', () => controller.isController(), 30_000)
  })
})
