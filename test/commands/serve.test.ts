import {expect} from 'chai'
import {mkdtemp, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {runCli} from '../helpers/cli.js'
import {startServer} from '../helpers/server.js'

describe('lignum serve', function () {
  this.timeout(60_000)

  it('prints the resolved configuration: flags over environment over file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-serve-config-'))
    await writeFile(path.join(dir, 'lignum.config.yaml'), 'grpcPort: 1111\nhttpPort: 2222\nsegmentBytes: 4096\n')
    const result = await runCli(['serve', '--print-config', '--grpc-port', '3333'], {cwd: dir, env: {LIGNUM_HTTP_PORT: '4444'}})
    expect(result.code).to.equal(0)
    const config = JSON.parse(result.stdout)
    expect(config).to.include({grpcPort: 3333, httpPort: 4444, segmentBytes: 4096, dataDir: './lignum-data'})
  })

  it('prints the Consul token as REDACTED, from a file and from CONSUL_HTTP_TOKEN', async () => {
    const secret = 'f3b2c1d0-0000-4000-8000-5ec12e7c0de5'
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-serve-config-'))
    await writeFile(path.join(dir, 'lignum.config.json'), JSON.stringify({consul: {address: 'http://127.0.0.1:8500', token: secret}}))
    for (const env of [{}, {CONSUL_HTTP_TOKEN: secret}] as Record<string, string>[]) {
      const result = await runCli(['serve', '--print-config'], {cwd: dir, env})
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout + result.stderr).not.to.contain(secret)
      expect(JSON.parse(result.stdout)).to.include({consul: 'http://127.0.0.1:8500', consulToken: 'REDACTED'})
    }
    const flagged = await runCli(['serve', '--print-config', '--consul-token-file', '/run/token', '--consul-ca-file', '/ca.pem', '--consul-cert-file', '/c.pem', '--consul-key-file', '/k.pem'], {cwd: dir, env: {CONSUL_CACERT: '/from-env.pem'}})
    expect(flagged.code, flagged.stderr).to.equal(0)
    expect(JSON.parse(flagged.stdout)).to.include({consulTokenFile: '/run/token', consulCaFile: '/ca.pem', consulCertFile: '/c.pem', consulKeyFile: '/k.pem'})
  })

  it('refuses an invalid configuration at start, naming the key', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-serve-config-'))
    await writeFile(path.join(dir, '.lignumrc'), '{"flushPolicy": "sometimes"}')
    const result = await runCli(['serve'], {cwd: dir})
    expect(result.code).to.equal(2)
    expect(result.stderr.trim()).to.match(/^Error: invalid flushPolicy="sometimes" in .*\.lignumrc: expected "always", "never" or a number/)
  })

  it('refuses a second server on the same data directory and names the holder', async () => {
    const first = await startServer()
    const second = await runCli(['serve', '--data-dir', first.dataDir, '--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1'])
    expect(second.code).to.not.equal(0)
    expect(second.stderr).to.match(new RegExp(`in use by another lignum process \\(pid ${first.process.pid}\\)`))
    expect(await first.stop('SIGINT')).to.equal(0)
  })

  it('says which port is taken', async () => {
    const first = await startServer()
    const port = first.grpcAddress.split(':')[1]
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-serve-'))
    const second = await runCli(['serve', '--data-dir', dataDir, '--grpc-port', port, '--http-port', '0', '--host', '127.0.0.1'])
    expect(second.code).to.not.equal(0)
    expect(second.stderr).to.match(new RegExp(`cannot listen for gRPC on 127\\.0\\.0\\.1:${port}: .*--grpc-port`))
    await first.stop()
  })

  it('keeps every acknowledged acks=all record through kill -9, and the log verifies', async () => {
    const server = await startServer()
    const input = Array.from({length: 20_000}, (_, index) => `durable-${index}`).join('\n') + '\n'
    const produced = await runCli(['produce', '-t', 'durable', '--acks', 'all', '--brokers', server.grpcAddress], {input, timeoutMs: 60_000})
    expect(produced.code).to.equal(0)
    server.process.kill('SIGKILL')
    await server.stop()
    const verify = await runCli(['segments', 'inspect', '--data-dir', server.dataDir, '--verify'])
    expect(verify.code, verify.stderr).to.equal(0)
    const restarted = await startServer({dataDir: server.dataDir})
    const consumed = await runCli(['consume', '-t', 'durable', '-e', '--brokers', restarted.grpcAddress], {timeoutMs: 60_000})
    expect(consumed.stdout).to.equal(input)
    await restarted.stop()
  })
})
