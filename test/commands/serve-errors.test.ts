import {expect} from 'chai'
import {mkdtemp} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {runCli} from '../helpers/cli.js'
import {startServer} from '../helpers/server.js'

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
})
