/**
 * TLS and mutual TLS on the Kafka listener of a real `lignum serve`, with Kafka 4.1.1's own
 * console producer and consumer over SSL (PKCS12 stores made from the test's certificates): the
 * node's one TLS setup serves the Kafka port too, a certificate names the same principal (by the
 * same mapping rules) as over gRPC, and the same ACLs refuse with Kafka's codes, which the
 * Java clients name: TopicAuthorizationException (29), GroupAuthorizationException (30),
 * ClusterAuthorizationException (31). A client with no certificate is refused in the
 * handshake, and a plaintext client is closed with a log line while the node stays up. With
 * certificates requested, a certificate the CA did not sign or no rule maps closes the
 * connection after the handshake, with a log line.
 */
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {copyFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {readFileSync} from 'node:fs'
import {connect as tlsConnect} from 'node:tls'
import {KafkaWriter} from '../../src/kafka/protocol/kafka-writer.js'
import {makeCa, type CertificateFiles, type TestCa} from '../helpers/certificates.js'
import {runCli} from '../helpers/cli.js'
import {javaSslProperties} from '../helpers/java-keystores.js'
import {requireKafkaTools, runKafkaTool, type KafkaTools} from '../helpers/kafka-tools.js'
import {startServer, type RunningServer} from '../helpers/server.js'
import {KafkaWireClient} from './kafka-wire-client.js'

// The console tools' JVM takes seconds to start on a loaded machine.
const TOOL_TIMEOUT_MS = 120_000
// A refused client gives up in this long rather than retrying for a minute.
const REFUSED_CLIENT_PROPERTIES = ['max.block.ms=20000', 'delivery.timeout.ms=20000', 'request.timeout.ms=10000']
const API_VERSIONS_KEY = 18
// README's example: /C=US/O=Acme/OU=Eng/CN=Alice reads CN=Alice,OU=Eng,O=Acme,C=US and maps to eng-alice.
const MAPPING_RULES = 'RULE:^CN=([^,]*),OU=([^,]*),O=Acme.*$/$2-$1/L,DEFAULT'

function rule(principal: string, operation: string, resourceType: 'topic' | 'group', resourceName: string) {
  return {principal, permission: 'allow', operation, resourceType, resourceName}
}

/**
 * Kafka's console producer fed `lines` ("key|value"); what it prints to stdout and stderr
 * together, as a send's failure is logged on stdout (the tools' default logging).
 */
function consoleProduce(tools: KafkaTools, bootstrap: string, topic: string, lines: string[], properties: string[]): Promise<{code: number | null; output: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-cp', path.join(tools.libDir, '*'), 'org.apache.kafka.tools.ConsoleProducer', '--bootstrap-server', bootstrap, '--topic', topic, '--property', 'parse.key=true', '--property', 'key.separator=|', ...properties.flatMap((property) => ['--producer-property', property])], {stdio: ['pipe', 'pipe', 'pipe']})
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), TOOL_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, output})
    })
    child.stdin.end(lines.map((line) => `${line}\n`).join(''))
  })
}

function consoleConsume(tools: KafkaTools, bootstrap: string, topic: string, group: string, count: number, properties: string[]) {
  const args = ['--bootstrap-server', bootstrap, '--topic', topic, '--group', group, '--from-beginning', '--max-messages', String(count), '--timeout-ms', '30000', '--property', 'print.key=true', '--property', 'key.separator=|']
  return runKafkaTool(tools, 'org.apache.kafka.tools.consumer.ConsoleConsumer', [...args, ...properties.flatMap((property) => ['--consumer-property', property])])
}

