import {expect} from 'chai'
import {mkdir, mkdtemp, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {runCli} from '../helpers/cli.js'
import {startServer} from '../helpers/server.js'
import {mountTmpfs} from '../helpers/tmpfs.js'

/** What a user gets wrong when starting a node: one line on stderr (logs aside), non-zero exit. */
describe('lignum serve refusing to start', function () {
  this.timeout(60_000)
  const quiet = {LOG_LEVEL: 'error'}

  it('says the gRPC port is taken in one line, with no stray grpc-js diagnostics', async () => {
    const first = await startServer()
    try {
      const port = first.grpcAddress.split(':')[1]
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-serve-errors-'))
      const second = await runCli(['serve', '--data-dir', dataDir, '--grpc-port', port, '--http-port', '0', '--host', '127.0.0.1'], {env: quiet})
      expect(second.code).to.equal(5)
      expect(second.stdout).to.equal('')
      expect(second.stderr).to.equal(`Error: cannot listen for gRPC on 127.0.0.1:${port}: the port is already in use; stop what uses it or choose another --grpc-port\n`)
    } finally {
      await first.stop()
    }
  })

  it('says when the data directory is a file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-serve-errors-'))
    const file = path.join(dir, 'not-a-dir')
    await writeFile(file, 'x')
    const result = await runCli(['serve', '--data-dir', file, '--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1'], {env: quiet})
    expect(result.code).to.equal(4)
    expect(result.stderr).to.equal(`Error: cannot use ${file} as the data directory: it (or a folder above it) is a file; choose a writable --data-dir\n`)
  })

  it('says when the data directory is on a read-only file system, for a used and an empty one', async function () {
    // chmod 0555 does not stop root, which runs the tests: a file system mounted read-only does.
    const tmpfs = await mountTmpfs('size=4m')
    try {
      const used = path.join(tmpfs.dir, 'used')
      const server = await startServer({dataDir: used})
      expect((await runCli(['produce', '-t', 'kept', '--brokers', server.grpcAddress], {input: 'a\nb\n'})).code).to.equal(0)
      expect(await server.stop()).to.equal(0)
      await mkdir(path.join(tmpfs.dir, 'empty'))
      await tmpfs.remount('ro')
      for (const dataDir of [used, path.join(tmpfs.dir, 'empty')]) {
        const result = await runCli(['serve', '--data-dir', dataDir, '--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1'], {env: quiet})
        expect(result.code).to.equal(4)
        expect(result.stderr).to.equal(`Error: cannot write ${dataDir}/.lock: the data directory ${dataDir} is on a read-only file system; remount it read-write or choose another --data-dir\n`)
      }
      // What was stored is still readable offline.
      const offline = await runCli(['consume', '-t', 'kept', '--data-dir', used])
      expect(offline.stdout).to.equal('a\nb\n')
    } finally {
      await tmpfs.unmount()
    }
  })

  it('says when --host is not an address of this machine', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-serve-errors-'))
    // 192.0.2.0/24 is reserved for documentation: never a local address. Nothing is sent to it.
    const result = await runCli(['serve', '--data-dir', dataDir, '--grpc-port', '0', '--http-port', '0', '--host', '192.0.2.1'], {env: quiet})
    expect(result.code).to.equal(5)
    expect(result.stderr).to.match(/^Error: cannot listen for gRPC on 192\.0\.2\.1:0: 192\.0\.2\.1 is not an address of this machine; choose one of its addresses with --host/)
  })
})
