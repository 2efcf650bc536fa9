/**
 * TLS and mutual TLS on a real `lignum serve`: the CLI's round trip, every refusal with its one
 * line and exit code, HTTPS with the same certificates, rotation without a restart, and proof
 * (a recording proxy between client and node) that the bytes on the wire are encrypted.
 */
import {expect} from 'chai'
import {copyFile, writeFile} from 'node:fs/promises'
import {readFileSync} from 'node:fs'
import https from 'node:https'
import {connect as tlsConnect} from 'node:tls'
import {errorTable} from '../../src/errors.js'
import {makeCa, type CertificateFiles, type TestCa} from '../helpers/certificates.js'
import {runCli} from '../helpers/cli.js'
import {startRecordingProxy} from '../helpers/recording-proxy.js'
import {startServer, type RunningServer} from '../helpers/server.js'

function tlsArgs(ca: string, client?: CertificateFiles): string[] {
  return ['--tls-ca', ca, ...(client ? ['--tls-cert', client.cert, '--tls-key', client.key] : [])]
}

function serveArgs(files: CertificateFiles, ca: string, clientAuth: string): string[] {
  return ['--tls-cert-file', files.cert, '--tls-key-file', files.key, '--tls-ca-file', ca, '--tls-client-auth', clientAuth]
}

/** The common name of the certificate a TLS port presents now. */
function servedCommonName(address: string): Promise<string> {
  const index = address.lastIndexOf(':')
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({host: address.slice(0, index), port: Number(address.slice(index + 1)), rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1']}, () => {
      const name = socket.getPeerCertificate().subject.CN
      socket.destroy()
      resolve(Array.isArray(name) ? name[0]! : name!)
    })
    socket.on('error', reject)
  })
}

function httpsGet(url: string, options: {ca: string; client?: CertificateFiles}): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, {ca: readFileSync(options.ca), cert: options.client && readFileSync(options.client.cert), key: options.client && readFileSync(options.client.key)}, (response) => {
      let body = ''
      response.on('data', (chunk) => (body += chunk))
      response.on('end', () => resolve({status: response.statusCode!, body}))
    })
    request.on('error', reject)
  })
}

