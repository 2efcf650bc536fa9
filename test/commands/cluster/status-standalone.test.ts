import {expect} from 'chai'
import {runCli} from '../../helpers/cli.js'
import {startServer} from '../../helpers/server.js'

describe('lignum cluster status (standalone node)', function () {
  this.timeout(60_000)

  it('shows the node as controller, its topics, partitions and offsets, and leading every partition alone, healthy', async () => {
    const server = await startServer()
    try {
      await runCli(['produce', '-t', 'status-topic', '--brokers', server.grpcAddress], {input: 'a\nb\nc\n'})
      const json = await runCli(['cluster', 'status', '--json', '--brokers', server.grpcAddress])
      expect(json.code, json.stderr).to.equal(0)
      const status = JSON.parse(json.stdout)
      expect(status).to.include({mode: 'standalone', controller: server.nodeId, node: server.nodeId})
      expect(status.nodes).to.deep.equal([{id: server.nodeId, address: server.grpcAddress, status: 'up', version: status.nodes[0].version, damagedReplicas: [], unverifiedReplicas: []}])
      expect(status.topics).to.have.length(1)
      expect(status.topics[0].partitions[0]).to.include({partition: 0, leader: server.nodeId, logStartOffset: 0, logEndOffset: 3, highWatermark: 3})
      // It leads every partition alone: its replica is the ISR, and it is healthy.
      expect(status.partitions).to.deep.equal([{
        topic: 'status-topic', partition: 0, leader: server.nodeId, leaderEpoch: 0, replicas: [server.nodeId], isr: [server.nodeId], minInsyncReplicas: 1,
        leaderState: 'online', reason: null, highWatermark: 3, logEndOffset: 3,
        replicaStatus: [{node: server.nodeId, inSync: true, logEndOffset: 3, lagRecords: 0, caughtUpAgoMs: 0, storage: 'verified'}],
      }])
      expect(status.health).to.deep.include({healthy: true, partitionCount: 1})
      const text = await runCli(['cluster', 'status', '--brokers', server.grpcAddress])
      expect(text.code, text.stderr).to.equal(0)
      expect(text.stdout).to.match(new RegExp(`^status-topic\\s+0\\s+${server.nodeId}\\s+0\\s+3\\s+3\\s+1\\s+\\d+$`, 'm'))
      expect(text.stdout.trimEnd().split('\n').at(-1)).to.equal('healthy: 1 partition, none offline or under-replicated')

      const waited = await runCli(['cluster', 'status', '--wait-healthy', '--timeout', '5s', '--brokers', server.grpcAddress])
      expect(waited.code, waited.stderr).to.equal(0)
    } finally {
      await server.stop()
    }
  })
})
