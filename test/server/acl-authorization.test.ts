/**
 * Authorization on a real `lignum serve` with mutual TLS required: certificates made by openssl
 * here, the CLI as users run it. A client with a valid certificate but no rule is refused with
 * PERMISSION_DENIED (its own line and exit code, apart from the handshake's refusals); `lignum
 * acl add` run by a super user lets it in and `lignum acl remove` shuts it out again, without a
 * restart; a deny beats an allow; a prefix rule covers the names it starts; a hand edit of the
 * rules file is taken, a broken one refused.
 */
import {expect} from 'chai'
import {readFile, writeFile} from 'node:fs/promises'
import {readFileSync} from 'node:fs'
import https from 'node:https'
import path from 'node:path'
import {errorTable} from '../../src/errors.js'
import {makeCa, type CertificateFiles, type TestCa} from '../helpers/certificates.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'

function tlsArgs(ca: string, client?: CertificateFiles): string[] {
  return ['--tls-ca', ca, ...(client ? ['--tls-cert', client.cert, '--tls-key', client.key] : [])]
}

function httpsRequest(url: string, ca: string, client: CertificateFiles, body?: string): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const request = https.request(url, {method: body === undefined ? 'GET' : 'POST', ca: readFileSync(ca), cert: readFileSync(client.cert), key: readFileSync(client.key)}, (response) => {
      let text = ''
      response.on('data', (chunk) => (text += chunk))
      response.on('end', () => resolve({status: response.statusCode!, body: text}))
    })
    request.on('error', reject)
    request.end(body)
  })
}

function expectDenied(result: CliResult, message: RegExp): void {
  expect(result.stderr).to.match(message)
  expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1)
  expect(result.code, result.stderr).to.equal(errorTable.PERMISSION_DENIED.exitCode)
}

