import {expect} from 'chai'
import {chmod, chown, mkdir, mkdtemp} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {runCli, type CliOptions} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'

/**
 * Errors a user causes that used to come out raw (an errno with a stack, a gRPC protocol dump)
 * or with the wrong words: each is one line with the fix and a non-zero exit, and with --json
 * a JSON line on stderr. Tests run as root, whom file and port permissions do not stop, so the
 * CLI runs as nobody here; the test directories are opened up for it to traverse.
 */
describe('errors a user causes, in one line', function () {
  this.timeout(90_000)
  const nobody: CliOptions = {user: {uid: 65534, gid: 65534}}
  let root: string
  let dataDir: string

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'lignum-user-errors-'))
    await chmod(root, 0o755)
    // nobody's HOME: oclif reads its own files there, and /root is not nobody's to read.
    const home = path.join(root, 'home')
    await mkdir(home)
    await chown(home, 65534, 65534)
    nobody.env = {HOME: home, LOG_LEVEL: 'error'}
    dataDir = path.join(root, 'data')
    const server = await startServer({dataDir})
    try {
      expect((await runCli(['produce', '-t', 'orders', '--brokers', server.grpcAddress], {input: 'a\nb\nc\n'})).code).to.equal(0)
    } finally {
      expect(await server.stop()).to.equal(0)
    }
  })

  afterEach(async () => {
    await chmod(dataDir, 0o755)
    await chmod(path.join(dataDir, 'orders-0'), 0o755)
  })

  async function expectDataIntact(): Promise<void> {
    const offline = await runCli(['consume', '-t', 'orders', '--data-dir', dataDir])
    expect(offline.stdout).to.equal('a\nb\nc\n')
  }

  it('serve on a data directory the user cannot write: names .lock and the fix', async () => {
    const result = await runCli(['serve', '--data-dir', dataDir, '--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1'], nobody)
    expect(result.code).to.equal(4)
    expect(result.stderr).to.equal(`Error: cannot use ${dataDir}/.lock: permission denied; give the user running lignum read and write access to ${dataDir} (chown or chmod) or choose another --data-dir\n`)
    await expectDataIntact()
  })

  it('consume --data-dir and segments inspect on a directory the user cannot read', async () => {
    await chmod(dataDir, 0o700)
    for (const args of [['consume', '-t', 'orders', '--data-dir', dataDir], ['segments', 'inspect', '--data-dir', dataDir]]) {
      const result = await runCli(args, nobody)
      expect(result.code, args.join(' ')).to.equal(4)
      expect(result.stderr).to.equal(`Error: cannot use ${dataDir}: permission denied; give the user running lignum read and write access to ${dataDir} (chown or chmod) or choose another --data-dir\n`)
    }
    await expectDataIntact()
  })

  it('segments inspect on a partition directory the user cannot read (was a raw EACCES scandir), in text and in JSON', async () => {
    const partitionDir = path.join(dataDir, 'orders-0')
    await chmod(partitionDir, 0o700)
    const message = `cannot use ${partitionDir}: permission denied`
    const hint = `give the user running lignum read and write access to ${dataDir} (chown or chmod) or choose another --data-dir`
    const text = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--topic', 'orders'], nobody)
    expect(text.code).to.equal(4)
    expect(text.stderr).to.equal(`Error: ${message}; ${hint}\n`)
    const json = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--topic', 'orders', '--json'], nobody)
    expect(json.code).to.equal(4)
    expect(json.stdout).to.equal('')
    expect(json.stderr).to.equal(`${JSON.stringify({error: {code: 'DATA_DIR', message, hint}})}\n`)
    await expectDataIntact()
  })

  it('serve on a port below 1024 without the privilege: permission denied, not "in use"', async () => {
    const ownDir = path.join(root, 'nobody-data')
    await mkdir(ownDir)
    await chown(ownDir, 65534, 65534)
    for (const [flag, other] of [['--grpc-port', '--http-port'], ['--http-port', '--grpc-port']]) {
      const result = await runCli(['serve', '--data-dir', ownDir, flag, '81', other, '0', '--host', '127.0.0.1'], nobody)
      expect(result.code, flag).to.equal(2)
      const what = flag === '--grpc-port' ? 'gRPC' : 'HTTP'
      expect(result.stderr).to.equal(`Error: cannot listen for ${what} on 127.0.0.1:81: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE); choose a port above 1023 with ${flag}\n`)
    }
  })

  describe('--brokers at a port that is not gRPC', () => {
    let server: RunningServer
    before(async () => {
      server = await startServer()
    })
    after(async () => {
      await server.stop()
    })

    it('says the address answers HTTP and which port to use, in text and in JSON', async () => {
      const httpAddress = new URL(server.httpUrl).host
      const message = `${httpAddress} answers HTTP/1.1 ("HTTP/1.1 404 Not Found"), not Lignum's gRPC: it is an HTTP port, such as a node's HTTP API`
      const hint = `pass --brokers host:port with a node's gRPC port (lignum serve --grpc-port, default 50051; its "node started" log line names it as "grpc")`
      const text = await runCli(['topics', 'list', '--brokers', httpAddress])
      expect(text.code).to.equal(2)
      expect(text.stderr).to.equal(`Error: ${message}; ${hint}\n`)
      const json = await runCli(['consume', '-t', 'orders', '-e', '--json', '--brokers', httpAddress])
      expect(json.code).to.equal(2)
      expect(json.stdout).to.equal('')
      expect(json.stderr).to.equal(`${JSON.stringify({error: {code: 'CONFIG', message, hint}})}\n`)
    })
  })

  it('with --json, every error is one JSON line on stderr with the same exit code', async () => {
    const usage = await runCli(['consume', '--data-dir', dataDir, '--json'])
    expect(usage.code).to.equal(2)
    expect(usage.stdout).to.equal('')
    const usageError = JSON.parse(usage.stderr) as {error: {code: string; message: string}}
    expect(usageError.error.code).to.equal('INVALID_ARGUMENT')
    expect(usageError.error.message).to.match(/^Missing required flag --topic/)
    expect(usage.stderr.trimEnd().split('\n')).to.have.length(1)

    const unknownTopic = await runCli(['consume', '-t', 'nope', '--data-dir', dataDir, '--json'])
    expect(unknownTopic.code).to.equal(3)
    expect(JSON.parse(unknownTopic.stderr)).to.deep.equal({error: {code: 'UNKNOWN_TOPIC', message: `topic "nope" is not in ${dataDir}; it holds: __consumer_offsets, orders`}})

    const unreachable = await runCli(['topics', 'list', '--json', '--brokers', '127.0.0.1:1'])
    expect(unreachable.code).to.equal(5)
    expect(unreachable.stdout).to.equal('')
    expect(JSON.parse(unreachable.stderr).error.code).to.equal('UNAVAILABLE')

    // After `--` it is data, not a flag: the error stays text.
    const text = await runCli(['consume', '-t', 'nope', '--data-dir', dataDir, '--', '--json'])
    expect(text.stderr).to.match(/^Error: /)
  })
})