/** The common name of the certificate the TLS port at `address` presents now. */
function servedCommonName(address: string): Promise<string> {
  const index = address.lastIndexOf(':')
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({host: address.slice(0, index), port: Number(address.slice(index + 1)), rejectUnauthorized: false}, () => {
      const name = socket.getPeerCertificate().subject.CN
      socket.destroy()
      resolve(Array.isArray(name) ? name[0]! : name!)
    })
    socket.on('error', reject)
  })
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const giveUpAtMs = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > giveUpAtMs) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** Sends ApiVersions v0 over TLS (presenting `client` when given): whether an answer came before the node closed the connection. */
function apiVersionsAnsweredOverTls(address: string, caFile: string, client?: CertificateFiles): Promise<boolean> {
  const index = address.lastIndexOf(':')
  const frame = new KafkaWriter().int16(API_VERSIONS_KEY).int16(0).int32(7).nullableString('tls-test').toBuffer()
  const prefix = Buffer.alloc(4)
  prefix.writeInt32BE(frame.length)
  return new Promise((resolve) => {
    const socket = tlsConnect({host: address.slice(0, index), port: Number(address.slice(index + 1)), ca: readFileSync(caFile), ...(client ? {cert: readFileSync(client.cert), key: readFileSync(client.key)} : {})}, () => socket.write(Buffer.concat([prefix, frame])))
    socket.once('data', () => {
      socket.destroy()
      resolve(true)
    })
    socket.on('error', () => {})
    socket.on('close', () => resolve(false))
  })
}

function serveTls(node: CertificateFiles, ca: TestCa, clientAuth: string, rulesFile: string, extra: string[] = []): Promise<RunningServer> {
  return startServer({args: ['--kafka-port', '0', '--node-id', 'n1', '--tls-cert-file', node.cert, '--tls-key-file', node.key, '--tls-ca-file', ca.cert, '--tls-client-auth', clientAuth, '--acl-enabled', '--acl-rules-file', rulesFile, '--acl-super-users', 'node-1,admin', ...extra]})
}

