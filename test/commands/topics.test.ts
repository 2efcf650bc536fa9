import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'

describe('lignum topics', function () {
  this.timeout(60_000)
  const suite = serverForSuite()

  it('creates, lists, describes and deletes topics, with --json', async () => {
    const created = await runCli(['topics', 'create', 'payments', '--partitions', '3', '--retention-ms', '-1', '--flush-policy', 'always', '--json', ...suite.brokers])
    expect(created.code, created.stderr).to.equal(0)
    expect(JSON.parse(created.stdout)).to.deep.include({name: 'payments', config: {retentionMs: -1, flushPolicy: 'always'}})
    await runCli(['produce', '-t', 'payments', '--partition', '1', ...suite.brokers], {input: 'p1\n'})
    const listed = JSON.parse((await runCli(['topics', 'list', '--json', ...suite.brokers])).stdout)
    expect(listed.topics.map((topic: {name: string}) => topic.name)).to.deep.equal(['payments'])
    const described = JSON.parse((await runCli(['topics', 'describe', 'payments', '--json', ...suite.brokers])).stdout)
    expect(described.partitions.map((partition: {logEndOffset: number}) => partition.logEndOffset)).to.deep.equal([0, 1, 0])
    expect(described.partitions[1].leader).to.equal(suite.server.nodeId)
    const text = await runCli(['topics', 'describe', 'payments', ...suite.brokers])
    expect(text.stdout).to.match(/^payments\s+1\s+\S+\s+0\s+1\s+1\s+1\s+\d+$/m)
    const deleted = await runCli(['topics', 'delete', 'payments', ...suite.brokers])
    expect(deleted.code).to.equal(0)
    expect((await runCli(['topics', 'list', ...suite.brokers])).stdout).to.match(/No topics yet/)
  })

  it('refuses duplicates, bad names and unknown topics with one line and a non-zero exit', async () => {
    await runCli(['topics', 'create', 'once', ...suite.brokers])
    const again = await runCli(['topics', 'create', 'once', ...suite.brokers])
    expect(again.code).to.equal(3)
    expect(again.stderr.trim()).to.equal('Error: topic "once" already exists')
    const bad = await runCli(['topics', 'create', 'bad/name', ...suite.brokers])
    expect(bad.code).to.equal(2)
    expect(bad.stderr.trim().split('\n')).to.have.length(1)
    const missing = await runCli(['topics', 'describe', 'missing', ...suite.brokers])
    expect(missing.code).to.equal(3)
    expect(missing.stderr).to.match(/topic "missing" does not exist/)
    const tooMany = await runCli(['topics', 'create', 'wide', '--partitions', '5000', ...suite.brokers])
    expect(tooMany.code).to.equal(2)
    expect(tooMany.stderr).to.match(/1 to 1024 partitions/)
  })
})
