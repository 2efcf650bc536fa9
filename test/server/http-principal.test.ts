/**
 * Who an HTTP request comes from, on a real `lignum serve`: bearer tokens from the tokens file
 * (made by `lignum http-token create`), over plain HTTP and HTTPS; the client certificate's CN
 * over HTTPS; 401 with one message and `WWW-Authenticate: Bearer` for a bad token; /metrics
 * restricted with http.metricsAccess authenticated while /healthz and /readyz stay open; token
 * rotation without a restart; and no token ever in the node's output.
 */
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {mkdtemp, writeFile} from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import {errorTable} from '../../src/errors.js'
import {newBearerToken} from '../../src/tokens/bearer-token.js'
import {makeCa, type CertificateFiles, type TestCa} from '../helpers/certificates.js'
import {runCli} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'

interface Answer {
  status: number
  json: any
  text: string
  challenge: string | undefined
}

interface RequestOptions {
  method?: string
  token?: string
  authorization?: string
  body?: unknown
  /** HTTPS: the CA to trust the node by, and a client certificate to present. */
  ca?: string
  client?: CertificateFiles
}

function call(url: string, options: RequestOptions = {}): Promise<Answer> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body)
  const authorization = options.authorization ?? (options.token === undefined ? undefined : `Bearer ${options.token}`)
  const headers = {'content-type': 'application/json', ...(body === undefined ? {} : {'content-length': String(Buffer.byteLength(body))}), ...(authorization === undefined ? {} : {authorization})}
  const tls = options.ca === undefined ? {} : {ca: readFileSync(options.ca), cert: options.client && readFileSync(options.client.cert), key: options.client && readFileSync(options.client.key)}
  const transport = url.startsWith('https:') ? https : http
  return new Promise((resolve, reject) => {
    const request = transport.request(url, {method: options.method ?? 'GET', headers, ...tls}, (response) => {
      let text = ''
      response.on('data', (chunk) => (text += chunk))
      response.on('end', () => {
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        resolve({status: response.statusCode ?? 0, json, text, challenge: response.headers['www-authenticate']})
      })
    })
    request.on('error', reject)
    request.end(body)
  })
}

/** `lignum http-token create --file`, as an operator runs it; returns the token it printed. */
async function createToken(principal: string, file: string): Promise<string> {
  const created = await runCli(['http-token', 'create', '--principal', principal, '--file', file, '--json'])
  expect(created.code, created.stderr).to.equal(0)
  return JSON.parse(created.stdout).token
}

function expectRefused(answer: Answer, message: RegExp, bearerError?: string): void {
  expect(answer.status, answer.text).to.equal(401)
  expect(answer.json.error.code).to.equal('UNAUTHENTICATED')
  expect(answer.json.error.message).to.match(message)
  expect(answer.challenge).to.equal(`Bearer realm="lignum"${bearerError ? `, error="${bearerError}"` : ''}`)
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const giveUpAtMs = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > giveUpAtMs) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const UNKNOWN_TOKEN = /^the bearer token is not known to this node \(revoked, or never in its http\.tokensFile\); use a token whose hash is in that file$/
const METRICS_NEED_PRINCIPAL = /^\/metrics on this node needs a principal \(http\.metricsAccess authenticated\); send "Authorization: Bearer <token>" or a client certificate the CA signed$/

