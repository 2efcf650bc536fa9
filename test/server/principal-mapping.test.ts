/**
 * tls.principalMappingRules on a real `lignum serve` with mutual TLS and ACLs: certificates made
 * by openssl here, the CLI as users run it. A subject rule names alice's certificate eng-alice,
 * so a rule for eng-alice lets her produce and one for her CN (alice) does not; a SAN rule names
 * a SPIFFE URI; DEFAULT keeps the nodes' and the admin's CNs. A bad rule stops the node with one
 * line and exit 2 before the data directory exists.
 */
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {access} from 'node:fs/promises'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import {errorTable} from '../../src/errors.js'
import {makeCa, type CertificateFiles} from '../helpers/certificates.js'
import {runCli} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'

// A / in a regex is written \/, as in Kafka's rules.
const RULES = String.raw`RULE:^CN=([^,]*),OU=([^,]*),O=Acme,C=US$/$2-$1/L,SAN:URI:^spiffe:\/\/acme\/ns\/([^\/]+)\/sa\/([^\/]+)$/$1-$2/,DEFAULT`

function asClient(server: RunningServer, ca: string, client: CertificateFiles): string[] {
  return ['--brokers', server.grpcAddress, '--tls-ca', ca, '--tls-cert', client.cert, '--tls-key', client.key]
}

function httpsGet(url: string, ca: string, client: CertificateFiles): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, {ca: readFileSync(ca), cert: readFileSync(client.cert), key: readFileSync(client.key)}, (response) => {
      let text = ''
      response.on('data', (chunk) => (text += chunk))
      response.on('end', () => resolve({status: response.statusCode!, body: text}))
    })
    request.on('error', reject)
  })
}

describe('principal mapping rules on lignum serve (mutual TLS, ACLs)', function () {
  this.timeout(180_000)
  let server: RunningServer
  let caFile: string
  let alice: CertificateFiles
  let bob: CertificateFiles
  let admin: CertificateFiles
  let node: CertificateFiles

  before(async () => {
    const ca = await makeCa('lignum-ca')
    caFile = ca.cert
    node = await ca.issue('node-1')
    admin = await ca.issue('admin')
    // openssl writes the subject in the order given; RFC 2253 (and the rules) read it reversed.
    alice = await ca.issue('alice', {subject: '/C=US/O=Acme/OU=Eng/CN=alice', subjectAltName: 'DNS:alice.acme.test'})
    bob = await ca.issue('bob', {subjectAltName: 'URI:spiffe://acme/ns/billing/sa/bob'})
    server = await startServer({
      args: ['--tls-cert-file', node.cert, '--tls-key-file', node.key, '--tls-ca-file', ca.cert, '--tls-client-auth', 'required', '--tls-principal-mapping-rules', RULES, '--acl-enabled', '--acl-rules-file', path.join(ca.dir, 'acl.json'), '--acl-super-users', 'admin,node-1'],
    })
    const created = await runCli(['topics', 'create', 'orders', ...asClient(server, caFile, admin)])
    expect(created.code, created.stderr).to.equal(0)
  })
  after(async () => {
    await server?.stop()
  })

  const allowProduce = async (principal: string) => {
    const added = await runCli(['acl', 'add', '--allow', '--principal', principal, '--operation', 'produce', '--topic', 'orders', ...asClient(server, caFile, admin)])
    expect(added.code, added.stderr).to.equal(0)
  }

  it('names a certificate by the first rule its subject DN matches: a rule for the mapped name lets it produce, one for its CN does not', async () => {
    await allowProduce('alice')
    const refused = await runCli(['produce', '-t', 'orders', ...asClient(server, caFile, alice)], {input: 'first\n'})
    expect(refused.stderr).to.match(/^Error: .*eng-alice may not produce to any topic/)
    expect(refused.code, refused.stderr).to.equal(errorTable.PERMISSION_DENIED.exitCode)

    await allowProduce('eng-alice')
    const produced = await runCli(['produce', '-t', 'orders', ...asClient(server, caFile, alice)], {input: 'first\n'})
    expect(produced.code, produced.stderr).to.equal(0)
  })

  it('names a certificate by a SAN rule when no subject rule matches, and keeps DEFAULT (the CN) for the rest', async () => {
    const refused = await runCli(['produce', '-t', 'orders', ...asClient(server, caFile, bob)], {input: 'x\n'})
    expect(refused.stderr).to.match(/^Error: .*billing-bob may not produce to any topic/)
    // The admin (a super user by its CN) created the topic in before(); the node's own name is kept too.
    const described = await runCli(['topics', 'describe', 'orders', ...asClient(server, caFile, admin)])
    expect(described.code, described.stderr).to.equal(0)
  })

  it('refuses a certificate no rule maps (UNAUTHENTICATED on gRPC, 401 on HTTPS), as Kafka fails the authentication', async () => {
    const strict = await startServer({
      args: ['--tls-cert-file', node.cert, '--tls-key-file', node.key, '--tls-ca-file', caFile, '--tls-client-auth', 'required', '--tls-principal-mapping-rules', 'RULE:^CN=([^,]*),OU=Eng,O=Acme,C=US$/$1/'],
    })
    try {
      const refused = await runCli(['topics', 'list', ...asClient(strict, caFile, admin)])
      expect(refused.stderr).to.match(/^Error: the client certificate matches none of this node's tls.principalMappingRules; present a certificate a rule maps/)
      expect(refused.stderr.trim().split('\n'), refused.stderr).to.have.length(1)
      expect(refused.code, refused.stderr).to.equal(errorTable.UNAUTHENTICATED.exitCode)
      const listed = await runCli(['topics', 'list', ...asClient(strict, caFile, alice)])
      expect(listed.code, listed.stderr).to.equal(0)
      const http = await httpsGet(`${strict.httpUrl.replace('http:', 'https:')}/metrics`, caFile, admin)
      expect(http.status, http.body).to.equal(401)
      expect(http.body).to.match(/matches none of this node's tls.principalMappingRules/)
      expect((await httpsGet(`${strict.httpUrl.replace('http:', 'https:')}/metrics`, caFile, alice)).status).to.equal(200)
    } finally {
      await strict.stop()
    }
  })

  it('stops the node with one line and exit 2, before the data directory is touched, on a bad rule', async () => {
    const dataDir = path.join(os.tmpdir(), `lignum-bad-rule-${process.pid}-${Date.now()}`)
    const result = await runCli(['serve', '--data-dir', dataDir, '--grpc-port', '0', '--http-port', '0', '--tls-cert-file', node.cert, '--tls-key-file', node.key, '--tls-ca-file', caFile, '--tls-client-auth', 'required', '--tls-principal-mapping-rules', 'RULE:^CN=(.*$/$1/,DEFAULT'])
    expect(result.stderr).to.match(/invalid tls.principalMappingRules rule "RULE:\^CN=\(\.\*\$\/\$1\/": its regex does not compile .*expected DEFAULT, RULE:<regex>\/<replacement>\/\[L\|U\]/)
    expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1)
    expect(result.code, result.stderr).to.equal(2)
    const missing = await access(dataDir).then(() => false, () => true)
    expect(missing, 'the data directory was created').to.equal(true)
  })
})
