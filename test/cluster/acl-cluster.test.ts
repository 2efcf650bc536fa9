/**
 * Three real `lignum serve --consul` nodes with mutual TLS and authorization, the rules in the
 * cluster's Consul key (acl.store consul) and the nodes' own principals super users: a rule
 * added through one node is enforced by another without a restart, and so is its removal; the
 * nodes still replicate (their node-to-node calls need admin on the cluster, which they have).
 * Kafka's console tools over SSL, with the same certificates, get the same principals and rules
 * from every node's Kafka listener.
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
import type {CertificateFiles} from '../helpers/certificates.js'
import {javaSslProperties} from '../helpers/java-keystores.js'
import {consoleProduce, requireKafkaTools, runKafkaTool, type KafkaTools} from '../helpers/kafka-tools.js'

const CLUSTER = 'acl-cluster'
const NODE_IDS = ['a1', 'a2', 'a3']

describe('authorization rules in Consul, the same on three nodes (real Consul, mTLS)', function () {
  this.timeout(300_000)
  const consul = useConsul({kind: 'persistent', stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []
  let asAdmin: string[] = []
  let asAlice: string[] = []
  let aliceFiles: CertificateFiles
  let caFile = ''
  let tools: KafkaTools

  before(async function () {
    tools = await requireKafkaTools(this)
    this.timeout(180_000)
    const ca = await makeCa('acl-cluster-ca')
    const [admin, alice] = await Promise.all([ca.issue('admin'), ca.issue('alice')])
    asAdmin = ['--tls-ca', ca.cert, '--tls-cert', admin.cert, '--tls-key', admin.key]
    asAlice = ['--tls-ca', ca.cert, '--tls-cert', alice.cert, '--tls-key', alice.key]
    aliceFiles = alice
    caFile = ca.cert
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
            LIGNUM_KAFKA_PORT: '0',
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

  it("lets Kafka's console tools over mutual TLS produce to every partition's leader and consume in a group, by the rules in Consul", async () => {
    const [a1, a2, a3] = nodes as [ServeProcess, ServeProcess, ServeProcess]
    const topic = 'kafka-spread'
    const created = await runCli(['topics', 'create', topic, '--partitions', '3', '--replication-factor', '3', '--min-insync-replicas', '2', '--brokers', a1.address, ...asAdmin])
    expect(created.code, created.stderr).to.equal(0)
    const states = await eventually('three in-sync replicas of every partition', async () => {
      const stored = await partitionStatesIn(consul().url, CLUSTER, topic)
      return stored.size === 3 && [...stored.values()].every((state) => state.isr.length === 3) ? stored : undefined
    }, SETTLE_MS)
    expect(new Set([...states.values()].map((state) => state.leader)).size, 'a leader on each node: the producer connects to all three').to.equal(3)
    const rules = [['produce', '--topic', topic], ['consume', '--topic', topic], ['consume', '--group', 'kafka-readers']]
    for (const [operation, ...resource] of rules) {
      const added = await runCli(['acl', 'add', '--allow', '--principal', 'alice', '--operation', operation!, ...resource, '--brokers', a1.address, ...asAdmin])
      expect(added.code, added.stderr).to.equal(0)
    }
    for (const node of nodes) {
      await eventually(`${node.nodeId} holds the new rules`, async () => (JSON.parse((await runCli(['acl', 'list', '--json', '--brokers', node.address, ...asAdmin])).stdout).rules.length === rules.length ? true : undefined), 20_000)
    }
    const ssl = await javaSslProperties(caFile, aliceFiles)
    const lines = Array.from({length: 300}, (_, index) => `key-${index}|over mtls ${index}`)
    const produced = await consoleProduce(tools, a2.kafkaAddress, topic, lines, ['acks=all', 'enable.idempotence=true', ...ssl])
    expect(produced.code, produced.stderr).to.equal(0)
    const consumerArgs = ['--bootstrap-server', a3.kafkaAddress, '--topic', topic, '--group', 'kafka-readers', '--from-beginning', '--max-messages', String(lines.length), '--timeout-ms', '60000', '--property', 'print.key=true', '--property', 'key.separator=|']
    const consumed = await runKafkaTool(tools, 'org.apache.kafka.tools.consumer.ConsoleConsumer', [...consumerArgs, ...ssl.flatMap((property) => ['--consumer-property', property])])
    expect(consumed.code, consumed.stderr).to.equal(0)
    expect(consumed.stdout.trimEnd().split('\n').sort()).to.deep.equal([...lines].sort())
  })
})