describe('authorization on lignum serve (ACLs, mutual TLS)', function () {
  this.timeout(180_000)
  let ca: TestCa
  let server: RunningServer
  let rulesFile: string
  let alice: CertificateFiles
  let admin: CertificateFiles
  let asAlice: string[]
  let asAdmin: string[]

  before(async () => {
    ca = await makeCa('lignum-ca')
    const node = await ca.issue('node-1')
    ;[alice, admin] = await Promise.all([ca.issue('alice'), ca.issue('admin')])
    rulesFile = path.join(ca.dir, 'acl.json')
    server = await startServer({
      args: ['--tls-cert-file', node.cert, '--tls-key-file', node.key, '--tls-ca-file', ca.cert, '--tls-client-auth', 'required', '--acl-enabled', '--acl-rules-file', rulesFile, '--acl-super-users', 'admin,node-1'],
    })
    asAlice = ['--brokers', server.grpcAddress, ...tlsArgs(ca.cert, alice)]
    asAdmin = ['--brokers', server.grpcAddress, ...tlsArgs(ca.cert, admin)]
    const created = await runCli(['topics', 'create', 'orders', ...asAdmin])
    expect(created.code, created.stderr).to.equal(0)
  })
  after(async () => {
    await server?.stop()
  })

  const acl = (verb: 'add' | 'remove', ...rule: string[]) => runCli(['acl', verb, ...rule, ...asAdmin])

  it('refuses a valid certificate without a rule (PERMISSION_DENIED), allows it after acl add and refuses it after acl remove, without a restart', async () => {
    const refused = await runCli(['produce', '-t', 'orders', ...asAlice], {input: 'first\n'})
    // An idempotent producer asks for its id before it names a topic.
    expectDenied(refused, /^Error: .*alice may not produce to any topic; an operator can allow it with: lignum acl add --allow --principal alice --operation produce --topic <topic>/)
    expectDenied(await runCli(['consume', '-t', 'orders', '--from', 'beginning', '-e', ...asAlice]), /^Error: alice may not describe topic orders; an operator can allow it with: lignum acl add --allow --principal alice --operation describe --topic orders\n$/)

    for (const operation of ['produce', 'consume']) {
      const added = await acl('add', '--allow', '--principal', 'alice', '--operation', operation, '--topic', 'orders')
      expect(added.code, added.stderr).to.equal(0)
      expect(added.stdout).to.equal(`Added: allow alice ${operation} on topic orders (rules file ${rulesFile}).\n`)
    }
    const produced = await runCli(['produce', '-t', 'orders', '--acks', 'all', ...asAlice], {input: 'first\nsecond\n'})
    expect(produced.code, produced.stderr).to.equal(0)
    const consumed = await runCli(['consume', '-t', 'orders', '--from', 'beginning', '-e', ...asAlice])
    expect(consumed.stdout, consumed.stderr).to.equal('first\nsecond\n')

    const removed = await acl('remove', '--allow', '--principal', 'alice', '--operation', 'consume', '--topic', 'orders')
    expect(removed.stdout, removed.stderr).to.equal(`Removed: allow alice consume on topic orders (rules file ${rulesFile}).\n`)
    // Produce still allows describe (Kafka's implied DESCRIBE): the read itself is what is refused.
    expectDenied(await runCli(['consume', '-t', 'orders', '--from', 'beginning', '-e', ...asAlice]), /alice may not consume from topic orders; an operator can allow it with: lignum acl add --allow --principal alice --operation consume --topic orders/)
    expect(server.logs()).to.match(/"authorization rule removed".*"by":"admin"/)
  })

  it('keeps the handshake\'s own refusals (no certificate, another CA, expired) apart from PERMISSION_DENIED', async () => {
    const otherCa = await makeCa('other-ca')
    const refusals: [string[], RegExp][] = [
      [tlsArgs(ca.cert), /requires a client certificate signed by its CA and none was given/],
      [tlsArgs(ca.cert, await otherCa.issue('mallory')), /refused the client certificate \(CN=mallory: not signed by the CA the client trusts\)/],
      [tlsArgs(ca.cert, await ca.issue('old-client', {days: -1})), /refused the client certificate \(CN=old-client: expired on .*\)/],
    ]
    for (const [args, message] of refusals) {
      const result = await runCli(['topics', 'list', '--brokers', server.grpcAddress, ...args])
      expect(result.stderr).to.match(message)
      expect(result.code).to.equal(errorTable.UNAUTHENTICATED.exitCode)
    }
    expect(errorTable.PERMISSION_DENIED.exitCode).to.not.equal(errorTable.UNAUTHENTICATED.exitCode).and.to.not.equal(errorTable.INVALID_ARGUMENT.exitCode)
  })

  it('lets a deny rule beat an allow rule', async () => {
    expect((await acl('add', '--allow', '--principal', 'alice', '--operation', 'produce', '--topic', 'orders')).stdout).to.match(/^Already there: allow alice produce on topic orders; nothing changed\.\n$/)
    expect((await acl('add', '--deny', '--principal', 'alice', '--operation', 'produce', '--topic', 'orders')).code).to.equal(0)
    expectDenied(await runCli(['produce', '-t', 'orders', ...asAlice], {input: 'denied\n'}), /alice may not produce to topic orders; an operator can allow it with: lignum acl add --allow --principal alice --operation produce --topic orders/)
    expect((await acl('remove', '--deny', '--principal', 'alice', '--operation', 'produce', '--topic', 'orders')).code).to.equal(0)
    const produced = await runCli(['produce', '-t', 'orders', ...asAlice], {input: 'allowed again\n'})
    expect(produced.code, produced.stderr).to.equal(0)
  })

  it('applies a prefix rule to every topic whose name starts with it, and lists only the topics one may describe', async () => {
    for (const topic of ['logs-eu', 'logs-us', 'logsx']) expect((await runCli(['topics', 'create', topic, ...asAdmin])).code).to.equal(0)
    expect((await acl('add', '--allow', '--principal', 'alice', '--operation', 'produce', '--topic', 'logs-', '--prefix')).code).to.equal(0)
    for (const topic of ['logs-eu', 'logs-us']) {
      const produced = await runCli(['produce', '-t', topic, ...asAlice], {input: `${topic}\n`})
      expect(produced.code, produced.stderr).to.equal(0)
    }
    expectDenied(await runCli(['produce', '-t', 'logsx', ...asAlice], {input: 'no\n'}), /alice may not (describe|produce to) topic logsx/)
    const listed = await runCli(['topics', 'list', '--json', ...asAlice])
    expect(JSON.parse(listed.stdout).topics.map((topic: {name: string}) => topic.name).sort()).to.deep.equal(['logs-eu', 'logs-us', 'orders'])
    const rules = JSON.parse((await runCli(['acl', 'list', '--json', '--principal', 'alice', ...asAdmin])).stdout).rules
    expect(rules).to.deep.include({principal: 'alice', permission: 'allow', operation: 'produce', resourceType: 'topic', resourceName: 'logs-', patternType: 'prefixed'})
  })

  it('answers acl remove of a rule that is not there with one line and exit 3, and keeps rule management to those allowed to alter the cluster', async () => {
    const missing = await acl('remove', '--allow', '--principal', 'bob', '--operation', 'consume', '--group', 'g')
    expect(missing.stderr).to.match(/^Error: no rule allow bob consume on group g in the rules file .*; nothing removed \(see lignum acl list/)
    expect(missing.code).to.equal(errorTable.NOT_FOUND.exitCode)
    expectDenied(await runCli(['acl', 'list', ...asAlice]), /alice may not describe the cluster/)
    expectDenied(await runCli(['acl', 'add', '--allow', '--principal', 'alice', '--operation', 'admin', '--cluster', ...asAlice]), /alice may not alter the cluster/)
    expectDenied(await runCli(['cluster', 'status', ...asAlice]), /alice may not describe the cluster/)
  })

  it('takes a hand edit of the rules file without a restart, and keeps the rules when the file is broken', async () => {
    const before = await readFile(rulesFile, 'utf8')
    expect(JSON.parse(before)).to.be.an('array')
    const rules = JSON.parse(before) as object[]
    await writeFile(rulesFile, JSON.stringify([...rules, {principal: 'alice', permission: 'allow', operation: 'consume', resourceType: 'topic', resourceName: '*'}]))
    await waitFor(async () => (await runCli(['consume', '-t', 'orders', '--from', 'beginning', '-e', ...asAlice])).code === 0, 'the edited file allows alice to consume')
    await writeFile(rulesFile, '[{"principal": "alice", "permission": "allow"')
    await waitFor(() => /authorization rules file changed but was refused/.test(server.logs()), 'the refusal is logged')
    expect((await runCli(['consume', '-t', 'orders', '--from', 'beginning', '-e', ...asAlice])).code).to.equal(0)
    expect(server.logs().match(/authorization rules file changed but was refused/g)).to.have.length(1)
    // A broken file also stops changes through the CLI, with the reason.
    const blocked = await acl('add', '--allow', '--principal', 'bob', '--operation', 'consume', '--topic', 'orders')
    expect(blocked.stderr).to.match(/is not valid JSON .*; correct the file before changing rules through lignum acl/)
    await writeFile(rulesFile, before)
    await waitFor(async () => (await runCli(['consume', '-t', 'orders', '--from', 'beginning', '-e', ...asAlice])).code === errorTable.PERMISSION_DENIED.exitCode, 'the restored file refuses alice again')
  })

  it('enforces the same rules on the HTTPS API, with the client certificate\'s principal, and leaves /healthz open', async () => {
    const url = server.httpUrl.replace('http:', 'https:')
    const refused = await httpsRequest(`${url}/api/message?topic=logsx&from=0`, ca.cert, alice)
    expect(refused.status).to.equal(403)
    expect(JSON.parse(refused.body).error).to.deep.include({code: 'PERMISSION_DENIED'})
    expect(JSON.parse(refused.body).error.message).to.match(/^alice may not consume from topic logsx/)
    const posted = await httpsRequest(`${url}/api/message`, ca.cert, alice, JSON.stringify({topic: 'logs-eu', message: 'over https'}))
    expect(posted.status, posted.body).to.equal(200)
    expect((await httpsRequest(`${url}/healthz`, ca.cert, alice)).status).to.equal(200)
  })
})

describe('lignum acl against a node with authorization off', function () {
  this.timeout(60_000)
  it('says in one line how to turn it on', async () => {
    const server = await startServer()
    try {
      const result = await runCli(['acl', 'list', '--brokers', server.grpcAddress])
      expect(result.stderr).to.match(/^Error: authorization is off on node .*: everyone may do everything; turn it on with acl\.enabled true \(serve --acl-enabled, or LIGNUM_ACL_ENABLED=true\) and restart the node\n$/)
      expect(result.code).to.equal(errorTable.CONFIG.exitCode)
    } finally {
      await server.stop()
    }
  })
})

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const giveUpAtMs = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > giveUpAtMs) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
