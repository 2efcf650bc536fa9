import {expect} from 'chai'
import {runCli} from '../../helpers/cli.js'
import {startServer} from '../../helpers/server.js'

describe('lignum cluster status (standalone node)', function () {
  this.timeout(60_000)

  it('shows the node as controller, its topics, partitions and offsets', async () => {
    const server = await startServer()
    try {
      await runCli(['produce', '-t', 'status-topic', '--brokers', server.grpcAddress], {input: 'a\nb\nc\n'})
      const json = await runCli(['cluster', 'status', '--json', '--brokers', server.grpcAddress])
      expect(json.code, json.stderr).to.equal(0)
      const status = JSON.parse(json.stdout)
      expect(status).to.include({mode: 'standalone', controller: server.nodeId, node: server.nodeId})
      expect(status.nodes).to.deep.equal([{id: server.nodeId, address: server.grpcAddress, status: 'up', version: status.nodes[0].version}])
      expect(status.topics).to.have.length(1)
      expect(status.topics[0].partitions[0]).to.include({partition: 0, leader: server.nodeId, logStartOffset: 0, logEndOffset: 3, highWatermark: 3})
      const text = await runCli(['cluster', 'status', '--brokers', server.grpcAddress])
      expect(text.stdout).to.match(new RegExp(`^status-topic\\s+0\\s+${server.nodeId}\\s+0\\s+3\\s+3\\s+1\\s+\\d+$`, 'm'))
    } finally {
      await server.stop()
    }
  })
})
