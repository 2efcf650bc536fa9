/** Internal topics belong to the node: real `lignum` processes against a real `lignum serve`. */
import {expect} from 'chai'
import {mkdtemp} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {errorTable} from '../../src/errors.js'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {PartitionLog} from '../../src/log/partition-log.js'
import {silentLogger} from '../../src/logger.js'
import {runCli} from '../helpers/cli.js'
import {startServer} from '../helpers/server.js'

describe('internal topics (against lignum serve)', function () {
  this.timeout(60_000)

  it('refuses `lignum produce -t __consumer_offsets`, and the node starts again afterwards', async () => {
    const server = await startServer()
    const brokers = ['--brokers', server.grpcAddress]
    const produced = await runCli(['produce', '-t', '__consumer_offsets', '-k', 'boom', ...brokers], {input: 'x\n'})
    // PERMISSION_DENIED's own code, as for a refusal by an authorization rule: not a usage error's 2.
    expect(produced.code).to.equal(errorTable.PERMISSION_DENIED.exitCode).and.to.equal(10)
    expect(produced.stderr).to.match(/belong to the node/)
    expect(produced.stderr).to.match(/lignum consume --group/)
    const deleted = await runCli(['topics', 'delete', '__consumer_offsets', ...brokers])
    expect(deleted.code).to.equal(errorTable.PERMISSION_DENIED.exitCode)
    expect(deleted.stderr).to.match(/belong to the node/)
    expect(await server.stop()).to.equal(0)
    const again = await startServer({dataDir: server.dataDir})
    const listed = await runCli(['topics', 'list', '--brokers', again.grpcAddress])
    expect(listed.code).to.equal(0)
    expect(await again.stop()).to.equal(0)
  })

  it('starts on an offsets log holding records it cannot parse, and logs a warning', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-offsets-garbage-'))
    // Written by code straight into the offsets topic's segment, as a client's produce once could.
    const log = await PartitionLog.open(path.join(dataDir, '__consumer_offsets-0'), {flushPolicy: 'always'}, {logger: silentLogger})
    await log.append(encodeRecordBatch([{key: Buffer.from('boom'), value: Buffer.from('x')}]))
    await log.append(encodeRecordBatch([{key: Buffer.from('["g","t",0]'), value: Buffer.from('{"offset":3,"metadata":""}')}]))
    await log.close()
    const server = await startServer({dataDir})
    try {
      expect(server.logs()).to.match(/skipping a consumer group offset record that does not parse/)
      expect(server.logs()).to.match(/"level":"warn"/)
      // It serves: the record that parses is kept.
      const offsets = await runCli(['consume', '-t', '__consumer_offsets', '-e', '--format', '%s\\n', '--brokers', server.grpcAddress])
      expect(offsets.stdout).to.equal('x\n{"offset":3,"metadata":""}\n')
    } finally {
      expect(await server.stop()).to.equal(0)
    }
  })
})