describe('TLS and mutual TLS on lignum serve', function () {
  this.timeout(120_000)
  let ca: TestCa
  let otherCa: TestCa
  let serverFiles: CertificateFiles
  let alice: CertificateFiles

  before(async () => {
    ca = await makeCa('lignum-ca')
    otherCa = await makeCa('other-ca')
    serverFiles = await ca.issue('node-1')
    alice = await ca.issue('alice')
  })

  describe('with client certificates required', () => {
    let server: RunningServer
    before(async () => {
      server = await startServer({args: [...serveArgs(serverFiles, ca.cert, 'required'), '--log-level', 'debug']})
    })
    after(async () => {
      await server.stop()
    })

    it('round-trips produce and consume with a certificate the CA signed, and knows the client as its CN', async () => {
      const brokers = ['--brokers', server.grpcAddress, ...tlsArgs(ca.cert, alice)]
      const produced = await runCli(['produce', '-t', 'secure', ...brokers, '--acks', 'all'], {input: 'first\nsecond\n'})
      expect(produced.stderr).to.equal('')
      expect(produced.code).to.equal(0)
      const consumed = await runCli(['consume', '-t', 'secure', '--from', 'beginning', '-e', ...brokers])
      expect(consumed.stderr).to.equal('')
      expect(consumed.stdout).to.equal('first\nsecond\n')
      const status = await runCli(['cluster', 'status', '--json', ...brokers])
      expect(status.code, status.stderr).to.equal(0)
      const topics = await runCli(['topics', 'list', '--json', ...brokers])
      expect(JSON.parse(topics.stdout).topics.map((topic: {name: string}) => topic.name)).to.include('secure')
      expect(server.logs()).to.match(/"principal":"alice"/)
    })

    it('takes the client settings from LIGNUM_TLS_* as from flags', async () => {
      const listed = await runCli(['topics', 'list', '--brokers', server.grpcAddress], {env: {LIGNUM_TLS_CA: ca.cert, LIGNUM_TLS_CERT: alice.cert, LIGNUM_TLS_KEY: alice.key}})
      expect(listed.stderr).to.equal('')
      expect(listed.code).to.equal(0)
    })

    const refusals: [string, () => Promise<string[]>, RegExp][] = [
      ['no client certificate', async () => tlsArgs(ca.cert), /requires a client certificate signed by its CA and none was given; pass --tls-cert and --tls-key/],
      ['a certificate from another CA', async () => tlsArgs(ca.cert, await otherCa.issue('mallory')), /refused the client certificate \(CN=mallory: not signed by the CA the client trusts\); it requires one signed by its CA; pass --tls-cert and --tls-key with such a certificate/],
      ['an expired certificate', async () => tlsArgs(ca.cert, await ca.issue('old-client', {days: -1})), /refused the client certificate \(CN=old-client: expired on .*\); it requires one signed by its CA/],
    ]
    for (const [what, args, message] of refusals) {
      it(`refuses ${what} in the handshake, with one line and the authentication exit code`, async () => {
        const result = await runCli(['topics', 'list', '--brokers', server.grpcAddress, ...(await args())])
        expect(result.stderr).to.match(message)
        expect(result.stderr.trim().split('\n')).to.have.length(1)
        expect(result.code).to.equal(errorTable.UNAUTHENTICATED.exitCode)
        expect(result.stdout).to.equal('')
      })
    }

    it('says a plaintext client is talking to a TLS port', async () => {
      const result = await runCli(['topics', 'list', '--brokers', server.grpcAddress])
      expect(result.stderr).to.match(/^Error: the node at 127\.0\.0\.1:\d+ serves TLS and this client connected in plaintext; pass --tls-ca <CA file>/)
      expect(result.stderr.trim().split('\n')).to.have.length(1)
      expect(result.code).to.equal(errorTable.CONFIG.exitCode)
    })

    it('says the node\'s certificate is not trusted when --tls-ca names another CA', async () => {
      const result = await runCli(['topics', 'list', '--brokers', server.grpcAddress, ...tlsArgs(otherCa.cert, alice)])
      expect(result.stderr).to.match(/the certificate of the node at 127\.0\.0\.1:\d+ is not trusted \(.*\); pass --tls-ca with the CA that signed the nodes' certificates/)
      expect(result.code).to.equal(errorTable.UNAUTHENTICATED.exitCode)
    })

    it('serves HTTPS with the same certificates and refuses a client without one', async () => {
      const url = server.httpUrl.replace('http:', 'https:')
      const healthy = await httpsGet(`${url}/healthz`, {ca: ca.cert, client: alice})
      expect(healthy.status).to.equal(200)
      const refused = await httpsGet(`${url}/healthz`, {ca: ca.cert}).then(() => 'answered', (error: Error) => error.message)
      expect(refused).to.not.equal('answered')
    })
  })

  describe('with client certificates requested', () => {
    it('serves a client without a certificate and refuses one whose certificate another CA signed', async () => {
      const server = await startServer({args: serveArgs(serverFiles, ca.cert, 'requested')})
      try {
        const anonymous = await runCli(['topics', 'list', '--brokers', server.grpcAddress, ...tlsArgs(ca.cert)])
        expect(anonymous.code, anonymous.stderr).to.equal(0)
        const signed = await runCli(['topics', 'list', '--brokers', server.grpcAddress, ...tlsArgs(ca.cert, alice)])
        expect(signed.code, signed.stderr).to.equal(0)
        const stranger = await runCli(['topics', 'list', '--brokers', server.grpcAddress, ...tlsArgs(ca.cert, await otherCa.issue('eve'))])
        expect(stranger.stderr).to.match(/refused the client certificate \(CN=eve: not signed by the CA the client trusts\)/)
        expect(stranger.code).to.equal(errorTable.UNAUTHENTICATED.exitCode)
        const url = server.httpUrl.replace('http:', 'https:')
        expect((await httpsGet(`${url}/healthz`, {ca: ca.cert})).status).to.equal(200)
        const refused = await httpsGet(`${url}/healthz`, {ca: ca.cert, client: await otherCa.issue('eve-http')}).then(() => 'answered', (error: Error) => error.message)
        expect(refused).to.not.equal('answered')
        // Who called is for debug logs only; this node logs at info.
        expect(server.logs()).to.not.match(/principal/)
      } finally {
        await server.stop()
      }
    })
  })

  describe('a TLS client against a plaintext node', () => {
    it('says the node does not serve TLS', async () => {
      const plain = await startServer()
      try {
        const result = await runCli(['topics', 'list', '--brokers', plain.grpcAddress, ...tlsArgs(ca.cert, alice)])
        expect(result.stderr).to.match(/^Error: the node at 127\.0\.0\.1:\d+ does not serve TLS \(it answered in plaintext\); drop --tls-ca, --tls-cert and --tls-key/)
        expect(result.stderr.trim().split('\n')).to.have.length(1)
        expect(result.code).to.equal(errorTable.CONFIG.exitCode)
      } finally {
        await plain.stop()
      }
    })
  })

  describe('on the wire', () => {
    const secret = 'the-secret-value-' + 'x'.repeat(16)

    async function recordedProduce(server: RunningServer, clientArgs: string[]): Promise<Buffer> {
      const proxy = await startRecordingProxy(server.grpcAddress)
      try {
        const produced = await runCli(['produce', '-t', 'wire', '--brokers', proxy.address, ...clientArgs, '--acks', 'all'], {input: secret + '\n'})
        expect(produced.code, produced.stderr).to.equal(0)
        const consumed = await runCli(['consume', '-t', 'wire', '--brokers', proxy.address, ...clientArgs, '--from', 'beginning', '-e'])
        expect(consumed.stdout).to.equal(secret + '\n')
        return proxy.recorded()
      } finally {
        await proxy.close()
      }
    }

    it('carries a produced value in the clear without TLS, and never with it', async () => {
      const plain = await startServer()
      const secure = await startServer({args: serveArgs(serverFiles, ca.cert, 'required')})
      try {
        const clear = await recordedProduce(plain, [])
        expect(clear.includes(secret), 'the recording of plaintext traffic holds the value').to.equal(true)
        const encrypted = await recordedProduce(secure, tlsArgs(ca.cert, alice))
        expect(encrypted.length, 'the proxy carried the TLS traffic').to.be.greaterThan(2000)
        expect(encrypted.includes(secret), 'the recording of TLS traffic holds the value').to.equal(false)
        expect(encrypted.includes(secret.slice(0, 12)), 'not even part of it').to.equal(false)
      } finally {
        await Promise.all([plain.stop(), secure.stop()])
      }
    })
  })

  describe('certificate rotation', () => {
    it('serves a new certificate written over the files without a restart, and keeps the old one when the new files are bad', async () => {
      const live = {cert: `${ca.dir}/live.pem`, key: `${ca.dir}/live-key.pem`}
      await copyFile(serverFiles.cert, live.cert)
      await copyFile(serverFiles.key, live.key)
      const server = await startServer({args: serveArgs(live, ca.cert, 'required')})
      try {
        const httpAddress = server.httpUrl.replace('http://', '')
        expect(await servedCommonName(server.grpcAddress)).to.equal('node-1')
        const rotated = await ca.issue('node-1-rotated')
        // A key that is not the certificate's: refused whole, the old pair stays.
        await copyFile(rotated.cert, live.cert)
        await waitFor(() => /TLS files changed but were refused/.test(server.logs()), 'the refusal is logged')
        expect(server.logs().match(/TLS files changed but were refused/g)).to.have.length(1)
        expect(await servedCommonName(server.grpcAddress)).to.equal('node-1')
        await copyFile(rotated.key, live.key)
        await waitFor(async () => (await servedCommonName(server.grpcAddress)) === 'node-1-rotated', 'gRPC serves the new certificate')
        await waitFor(async () => (await servedCommonName(httpAddress)) === 'node-1-rotated', 'HTTPS serves the new certificate')
        const listed = await runCli(['topics', 'list', '--brokers', server.grpcAddress, ...tlsArgs(ca.cert, alice)])
        expect(listed.code, listed.stderr).to.equal(0)
        // Half a file (a writer caught mid-write) is refused too.
        await writeFile(live.cert, readFileSync(rotated.cert).subarray(0, 100))
        await waitFor(() => (server.logs().match(/TLS files changed but were refused/g) ?? []).length === 2, 'the second refusal is logged')
        expect(await servedCommonName(server.grpcAddress)).to.equal('node-1-rotated')
      } finally {
        await server.stop()
      }
    })
  })

  describe('configuration', () => {
    it('prints the TLS settings as paths, never the key material', async () => {
      const result = await runCli(['serve', '--print-config', ...serveArgs(serverFiles, ca.cert, 'required')], {env: {LIGNUM_TLS_CA: ca.cert}})
      const printed = JSON.parse(result.stdout)
      expect(printed).to.include({tlsCertFile: serverFiles.cert, tlsKeyFile: serverFiles.key, tlsCaFile: ca.cert, tlsClientAuth: 'required', tlsCa: ca.cert})
      expect(result.stdout).to.not.include('PRIVATE KEY')
      expect(result.stdout).to.not.include('BEGIN')
    })

    it('stops at start with one line when the key is not the certificate\'s', async () => {
      const other = await ca.issue('someone-else')
      const result = await runCli(['serve', '--data-dir', `${ca.dir}/refused-data`, '--grpc-port', '0', '--http-port', '0', '--tls-cert-file', serverFiles.cert, '--tls-key-file', other.key])
      expect(result.stderr).to.match(/^Error: tls\.keyFile .* is not the private key of the certificate in tls\.certFile .*; give the key the certificate was issued for\n$/)
      expect(result.code).to.equal(errorTable.CONFIG.exitCode)
    })

    it('refuses clientAuth required without a CA', async () => {
      const result = await runCli(['serve', '--print-config'], {env: {LIGNUM_TLS_CLIENT_AUTH: 'sometimes'}})
      expect(result.stderr).to.match(/invalid tlsClientAuth="sometimes" in environment variable LIGNUM_TLS_CLIENT_AUTH: expected one of none, requested, required/)
      const started = await runCli(['serve', '--data-dir', `${ca.dir}/refused-data-2`, '--grpc-port', '0', '--http-port', '0', ...serveArgs(serverFiles, ca.cert, 'required').slice(0, 4), '--tls-client-auth', 'required'])
      expect(started.stderr).to.match(/tls\.clientAuth required needs tls\.caFile: .*; set it \(--tls-ca-file\)/)
      expect(started.code).to.equal(errorTable.CONFIG.exitCode)
    })
  })
})

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const giveUpAtMs = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > giveUpAtMs) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
