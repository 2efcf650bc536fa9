/**
 * Three real `lignum serve --consul` nodes with mutual TLS required on every port, and a real
 * Consul: followers fetch from leaders with their node certificates (acks=all cannot succeed
 * otherwise, with min ISR 2), every replica holds what was produced, a topic created and group
 * offsets committed through any node reach the controller and the coordinator, and `cluster
 * status` (whose answer asks each leader over TLS) is healthy.
 */
import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {makeCa} from '../helpers/certificates.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import {ServeProcess} from './serve-process.js'
import {partitionStatesIn, printLogs} from './cluster-reads.js'
import {LOCK_DELAY_MS, REPLICA_LAG_MAX_MS, SESSION_TTL_MS, SETTLE_MS} from './three-nodes.js'

const CLUSTER = 'tls-cluster'
const RECORDS = 500

describe('three nodes replicating over mutual TLS (real Consul)', function () {
  this.timeout(300_000)
  const consul = useConsul({kind: 'persistent', stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []
  let clientArgs: string[] = []

  before(async function () {
    this.timeout(180_000)
    const ca = await makeCa('cluster-ca')
    const admin = await ca.issue('admin')
    clientArgs = ['--tls-ca', ca.cert, '--tls-cert', admin.cert, '--tls-key', admin.key]
    nodes = await Promise.all(
      ['t1', 't2', 't3'].map(async (nodeId) => {
        const files = await ca.issue(nodeId)
        return ServeProcess.start({
          consulUrl: consul().url,
          cluster: CLUSTER,
          nodeId,
          sessionTtlMs: SESSION_TTL_MS,
          lockDelayMs: LOCK_DELAY_MS,
          env: {LIGNUM_REPLICA_LAG_MAX_MS: String(REPLICA_LAG_MAX_MS), LIGNUM_TLS_CERT_FILE: files.cert, LIGNUM_TLS_KEY_FILE: files.key, LIGNUM_TLS_CA_FILE: ca.cert, LIGNUM_TLS_CLIENT_AUTH: 'required'},
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

  it('replicates acks=all writes to every replica and answers cluster status, all over mTLS', async () => {
    // Asked of a node that is not the controller, the creation is forwarded to it over TLS.
    const {controller} = await nodes[0]!.status()
    const notController = nodes.find((node) => node.nodeId !== controller)!
    const created = await runCli(['topics', 'create', 'secure', '--partitions', '1', '--replication-factor', '3', '--min-insync-replicas', '2', '--brokers', notController.address, ...clientArgs])
    expect(created.code, created.stderr).to.equal(0)
    await eventually('three in-sync replicas', async () => {
      const stored = (await partitionStatesIn(consul().url, CLUSTER, 'secure')).get(0)
      return stored && stored.isr.length === 3 ? stored : undefined
    }, SETTLE_MS)
    const lines = Array.from({length: RECORDS}, (_, index) => `secret-${index}`)
    const produced = await runCli(['produce', '-t', 'secure', '--acks', 'all', '--brokers', nodes[1]!.address, ...clientArgs], {input: lines.join('\n') + '\n', timeoutMs: 60_000})
    expect(produced.code, produced.stderr).to.equal(0)
    for (const node of nodes) {
      // --replica any reads the replica on the node asked, once it is in sync.
      const consumed = await eventually(`all records on ${node.nodeId}'s replica`, async () => {
        const result = await runCli(['consume', '-t', 'secure', '--from', 'beginning', '--to', String(RECORDS), '--replica', 'any', '--brokers', node.address, ...clientArgs], {timeoutMs: 30_000})
        return result.code === 0 && result.stdout.split('\n').length === RECORDS + 1 ? result.stdout : undefined
      }, SETTLE_MS)
      expect(consumed).to.equal(lines.join('\n') + '\n')
    }
    // Group commits go to the group's coordinator: from two of the three nodes, forwarded over TLS.
    for (const node of nodes) {
      const grouped = await runCli(['consume', '-t', 'secure', '--group', 'auditors', '-c', '10', '--brokers', node.address, ...clientArgs], {timeoutMs: 30_000})
      expect(grouped.stderr, `a group consumer on ${node.nodeId}`).to.equal('')
      expect(grouped.code).to.equal(0)
    }
    const status = await runCli(['cluster', 'status', '--json', '--wait-healthy', '--timeout', '60s', '--brokers', nodes[2]!.address, ...clientArgs], {timeoutMs: 90_000})
    expect(status.code, status.stderr).to.equal(0)
    const document = JSON.parse(status.stdout) as {partitions: {topic: string; highWatermark: number | null; isr: string[]}[]}
    const partition = document.partitions.find((entry) => entry.topic === 'secure')!
    expect(partition.highWatermark, 'the leader answered the status fan-out over TLS').to.equal(RECORDS)
    expect(partition.isr).to.have.length(3)
  })
})
