/**
 * Authorization of `lignum groups` on a real `lignum serve` with mutual TLS and ACLs: a
 * principal sees in a listing only the groups it may describe, describes a group only with
 * describe on it, moves its offsets only with consume on the group and the topic, and deletes
 * it only with delete on it; each refusal is one line with PERMISSION_DENIED's exit code.
 */
import {expect} from 'chai'
import path from 'node:path'
import {errorTable} from '../../src/errors.js'
import {makeCa, type CertificateFiles} from '../helpers/certificates.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'

function expectDenied(result: CliResult, message: RegExp): void {
  expect(result.stderr).to.match(message)
  expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1)
  expect(result.code, result.stderr).to.equal(errorTable.PERMISSION_DENIED.exitCode)
}

describe('authorization of lignum groups (ACLs, mutual TLS)', function () {
  this.timeout(180_000)
  let server: RunningServer
  let asAlice: string[]
  let asAdmin: string[]

  before(async () => {
    const ca = await makeCa('lignum-ca')
    const node = await ca.issue('node-1')
    const [alice, admin]: CertificateFiles[] = await Promise.all([ca.issue('alice'), ca.issue('admin')])
    const rulesFile = path.join(ca.dir, 'acl.json')
    server = await startServer({
      args: ['--tls-cert-file', node.cert, '--tls-key-file', node.key, '--tls-ca-file', ca.cert, '--tls-client-auth', 'required', '--acl-enabled', '--acl-rules-file', rulesFile, '--acl-super-users', 'admin,node-1'],
    })
    const tls = (client: CertificateFiles) => ['--brokers', server.grpcAddress, '--tls-ca', ca.cert, '--tls-cert', client.cert, '--tls-key', client.key]
    asAlice = tls(alice)
    asAdmin = tls(admin)
    for (const args of [['topics', 'create', 'orders']]) {
      const result = await runCli([...args, ...asAdmin])
      expect(result.code, result.stderr).to.equal(0)
    }
    await runCli(['produce', '-t', 'orders', ...asAdmin], {input: 'a\nb\n'})
    for (const group of ['alices', 'others']) {
      const consumed = await runCli(['consume', '-t', 'orders', '-G', group, '-e', ...asAdmin])
      expect(consumed.code, consumed.stderr).to.equal(0)
    }
  })
  after(async () => {
    await server?.stop()
  })

  const allow = async (...rule: string[]) => {
    const added = await runCli(['acl', 'add', '--allow', '--principal', 'alice', ...rule, ...asAdmin])
    expect(added.code, added.stderr).to.equal(0)
  }

  it('lists only describable groups and refuses describe, seek and delete without their rules', async () => {
    expect(JSON.parse((await runCli(['groups', 'list', '--json', ...asAlice])).stdout).groups).to.deep.equal([])
    expectDenied(await runCli(['groups', 'describe', 'alices', ...asAlice]), /^Error: alice may not describe group alices; an operator can allow it with: lignum acl add .*--group alices/)
    await allow('--operation', 'describe', '--group', 'alices')
    await allow('--operation', 'describe', '--topic', 'orders')
    const listed = JSON.parse((await runCli(['groups', 'list', '--json', ...asAlice])).stdout).groups.map((group: {group: string}) => group.group)
    expect(listed).to.deep.equal(['alices'])
    const described = await runCli(['groups', 'describe', 'alices', '--json', ...asAlice])
    expect(described.code, described.stderr).to.equal(0)

    expectDenied(await runCli(['groups', 'seek', 'alices', '--to', 'beginning', ...asAlice]), /^Error: alice may not consume from group alices/)
    await allow('--operation', 'consume', '--group', 'alices')
    expectDenied(await runCli(['groups', 'seek', 'alices', '--to', 'beginning', ...asAlice]), /^Error: alice may not consume from topic orders/)
    await allow('--operation', 'consume', '--topic', 'orders')
    const moved = await runCli(['groups', 'seek', 'alices', '--to', 'beginning', ...asAlice])
    expect(moved.code, moved.stderr).to.equal(0)

    expectDenied(await runCli(['groups', 'delete', 'alices', ...asAlice]), /^Error: alice may not delete group alices/)
    await allow('--operation', 'delete', '--group', 'alices')
    const deleted = await runCli(['groups', 'delete', 'alices', ...asAlice])
    expect(deleted.code, deleted.stderr).to.equal(0)
    expectDenied(await runCli(['groups', 'delete', 'others', ...asAlice]), /^Error: alice may not delete group others/)
  })
})
