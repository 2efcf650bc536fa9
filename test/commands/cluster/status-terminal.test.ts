import {expect} from 'chai'
import {runCli} from '../../helpers/cli.js'
import {startServer} from '../../helpers/server.js'
import {runOnTerminal} from '../../helpers/terminal.js'

describe('lignum cluster status on a terminal', function () {
  this.timeout(60_000)

  it('draws the partitions with their replicas and the health line, and exits 0 when healthy', async () => {
    const server = await startServer()
    try {
      await runCli(['produce', '-t', 'drawn', '--brokers', server.grpcAddress], {input: 'a\nb\n'})
      const terminal = runOnTerminal(['cluster', 'status', '--brokers', server.grpcAddress])
      expect(await terminal.exited, terminal.screen()).to.equal(0)
      // Without escape sequences: what a person reads.
      const screen = terminal.screen().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      expect(screen).to.match(new RegExp(`drawn\\s+0\\s+${server.nodeId}\\s+0\\s+${server.nodeId}\\s+${server.nodeId}\\s+1\\s+2\\s+online`))
      expect(screen).to.match(new RegExp(`drawn\\s+0\\s+${server.nodeId}\\s+leader\\s+2\\s+0`))
      expect(screen).to.include('healthy: 1 partition, none offline or under-replicated')
    } finally {
      await server.stop()
    }
  })
})