describe('HTTP principals: bearer tokens and client certificates on lignum serve', function () {
  this.timeout(120_000)
  let dir: string
  // A well-formed token no tokens file holds.
  const unknownToken = newBearerToken()
  // Every token a test sends, known or not: none may show in a node's output.
  const sentTokens: string[] = [unknownToken]

  function expectNoTokenIn(output: string): void {
    for (const token of sentTokens) expect(output.includes(token), 'the node printed a token').to.equal(false)
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-http-tokens-'))
  })

  describe('over plain HTTP, with /metrics restricted', () => {
    let server: RunningServer
    let alice: string
    before(async () => {
      const file = path.join(dir, 'plain-tokens')
      alice = await createToken('alice', file)
      sentTokens.push(alice)
      server = await startServer({args: ['--http-tokens-file', file, '--http-metrics-access', 'authenticated', '--log-level', 'debug']})
    })
    after(async () => {
      await server.stop()
    })

    it('takes a known token as its principal for writes and reads', async () => {
      const written = await call(`${server.httpUrl}/api/message`, {method: 'POST', token: alice, body: {topic: 'tokens', message: 'hello'}})
      expect(written.status, written.text).to.equal(200)
      const read = await call(`${server.httpUrl}/api/message?topic=tokens`, {token: alice})
      expect(read.json).to.deep.equal({messages: [{Id: 0, Data: 'hello'}], count: 1})
      expect(server.logs()).to.match(/"msg":"http request","route":"GET \/api\/message","principal":"alice"/)
    })

    it('serves a request without an Authorization header anonymously, as before', async () => {
      const read = await call(`${server.httpUrl}/api/message?topic=tokens`)
      expect(read.status).to.equal(200)
      expect(read.json.count).to.equal(1)
    })

    it('answers an unknown token with 401, one message and WWW-Authenticate: Bearer, reading nothing', async () => {
      const wrong = unknownToken
      expectRefused(await call(`${server.httpUrl}/api/message?topic=tokens`, {token: wrong}), UNKNOWN_TOKEN, 'invalid_token')
      const written = await call(`${server.httpUrl}/api/message`, {method: 'POST', token: wrong, body: {topic: 'tokens', message: 'not stored'}})
      expectRefused(written, UNKNOWN_TOKEN, 'invalid_token')
      // Alice's token with one character changed: as unknown as any other.
      const altered = alice.slice(0, -1) + (alice.endsWith('A') ? 'B' : 'A')
      sentTokens.push(altered)
      expectRefused(await call(`${server.httpUrl}/api/message?topic=tokens`, {token: altered}), UNKNOWN_TOKEN, 'invalid_token')
      const read = await call(`${server.httpUrl}/api/message?topic=tokens`, {token: alice})
      expect(read.json.count, 'the refused write stored nothing').to.equal(1)
    })

    it('answers a malformed Authorization header with 401 and what a good one looks like', async () => {
      const cases: [string, RegExp][] = [
        [`Basic ${Buffer.from('alice:secret').toString('base64')}`, /^the Authorization header must be "Bearer <token>"; this node takes no other scheme$/],
        ['Bearer', /^the Authorization header must be "Bearer <token>"/],
        ['Bearer two words', /^the bearer token is malformed; send "Authorization: Bearer <token>" with a token from lignum http-token create$/],
      ]
      for (const [authorization, message] of cases) expectRefused(await call(`${server.httpUrl}/api/message?topic=tokens`, {authorization}), message, 'invalid_request')
    })

    it('refuses /metrics without a principal and with an unknown token, serves it with a token', async () => {
      expectRefused(await call(`${server.httpUrl}/metrics`), METRICS_NEED_PRINCIPAL)
      expectRefused(await call(`${server.httpUrl}/metrics`, {token: unknownToken}), UNKNOWN_TOKEN, 'invalid_token')
      const metrics = await call(`${server.httpUrl}/metrics`, {token: alice})
      expect(metrics.status).to.equal(200)
      expect(metrics.text).to.match(/^# HELP /m)
    })

    it('keeps /healthz and /readyz open, whatever credentials come', async () => {
      for (const probe of ['/healthz', '/readyz']) {
        expect((await call(`${server.httpUrl}${probe}`)).status, probe).to.equal(200)
        expect((await call(`${server.httpUrl}${probe}`, {token: unknownToken})).status, `${probe} with an unknown token`).to.equal(200)
        expect((await call(`${server.httpUrl}${probe}`, {authorization: 'Basic eA=='})).status, `${probe} with another scheme`).to.equal(200)
      }
    })

    it('never logs or prints a token, even at debug level', () => {
      expect(server.logs()).to.match(/"level":"debug"/)
      expect(server.logs()).to.match(/http request refused/)
      expectNoTokenIn(server.logs())
    })
  })

  describe('token rotation', () => {
    it('takes a token added and one removed without a restart, and keeps the tokens through a bad file', async () => {
      const file = path.join(dir, 'rotated-tokens')
      const alice = await createToken('alice', file)
      const server = await startServer({args: ['--http-tokens-file', file]})
      try {
        expect((await call(`${server.httpUrl}/api/message`, {method: 'POST', body: {topic: 'rotation', message: 'm'}})).status).to.equal(200)
        const url = `${server.httpUrl}/api/message?topic=rotation`
        expect((await call(url, {token: alice})).status).to.equal(200)
        const bob = await createToken('bob', file)
        sentTokens.push(alice, bob)
        await waitFor(async () => (await call(url, {token: bob})).status === 200, 'the added token is taken')
        expect(server.logs()).to.match(/HTTP tokens reloaded.*"entries":2/)
        const [aliceLine, bobLine] = readFileSync(file, 'utf8').trim().split('\n')
        expect(aliceLine).to.match(/^alice:sha256:[0-9a-f]{64}$/)
        await writeFile(file, bobLine + '\n')
        await waitFor(async () => (await call(url, {token: alice})).status === 401, 'the removed token is refused')
        expectRefused(await call(url, {token: alice}), UNKNOWN_TOKEN, 'invalid_token')
        expect((await call(url, {token: bob})).status).to.equal(200)
        // A token pasted in place of its hash: refused whole, logged once, bob's token still works.
        await writeFile(file, `${bobLine}\n${alice}\n`)
        await waitFor(async () => /HTTP tokens file changed but was refused/.test(server.logs()), 'the refusal is logged')
        await new Promise((resolve) => setTimeout(resolve, 2500))
        expect(server.logs().match(/HTTP tokens file changed but was refused/g)).to.have.length(1)
        expect(server.logs()).to.match(/line 2 looks like it holds a token itself, not its hash/)
        expect((await call(url, {token: bob})).status).to.equal(200)
        expectRefused(await call(url, {token: alice}), UNKNOWN_TOKEN, 'invalid_token')
        expectNoTokenIn(server.logs())
      } finally {
        await server.stop()
      }
    })
  })

  describe('over HTTPS, with client certificates requested and /metrics restricted', () => {
    let ca: TestCa
    let server: RunningServer
    let url: string
    let aliceCertificate: CertificateFiles
    let prometheus: string
    before(async () => {
      ca = await makeCa('http-tokens-ca')
      const node = await ca.issue('node-1')
      aliceCertificate = await ca.issue('alice-cert')
      const file = path.join(dir, 'https-tokens')
      prometheus = await createToken('prometheus', file)
      sentTokens.push(prometheus)
      server = await startServer({args: ['--tls-cert-file', node.cert, '--tls-key-file', node.key, '--tls-ca-file', ca.cert, '--tls-client-auth', 'requested', '--http-tokens-file', file, '--http-metrics-access', 'authenticated', '--log-level', 'debug']})
      url = server.httpUrl.replace('http:', 'https:')
    })
    after(async () => {
      await server.stop()
    })

    it('serves /metrics to a client certificate the CA signed, as its CN', async () => {
      const metrics = await call(`${url}/metrics`, {ca: ca.cert, client: aliceCertificate})
      expect(metrics.status, metrics.text).to.equal(200)
      expect(server.logs()).to.match(/"route":"GET \/metrics","principal":"alice-cert"/)
    })

    it('serves /metrics to a token without a certificate, and refuses a request with neither', async () => {
      expect((await call(`${url}/metrics`, {ca: ca.cert, token: prometheus})).status).to.equal(200)
      expect(server.logs()).to.match(/"route":"GET \/metrics","principal":"prometheus"/)
      expectRefused(await call(`${url}/metrics`, {ca: ca.cert}), METRICS_NEED_PRINCIPAL)
    })

    it('takes the token\'s principal over the certificate\'s, and refuses an unknown token even with a good certificate', async () => {
      // Past authentication, the topic is not there.
      expect((await call(`${url}/api/message?topic=both`, {ca: ca.cert, client: aliceCertificate, token: prometheus})).status).to.equal(404)
      expect(server.logs()).to.match(/"route":"GET \/api\/message","principal":"prometheus"/)
      expect(server.logs()).to.not.match(/"route":"GET \/api\/message","principal":"alice-cert"/)
      expectRefused(await call(`${url}/api/message?topic=both`, {ca: ca.cert, client: aliceCertificate, token: unknownToken}), UNKNOWN_TOKEN, 'invalid_token')
    })

    it('keeps /healthz and /readyz open without a certificate or a token', async () => {
      for (const probe of ['/healthz', '/readyz']) expect((await call(`${url}${probe}`, {ca: ca.cert})).status, probe).to.equal(200)
    })

    it('never logs or prints a token', () => {
      expectNoTokenIn(server.logs())
    })
  })

  describe('without a tokens file', () => {
    it('serves /metrics to anyone by default and refuses a bearer token it cannot check', async () => {
      const server = await startServer()
      try {
        expect((await call(`${server.httpUrl}/metrics`)).status).to.equal(200)
        expectRefused(await call(`${server.httpUrl}/healthz`.replace('healthz', 'metrics'), {token: newBearerToken()}), /^this node takes no bearer tokens \(http\.tokensFile is not set\); drop the Authorization header, or set http\.tokensFile on the node$/, 'invalid_request')
      } finally {
        await server.stop()
      }
    })
  })

  describe('configuration', () => {
    it('prints the tokens file\'s path, never what it holds', async () => {
      const file = path.join(dir, 'printed-tokens')
      const token = await createToken('ci', file)
      const flagged = await runCli(['serve', '--print-config', '--http-tokens-file', file, '--http-metrics-access', 'authenticated'])
      expect(JSON.parse(flagged.stdout)).to.include({httpTokensFile: file, httpMetricsAccess: 'authenticated'})
      expect(flagged.stdout).to.not.include('sha256')
      expect(flagged.stdout).to.not.include(token)
      const configFile = path.join(dir, 'lignum.config.json')
      await writeFile(configFile, JSON.stringify({http: {tokensFile: file, metricsAccess: 'authenticated'}}))
      const grouped = await runCli(['serve', '--print-config', '--config', configFile])
      expect(JSON.parse(grouped.stdout)).to.include({httpTokensFile: file, httpMetricsAccess: 'authenticated'})
      const environment = await runCli(['serve', '--print-config'], {env: {LIGNUM_HTTP_TOKENS_FILE: file, LIGNUM_HTTP_METRICS_ACCESS: 'authenticated'}})
      expect(JSON.parse(environment.stdout)).to.include({httpTokensFile: file, httpMetricsAccess: 'authenticated'})
    })

    it('refuses a metrics access it does not know, and authenticated with no way to authenticate', async () => {
      const unknown = await runCli(['serve', '--print-config', '--http-metrics-access', 'tokens'])
      expect(unknown.stderr).to.equal('Error: invalid httpMetricsAccess="tokens" in flag --http-metrics-access: expected one of open, authenticated\n')
      expect(unknown.code).to.equal(errorTable.CONFIG.exitCode)
      const unreachable = await runCli(['serve', '--data-dir', path.join(dir, 'refused-1'), '--grpc-port', '0', '--http-port', '0', '--http-metrics-access', 'authenticated'])
      expect(unreachable.stderr).to.equal('Error: http.metricsAccess authenticated needs a way to authenticate; set http.tokensFile (--http-tokens-file), or tls.clientAuth requested or required with TLS on\n')
      expect(unreachable.code).to.equal(errorTable.CONFIG.exitCode)
    })

    it('stops at start with one line when the tokens file is missing or bad', async () => {
      const missing = path.join(dir, 'no-such-tokens')
      const absent = await runCli(['serve', '--data-dir', path.join(dir, 'refused-2'), '--grpc-port', '0', '--http-port', '0', '--http-tokens-file', missing])
      expect(absent.stderr).to.equal(`Error: cannot read http.tokensFile ${missing}: no such file; give the path of a tokens file (make entries with lignum http-token create)\n`)
      expect(absent.code).to.equal(errorTable.CONFIG.exitCode)
      const bad = path.join(dir, 'bad-tokens')
      const pasted = newBearerToken()
      await writeFile(bad, `# tokens\nci:${pasted}\n`)
      const refused = await runCli(['serve', '--data-dir', path.join(dir, 'refused-3'), '--grpc-port', '0', '--http-port', '0', '--http-tokens-file', bad])
      expect(refused.stderr).to.match(/^Error: http\.tokensFile .*bad-tokens line 2 looks like it holds a token itself, not its hash; remove it, treat that token as leaked, and add an entry made with lignum http-token create\n$/)
      expect(refused.stderr).to.not.include(pasted)
      expect(refused.code).to.equal(errorTable.CONFIG.exitCode)
    })
  })
})