describe('kafka listener: TLS and mutual TLS with the ACLs of gRPC', function () {
  this.timeout(TOOL_TIMEOUT_MS * 4)
  let tools: KafkaTools
  let ca: TestCa
  let node: CertificateFiles
  let admin: CertificateFiles

  before(async function () {
    tools = await requireKafkaTools(this)
    ca = await makeCa('lignum-ca')
    ;[node, admin] = await Promise.all([ca.issue('node-1'), ca.issue('admin')])
  })

  describe('TLS without client certificates (tls.clientAuth none)', () => {
    let server: RunningServer
    // Files of this node's own, rotated by the last test.
    const served = {cert: '', key: ''}

    before(async () => {
      served.cert = path.join(ca.dir, 'rotating.pem')
      served.key = path.join(ca.dir, 'rotating-key.pem')
      await Promise.all([copyFile(node.cert, served.cert), copyFile(node.key, served.key)])
      const rulesFile = path.join(ca.dir, 'anonymous-acl.json')
      // A client without a certificate is ANONYMOUS, as a gRPC call without one.
      // create: the producer's Metadata creates the topic, as Kafka's auto-creation.
      await writeFile(rulesFile, JSON.stringify([rule('ANONYMOUS', 'create', 'topic', 'open'), rule('ANONYMOUS', 'produce', 'topic', 'open'), rule('ANONYMOUS', 'consume', 'topic', 'open'), rule('ANONYMOUS', 'consume', 'group', 'open-readers')]))
      server = await serveTls(served, ca, 'none', rulesFile)
    })
    after(async () => {
      await server?.stop()
    })

    it('the console producer and consumer produce and consume over SSL, as ANONYMOUS', async () => {
      const ssl = await javaSslProperties(ca.cert)
      const lines = Array.from({length: 100}, (_, index) => `key-${index}|over tls ${index}`)
      const produced = await consoleProduce(tools, server.kafkaAddress!, 'open', lines, ['acks=all', 'enable.idempotence=true', ...ssl])
      expect(produced.code, produced.output).to.equal(0)
      expect(produced.output).to.not.match(/Exception/)
      const consumed = await consoleConsume(tools, server.kafkaAddress!, 'open', 'open-readers', lines.length, ssl)
      expect(consumed.code, consumed.stderr).to.equal(0)
      expect(consumed.stdout.trimEnd().split('\n')).to.deep.equal(lines)
    })

    it('serves a rotated certificate on the Kafka port without a restart, as on gRPC', async () => {
      expect(await servedCommonName(server.kafkaAddress!)).to.equal('node-1')
      const next = await ca.issue('node-1-rotated')
      await copyFile(next.key, served.key)
      await copyFile(next.cert, served.cert)
      await waitFor(async () => (await servedCommonName(server.kafkaAddress!)) === 'node-1-rotated', 'the Kafka port presents the new certificate')
      expect(await servedCommonName(server.grpcAddress)).to.equal('node-1-rotated')
    })
  })

  describe('mutual TLS required, principals mapped as on gRPC', () => {
    let server: RunningServer
    let alice: CertificateFiles
    let bob: CertificateFiles
    let carol: CertificateFiles
    let asAdmin: string[]

    before(async () => {
      ;[alice, bob, carol] = await Promise.all([ca.issue('alice', {subject: '/C=US/O=Acme/OU=Eng/CN=Alice'}), ca.issue('bob'), ca.issue('carol')])
      const rulesFile = path.join(ca.dir, 'mtls-acl.json')
      await writeFile(rulesFile, JSON.stringify([
        rule('eng-alice', 'produce', 'topic', 'orders'),
        rule('eng-alice', 'consume', 'topic', 'orders'),
        rule('eng-alice', 'consume', 'group', 'readers'),
        // bob sees orders and may produce elsewhere: only the Produce itself is refused.
        rule('bob', 'describe', 'topic', 'orders'),
        rule('bob', 'produce', 'topic', 'bobs'),
        // carol sees orders and may produce nowhere: her producer id is what is refused.
        rule('carol', 'describe', 'topic', 'orders'),
      ]))
      server = await serveTls(node, ca, 'required', rulesFile, ['--tls-principal-mapping-rules', MAPPING_RULES])
      asAdmin = ['--brokers', server.grpcAddress, '--tls-ca', ca.cert, '--tls-cert', admin.cert, '--tls-key', admin.key]
      const created = await runCli(['topics', 'create', 'orders', '--partitions', '2', ...asAdmin])
      expect(created.code, created.stderr).to.equal(0)
    })
    after(async () => {
      await server?.stop()
    })

    it('a mapped principal with the rules produces and consumes in its group, and gRPC knows it by the same name', async () => {
      const ssl = await javaSslProperties(ca.cert, alice)
      const lines = Array.from({length: 200}, (_, index) => `key-${index}|from alice ${index}`)
      const produced = await consoleProduce(tools, server.kafkaAddress!, 'orders', lines, ['acks=all', 'enable.idempotence=true', ...ssl])
      expect(produced.code, produced.output).to.equal(0)
      expect(produced.output).to.not.match(/Exception/)
      const consumed = await consoleConsume(tools, server.kafkaAddress!, 'orders', 'readers', lines.length, ssl)
      expect(consumed.code, consumed.stderr).to.equal(0)
      expect([...consumed.stdout.trimEnd().split('\n')].sort()).to.deep.equal([...lines].sort())
      // The rules name eng-alice only: gRPC reading with the same certificate proves the same mapping.
      const viaGrpc = await runCli(['consume', '-t', 'orders', '--from', 'beginning', '-e', '--brokers', server.grpcAddress, '--tls-ca', ca.cert, '--tls-cert', alice.cert, '--tls-key', alice.key])
      expect(viaGrpc.code, viaGrpc.stderr).to.equal(0)
      expect(viaGrpc.stdout.trimEnd().split('\n')).to.have.length(lines.length)
    })

    it('refuses a produce without the rule (TOPIC_AUTHORIZATION_FAILED), and a producer id to one that may produce nowhere (CLUSTER_AUTHORIZATION_FAILED)', async () => {
      const refusedTopic = await consoleProduce(tools, server.kafkaAddress!, 'orders', ['k|not bob\'s'], ['acks=all', ...REFUSED_CLIENT_PROPERTIES, ...(await javaSslProperties(ca.cert, bob))])
      expect(refusedTopic.output).to.match(/TopicAuthorizationException: Not authorized to access topics: \[orders\]/)
      const refusedCluster = await consoleProduce(tools, server.kafkaAddress!, 'orders', ['k|not carol\'s'], ['acks=all', 'enable.idempotence=true', ...REFUSED_CLIENT_PROPERTIES, ...(await javaSslProperties(ca.cert, carol))])
      expect(refusedCluster.output, refusedCluster.output).to.match(/ClusterAuthorizationException/)
      const stored = await runCli(['consume', '-t', 'orders', '--from', 'beginning', '-e', ...asAdmin])
      expect(stored.code, stored.stderr).to.equal(0)
      expect(stored.stdout).to.not.match(/not (bob|carol)'s/)
    })

    it('refuses a group without the rule (GROUP_AUTHORIZATION_FAILED)', async () => {
      const refused = await consoleConsume(tools, server.kafkaAddress!, 'orders', 'strangers', 1, await javaSslProperties(ca.cert, alice))
      expect(refused.stdout).to.match(/GroupAuthorizationException: Not authorized to access group: strangers/)
      expect(refused.stderr).to.match(/Processed a total of 0 messages/)
    })

    it('refuses a client without a certificate in the handshake', async () => {
      const refused = await consoleProduce(tools, server.kafkaAddress!, 'orders', ['k|anonymous'], ['acks=1', ...REFUSED_CLIENT_PROPERTIES, ...(await javaSslProperties(ca.cert))])
      expect(refused.output).to.match(/SslAuthenticationException/)
      expect(refused.output).to.match(/certificate_required/)
      expect(server.logs()).to.match(/kafka client 127\.0\.0\.1:\d+: closing the connection: the TLS handshake failed \(peer did not return a certificate\)/)
    })

    it('closes a plaintext client with a log line and stays up', async () => {
      const client = await KafkaWireClient.connect(Number(server.kafkaAddress!.split(':')[1]))
      client.send(API_VERSIONS_KEY, 0, 1, new KafkaWriter().toBuffer())
      expect(await client.next(), 'no Kafka answer to plaintext').to.equal(null)
      expect(client.closed).to.equal(true)
      expect(server.logs()).to.match(/kafka client 127\.0\.0\.1:\d+: closing the connection: the TLS handshake failed \(.*(wrong version number|http request|unknown protocol|packet length)/)
      expect(server.process.exitCode).to.equal(null)
      const produced = await consoleProduce(tools, server.kafkaAddress!, 'orders', ['k|still up'], ['acks=all', ...(await javaSslProperties(ca.cert, alice))])
      expect(produced.code, produced.output).to.equal(0)
      expect(produced.output).to.not.match(/Exception/)
    })
  })

  describe('client certificates requested, mapping rules without DEFAULT', () => {
    let server: RunningServer

    before(async () => {
      const rulesFile = path.join(ca.dir, 'requested-acl.json')
      await writeFile(rulesFile, '[]')
      server = await serveTls(node, ca, 'requested', rulesFile, ['--tls-principal-mapping-rules', 'RULE:^CN=([^,]*),OU=Eng,O=Acme.*$/$1/L'])
    })
    after(async () => {
      await server?.stop()
    })

    it('serves a client without a certificate (ANONYMOUS) and closes, with a log line, one the CA did not sign or no rule maps', async () => {
      expect(await apiVersionsAnsweredOverTls(server.kafkaAddress!, ca.cert), 'no certificate').to.equal(true)
      const mapped = await ca.issue('mapped', {subject: '/C=US/O=Acme/OU=Eng/CN=Dana'})
      expect(await apiVersionsAnsweredOverTls(server.kafkaAddress!, ca.cert, mapped), 'a mapped certificate').to.equal(true)
      const unmapped = await ca.issue('erin')
      expect(await apiVersionsAnsweredOverTls(server.kafkaAddress!, ca.cert, unmapped), 'a certificate no rule maps').to.equal(false)
      expect(server.logs()).to.match(/kafka client 127\.0\.0\.1:\d+: closing the connection: the client certificate matches none of this node's tls.principalMappingRules/)
      const stranger = await (await makeCa('other-ca')).issue('mallory')
      expect(await apiVersionsAnsweredOverTls(server.kafkaAddress!, ca.cert, stranger), 'a certificate of another CA').to.equal(false)
      expect(server.logs()).to.match(/kafka client 127\.0\.0\.1:\d+: closing the connection: the client certificate was not verified by the CA \(/)
    })
  })
})
