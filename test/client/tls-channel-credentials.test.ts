/**
 * The client's TLS credentials put no IP address into SNI, so a program using the library
 * (not the CLI, which silences the warning) prints no DEP0123, while the node's certificate is
 * still checked against the address: a certificate for another host is refused. Real
 * `lignum serve` processes, certificates made by openssl, and a plain node:tls server to see
 * which server name arrives.
 */
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {createServer, type TLSSocket} from 'node:tls'
import {pathToFileURL} from 'node:url'
import {LignumClient} from '../../src/client/index.js'
import {LignumError} from '../../src/errors.js'
import {makeCa, type CertificateFiles, type TestCa} from '../helpers/certificates.js'
import {repoRoot} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'

const NO_SERVER_NAME = '(no server name)'

function serveArgs(files: CertificateFiles, ca: TestCa): string[] {
  return ['--tls-cert-file', files.cert, '--tls-key-file', files.key, '--tls-ca-file', ca.cert, '--tls-client-auth', 'required']
}

/** Runs a small ESM program that uses the client library from src/; resolves with its exit code and output. */
async function runLibraryProgram(source: string, env: Record<string, string>): Promise<{code: number | null; stdout: string; stderr: string}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-library-'))
  const script = path.join(dir, 'program.mjs')
  await writeFile(script, source)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {cwd: repoRoot, env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

describe('the client library over TLS to an IP address', function () {
  this.timeout(120_000)
  let ca: TestCa
  let alice: CertificateFiles
  let server: RunningServer

  before(async () => {
    ca = await makeCa('lignum-ca')
    alice = await ca.issue('alice')
    server = await startServer({args: serveArgs(await ca.issue('node-1'), ca)})
  })
  after(async () => {
    await server.stop()
  })

  it('round-trips a record from a program of its own and prints no DEP0123 (no IP address in SNI)', async () => {
    const clientModule = pathToFileURL(path.join(repoRoot, 'src', 'client', 'index.ts')).href
    const program = `
      const {LignumClient} = await import(${JSON.stringify(clientModule)})
      const client = await LignumClient.connect({brokers: process.env.BROKER, tls: {caFile: process.env.CA, certFile: process.env.CERT, keyFile: process.env.KEY}})
      const producer = client.producer({acks: 'all'})
      await producer.send('library-tls', {value: Buffer.from('over tls')})
      await producer.close()
      for await (const record of client.consume({topic: 'library-tls', from: 'beginning', stopAtEnd: true})) console.log(record.value.toString())
      client.close()
    `
    const result = await runLibraryProgram(program, {BROKER: server.grpcAddress, CA: ca.cert, CERT: alice.cert, KEY: alice.key})
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('over tls\n')
    expect(server.grpcAddress).to.match(/^127\.0\.0\.1:/)
    expect(result.stderr).to.not.include('DEP0123')
    expect(result.stderr).to.equal('')
  })

  it('refuses a node whose certificate names another address, though the CA signed it', async () => {
    const elsewhere = await startServer({args: serveArgs(await ca.issue('node-elsewhere', {subjectAltName: 'IP:10.9.8.7,DNS:elsewhere.example'}), ca)})
    try {
      const refused = await LignumClient.connect({brokers: elsewhere.grpcAddress, tls: {caFile: ca.cert, certFile: alice.cert, keyFile: alice.key}, connectTimeoutMs: 3000}).then(
        (client) => {
          client.close()
          return undefined
        },
        (error: unknown) => error,
      )
      expect(refused).to.be.instanceOf(LignumError)
      expect((refused as LignumError).code).to.equal('UNAUTHENTICATED')
      expect((refused as LignumError).message).to.match(/certificate of the node at 127\.0\.0\.1:\d+ is not trusted \(.*(IP: 127\.0\.0\.1 is not in the cert's list|Hostname\/IP does not match)/)
    } finally {
      await elsewhere.stop()
    }
  })

  describe('the server name sent', () => {
    const names: string[] = []
    let tlsServer: ReturnType<typeof createServer>
    let port: number

    before(async () => {
      const node = await ca.issue('sni-probe')
      tlsServer = createServer({cert: await readFile(node.cert), key: await readFile(node.key), ALPNProtocols: ['h2']}, (socket: TLSSocket) => {
        names.push(socket.servername || NO_SERVER_NAME)
        socket.destroy()
      })
      await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve))
      port = (tlsServer.address() as {port: number}).port
    })
    after(() => new Promise<void>((resolve) => tlsServer.close(() => resolve())))

    async function nameSentTo(host: string): Promise<string | undefined> {
      names.length = 0
      await LignumClient.connect({brokers: `${host}:${port}`, tls: {caFile: ca.cert}, connectTimeoutMs: 1500}).then((client) => client.close(), () => undefined)
      return names[0]
    }

    it('is none for an IP address and the host for a DNS name', async () => {
      expect(await nameSentTo('127.0.0.1'), 'the handshake reached the server').to.not.equal(undefined)
      expect(await nameSentTo('127.0.0.1')).to.equal(NO_SERVER_NAME)
      expect(await nameSentTo('localhost')).to.equal('localhost')
    })
  })
})
