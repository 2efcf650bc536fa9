/**
 * Nodes reaching a real Consul over HTTPS (verify_incoming: a client certificate required)
 * with ACLs on and default deny, using a token of exactly the README's policy: three nodes
 * elect a controller, create an RF=3 topic and replicate acks=all. Every rule of that policy is
 * needed (a token without it stops a node at start, naming it), and each setup mistake (no
 * token, key read but not write, no CA, no client certificate, HTTPS to the HTTP port and the
 * reverse) stops `lignum serve` with one line before it touches its data directory.
 */
import {expect} from 'chai'
import {randomUUID} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {makeCa} from '../helpers/certificates.js'
import {runCli, repoRoot, type CliResult} from '../helpers/cli.js'
import {ConsulAgent, requireConsulBinary} from '../helpers/consul.js'
import {eventually} from './member-process.js'
import {printLogs} from './cluster-reads.js'
import {ServeProcess} from './serve-process.js'
import {LOCK_DELAY_MS, REPLICA_LAG_MAX_MS, SESSION_TTL_MS, SETTLE_MS} from './three-nodes.js'

const CLUSTER = 'acl-tls'
const RECORDS = 200
// A refused start makes a handful of calls to a local Consul; a loaded machine needs room.
const REFUSAL_TIMEOUT_MS = 30_000

/** The README's policy for a cluster, exactly as printed there, for `cluster`. */
async function readmePolicy(cluster: string): Promise<string> {
  const readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8')
  const block = /# lignum-node-policy\.hcl\n((?: {4}.*\n)+)/.exec(readme)
  if (!block) throw new Error('the README has no "# lignum-node-policy.hcl" block')
  const policy = block[1]!.replaceAll(/^ {4}/gm, '')
  expect(policy).to.contain('lignum/prod/').and.contain('lignum-prod')
  return policy.replaceAll('lignum/prod/', `lignum/${cluster}/`).replaceAll('lignum-prod', `lignum-${cluster}`)
}

/** The policy's rules, each `resource "segment" { … }` block on its own. */
function rulesOf(policy: string): string[] {
  return policy.match(/^[a-z_]+ "[^"]*" \{\n(?:.*\n)*?\}\n/gm) ?? []
}

