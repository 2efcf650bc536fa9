/**
 * Three real `lignum serve --consul` nodes with mutual TLS and authorization, the rules in the
 * cluster's Consul key (acl.store consul) and the nodes' own principals super users: a rule
 * added through one node is enforced by another without a restart, and so is its removal; the
 * nodes still replicate (their node-to-node calls need admin on the cluster, which they have).
 */
import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {makeCa} from '../helpers/certificates.js'
import {useConsul} from '../helpers/consul-suite.js'
import {errorTable} from '../../src/errors.js'
import {eventually} from './member-process.js'
import {ServeProcess} from './serve-process.js'
import {partitionStatesIn, printLogs} from './cluster-reads.js'
import {LOCK_DELAY_MS, REPLICA_LAG_MAX_MS, SESSION_TTL_MS, SETTLE_MS} from './three-nodes.js'

const CLUSTER = 'acl-cluster'
const NODE_IDS = ['a1', 'a2', 'a3']

describe('authorization rules in Consul, the same on three nodes (real Consul, mTLS)', function () {
  this.timeout(300_000)
  const consul = useConsul({kind: 'persistent', stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []
  let asAdmin: string[] = []
  let asAlice: string[] = []

  before(async function () {
    this.timeout(180_000)
    const ca = await makeCa('acl-cluster-ca')
    const [admin, alice] = await Promise.all([ca.issue('admin'), ca.issue('alice')])
    asAdmin = ['--tls-ca', ca.cert, '--tls-cert', admin.cert, '--tls-key', admin.key]
    asAlice = ['--tls-ca', ca.cert, '--tls-cert', alice.cert, '--tls-key', alice.key]
    nodes = await Promise.all(
      NODE_IDS.map(async (nodeId) => {
        const files = await ca.issue(nodeId)
        return ServeProcess.start({
          consulUrl: consul().url,
          cluster: CLUSTER,
          nodeId,
          sessionTtlMs: SESSION_TTL_MS,
          lockDelayMs: LOCK_DELAY_MS,
          env: {
            LIGNUM_REPLICA_LAG_MAX_MS: String(REPLICA_LAG_MAX_MS),
            LIGNUM_TLS_CERT_FILE: files.cert,
            LIGNUM_TLS_KEY_FILE: files.key,
            LIGNUM_TLS_CA_FILE: ca.cert,
            LIGNUM_TLS_CLIENT_AUTH: 'required',
            LIGNUM_ACL_ENABLED: 'true',
            LIGNUM_ACL_STORE: 'consul',
            LIGNUM_ACL_SUPER_USERS: [...NODE_IDS, 'admin'].join(','),
          },
          clientTls: {caFile: ca.cert, certFile: admin.cert, keyFile: admin.key},
        })
      }),
    )
    await eventually('a controller with all three nodes up', async () => {
      const status = await nodes[0]!.status()
      return status.controller !== null && status.nodes.filter((node) => node.status === 'up').length === 3 ? true : undefined
    }, SETTLE_MS)
  })
  afterEach(function () {
    if (this.currentTest?.state === 'failed') printLogs(nodes, 40)
  })

  it('enforces on a2 a rule added through a1, and its removal, without a restart', async () => {
    const [a1, a2] = nodes as [ServeProcess, ServeProcess]
    const created = await runCli(['topics', 'create', 'shared', '--replication-factor', '3', '--min-insync-replicas', '2', '--brokers', a1.address, ...asAdmin])
    expect(created.code, created.stderr).to.equal(0)
    await eventually('three in-sync replicas (nodes replicate as super users)', async () => {
      const stored = (await partitionStatesIn(consul().url, CLUSTER, 'shared')).get(0)
      return stored && stored.isr.length === 3 ? stored : undefined
    }, SETTLE_MS)
    const produceThroughA2 = () => runCli(['produce', '-t', 'shared', '--acks', 'all', '--brokers', a2.address, ...asAlice], {input: 'hello\n', timeoutMs: 60_000})

    const refused = await produceThroughA2()
    expect(refused.stderr).to.match(/alice may not produce to any topic/)
    expect(refused.code).to.equal(errorTable.PERMISSION_DENIED.exitCode)

    const added = await runCli(['acl', 'add', '--allow', '--principal', 'alice', '--operation', 'produce', '--topic', 'shared', '--brokers', a1.address, ...asAdmin])
    expect(added.stdout, added.stderr).to.equal(`Added: allow alice produce on topic shared (Consul key lignum/${CLUSTER}/acl-rules).\n`)
    await eventually('a2 allows alice to produce', async () => ((await produceThroughA2()).code === 0 ? true : undefined), 20_000)
    const listed = JSON.parse((await runCli(['acl', 'list', '--json', '--brokers', nodes[2]!.address, ...asAdmin])).stdout)
    expect(listed.rules).to.deep.equal([{principal: 'alice', permission: 'allow', operation: 'produce', resourceType: 'topic', resourceName: 'shared', patternType: 'literal'}])

    const removed = await runCli(['acl', 'remove', '--allow', '--principal', 'alice', '--operation', 'produce', '--topic', 'shared', '--brokers', a1.address, ...asAdmin])
    expect(removed.code, removed.stderr).to.equal(0)
    await eventually('a2 refuses alice again', async () => ((await produceThroughA2()).code === errorTable.PERMISSION_DENIED.exitCode ? true : undefined), 20_000)
  })
})