describe('nodes on a Consul with HTTPS and ACLs (default deny), with the README\'s policy', function () {
  this.timeout(300_000)
  const managementToken = randomUUID()
  let consul: ConsulAgent
  let certs: {ca: string; cert: string; key: string}
  let otherCa: string
  let policy: string
  let nodeToken: string
  let nodes: ServeProcess[] = []

  async function consulApi(method: string, pathAndQuery: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${consul.url}${pathAndQuery}`, {method, headers: {'X-Consul-Token': managementToken}, body: body === undefined ? undefined : JSON.stringify(body)})
    const text = await response.text()
    if (!response.ok) throw new Error(`Consul answered ${response.status} to ${method} ${pathAndQuery}: ${text}`)
    return JSON.parse(text) as unknown
  }

  /** A token of `rules` alone, made through Consul's HTTP API. */
  async function tokenWith(name: string, rules: string): Promise<string> {
    return (await tokenAndAccessorWith(name, rules)).SecretID
  }

  async function tokenAndAccessorWith(name: string, rules: string): Promise<{SecretID: string; AccessorID: string}> {
    await consulApi('PUT', '/v1/acl/policy', {Name: name, Rules: rules})
    return (await consulApi('PUT', '/v1/acl/token', {Description: name, Policies: [{Name: name}]})) as {SecretID: string; AccessorID: string}
  }

  /** `lignum serve` expected to stop at start: its result, and whether it made its data directory. */
  async function refusedServe(env: Record<string, string>, consulUrl = consul.httpsUrl): Promise<CliResult & {dataDirMade: boolean}> {
    const dataDir = path.join(await mkdtemp(path.join(os.tmpdir(), 'lignum-refused-')), 'data')
    const result = await runCli(['serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--grpc-port', '0', '--http-port', '0', '--node-id', 'refused', '--consul', consulUrl, '--cluster', CLUSTER], {env: {LOG_LEVEL: 'warn', ...env}, timeoutMs: REFUSAL_TIMEOUT_MS})
    return {...result, dataDirMade: existsSync(dataDir)}
  }

  function expectOneLine(result: CliResult & {dataDirMade: boolean}, pattern: RegExp): void {
    expect(result.code, result.stderr).to.equal(2)
    const lines = result.stderr.trim().split('\n')
    expect(lines, result.stderr).to.have.length(1)
    expect(lines[0]).to.match(pattern)
    expect(result.dataDirMade, 'the data directory was left alone').to.equal(false)
  }

  before(async function () {
    const consulBinary = await requireConsulBinary(this)
    this.timeout(180_000)
    const ca = await makeCa('consul-ca')
    const consulCert = await ca.issue('consul')
    const nodeCert = await ca.issue('lignum-node')
    certs = {ca: ca.cert, ...nodeCert}
    otherCa = (await makeCa('other-ca')).cert
    // verify_incoming in `defaults` covers Consul's internal RPC too, which its own streaming
    // health queries use: verify_outgoing makes the agent present its certificate there.
    const hcl = [
      `acl { enabled = true, default_policy = "deny", tokens { initial_management = "${managementToken}", agent = "${managementToken}" } }`,
      `tls { defaults { ca_file = "${ca.cert}", cert_file = "${consulCert.cert}", key_file = "${consulCert.key}", verify_incoming = true, verify_outgoing = true } }`,
    ].join('\n')
    consul = await ConsulAgent.start(consulBinary, 'dev', {}, {hcl, https: true, managementToken})
    policy = await readmePolicy(CLUSTER)
    expect(rulesOf(policy)).to.have.length(4)
    nodeToken = await tokenWith('lignum-node', policy)
  })
  after(async function () {
    if (this.currentTest?.state === 'failed') printLogs(nodes, 40)
    await Promise.all(nodes.map((node) => node.destroy()))
    await consul?.destroy()
  })

  const tlsEnv = () => ({CONSUL_CACERT: certs.ca, CONSUL_CLIENT_CERT: certs.cert, CONSUL_CLIENT_KEY: certs.key})

  it('three nodes with the policy\'s token over HTTPS elect a controller, create an RF=3 topic and replicate acks=all', async () => {
    const tokenFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'lignum-token-')), 'consul-token')
    await writeFile(tokenFile, nodeToken + '\n', {mode: 0o600})
    nodes = await Promise.all(
      [1, 2, 3].map((index) =>
        ServeProcess.start({
          consulUrl: consul.httpsUrl,
          cluster: CLUSTER,
          nodeId: `a${index}`,
          sessionTtlMs: SESSION_TTL_MS,
          lockDelayMs: LOCK_DELAY_MS,
          // One node reads the token from a file, the others from Consul's own variable.
          env: {LIGNUM_REPLICA_LAG_MAX_MS: String(REPLICA_LAG_MAX_MS), ...tlsEnv(), ...(index === 1 ? {CONSUL_HTTP_TOKEN_FILE: tokenFile} : {CONSUL_HTTP_TOKEN: nodeToken})},
        }),
      ),
    )
    await eventually('a controller with all three nodes up', async () => {
      const status = await nodes[0]!.status()
      return status.controller !== null && status.nodes.filter((node) => node.status === 'up').length === 3 ? true : undefined
    }, SETTLE_MS)
    const created = await runCli(['topics', 'create', 'guarded', '--partitions', '1', '--replication-factor', '3', '--min-insync-replicas', '2', '--brokers', nodes[1]!.address])
    expect(created.code, created.stderr).to.equal(0)
    await eventually('three in-sync replicas', async () => {
      const entry = (await consul.getJson(`/v1/kv/lignum/${CLUSTER}/partitions/guarded/0`)) as {Value: string}[] | undefined
      const state = entry && (JSON.parse(Buffer.from(entry[0]!.Value, 'base64').toString('utf8')) as {isr: string[]})
      return state && state.isr.length === 3 ? state : undefined
    }, SETTLE_MS)
    const lines = Array.from({length: RECORDS}, (_, index) => `acl-${index}`)
    const produced = await runCli(['produce', '-t', 'guarded', '--acks', 'all', '--brokers', nodes[2]!.address], {input: lines.join('\n') + '\n', timeoutMs: 60_000})
    expect(produced.code, produced.stderr).to.equal(0)
    for (const node of nodes) {
      const consumed = await eventually(`all records on ${node.nodeId}'s replica`, async () => {
        const result = await runCli(['consume', '-t', 'guarded', '--from', 'beginning', '--to', String(RECORDS), '--replica', 'any', '--brokers', node.address], {timeoutMs: 30_000})
        return result.code === 0 && result.stdout.split('\n').length === RECORDS + 1 ? result.stdout : undefined
      }, SETTLE_MS)
      expect(consumed).to.equal(lines.join('\n') + '\n')
    }
    for (const node of nodes) {
      const said = node.logs.filter((line) => JSON.stringify(line).includes(nodeToken))
      expect(said, `${node.nodeId} logged its token`).to.deep.equal([])
      expect(node.logged('Consul refused a request; retrying'), `${node.nodeId} was refused by the ACLs`).to.deep.equal([])
    }
  })

  it('a running node whose token is deleted logs each refusal once at error level and turns unready, without exiting', async () => {
    const token = await tokenAndAccessorWith('lignum-revoked', policy)
    const node = await ServeProcess.start({consulUrl: consul.httpsUrl, cluster: CLUSTER, nodeId: 'revoked', sessionTtlMs: SESSION_TTL_MS, lockDelayMs: LOCK_DELAY_MS, env: {...tlsEnv(), CONSUL_HTTP_TOKEN: token.SecretID}})
    nodes.push(node)
    await eventually('the node ready', async () => ((await node.readyz()) === 200 ? true : undefined), SETTLE_MS)
    await consulApi('DELETE', `/v1/acl/token/${token.AccessorID}`)
    await eventually('the node unready', async () => ((await node.readyz()) === 503 ? true : undefined), SETTLE_MS)
    // Several renewals later: each refusal said once, the process still serving.
    await new Promise((resolve) => setTimeout(resolve, SESSION_TTL_MS))
    const denials = node.logged('Consul\'s ACLs refused a request; the node is unready until its token is allowed again')
    // Once per distinct refusal (each Consul call refused says its own line), never once per retry.
    expect(denials.length).to.be.at.least(1)
    expect(new Set(denials.map((line) => String(line.error))).size, 'each refusal said once').to.equal(denials.length)
    expect(denials.map((line) => line.level)).to.satisfy((levels: string[]) => levels.every((level) => level === 'error'))
    expect(String(denials[0]!.error)).to.match(/^Consul does not know the ACL token/)
    expect(node.exitedAtMs).to.equal(undefined)
  })

  it('stops a node without a token at start, with one line naming the refused call', async () => {
    expectOneLine(await refusedServe(tlsEnv()), /^Error: Consul refused key read on lignum\/acl-tls\/controller: the token lacks key_prefix read \(kv\.get\); no token was given: set consulToken, consulTokenFile or CONSUL_HTTP_TOKEN/)
  })

  it('stops a node whose token Consul does not know', async () => {
    expectOneLine(await refusedServe({...tlsEnv(), CONSUL_HTTP_TOKEN: randomUUID()}), /^Error: Consul does not know the ACL token .*set consulToken, consulTokenFile or CONSUL_HTTP_TOKEN/)
  })

  it('stops a node whose token reads the cluster\'s keys but cannot write them, naming key_prefix write', async () => {
    const readOnly = await tokenWith('lignum-read-only-keys', policy.replace(/(key_prefix "lignum\/acl-tls\/" \{\n\s*policy = )"write"/, '$1"read"'))
    expectOneLine(await refusedServe({...tlsEnv(), CONSUL_HTTP_TOKEN: readOnly}), /^Error: Consul refused key write on lignum\/acl-tls\/access-check: the token lacks key_prefix write \(txn\); give the token the policy in the README/)
  })

  it('needs every rule of the policy: without any one, a node stops at start naming it', async () => {
    const expected: Record<string, RegExp> = {
      key_prefix: /Consul refused key read on lignum\/acl-tls\/controller: the token lacks key_prefix read/,
      service: /Consul refused service write on lignum-acl-tls \(to register the node\): the token lacks service write/,
      session_prefix: /Consul refused session write on .*: the token lacks session_prefix write \(session\.create\)/,
      node_prefix: /Consul refused node read on .* \(to see the nodes' health\): the token lacks node_prefix read/,
    }
    for (const rule of rulesOf(policy)) {
      const kind = rule.split(' ')[0]!
      const token = await tokenWith(`lignum-without-${kind}`, policy.replace(rule, ''))
      expectOneLine(await refusedServe({...tlsEnv(), CONSUL_HTTP_TOKEN: token}), new RegExp('^Error: ' + expected[kind]!.source))
    }
  })

  it('stops a node that does not trust Consul\'s certificate (no CA, another CA), naming consulCaFile', async () => {
    const {CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY} = tlsEnv()
    for (const ca of [undefined, otherCa]) {
      const env = {CONSUL_HTTP_TOKEN: nodeToken, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, ...(ca ? {CONSUL_CACERT: ca} : {})}
      expectOneLine(await refusedServe(env), /^Error: Consul's certificate at https:\/\/127\.0\.0\.1:\d+ is not trusted \([A-Z_]+\); set consulCaFile \(CONSUL_CACERT\) to the CA that signed it$/)
    }
  })

  it('stops a node without the client certificate Consul requires, and one whose CA file is missing', async () => {
    expectOneLine(await refusedServe({CONSUL_HTTP_TOKEN: nodeToken, CONSUL_CACERT: certs.ca}), /^Error: Consul at https:\/\/127\.0\.0\.1:\d+ refused this node's client certificate \(ERR_SSL_[A-Z0-9_]+\); set consulCertFile and consulKeyFile/)
    expectOneLine(await refusedServe({...tlsEnv(), CONSUL_HTTP_TOKEN: nodeToken, CONSUL_CACERT: '/nonexistent/ca.pem'}), /^Error: cannot read consulCaFile \(CONSUL_CACERT\) \/nonexistent\/ca\.pem: no such file/)
  })

  it('stops a node speaking HTTPS to Consul\'s HTTP port, or HTTP to its HTTPS port, saying which', async () => {
    const httpPortOverHttps = consul.url.replace('http://', 'https://')
    expectOneLine(await refusedServe({...tlsEnv(), CONSUL_HTTP_TOKEN: nodeToken}, httpPortOverHttps), /^Error: Consul at https:\/\/127\.0\.0\.1:\d+ does not speak HTTPS on that port \(plain HTTP\?\)/)
    const httpsPortOverHttp = consul.httpsUrl.replace('https://', 'http://')
    expectOneLine(await refusedServe({CONSUL_HTTP_TOKEN: nodeToken}, httpsPortOverHttp), /^Error: Consul at http:\/\/127\.0\.0\.1:\d+ speaks HTTPS on that port; use its https:\/\/ address/)
  })
})
