/**
 * `lignum groups list | describe | seek | delete`, spawned as a user runs them, against a real
 * standalone node: offsets committed by `consume -G` are listed and described with their lag,
 * moved to the beginning, the end, an offset and a time (and a later `consume -G` resumes
 * there), deleted for good (still gone after the node restarts), with one-line errors and the
 * README's exit codes for an unknown group and a bad position.
 */
import {expect} from 'chai'
import {runCli} from '../../helpers/cli.js'
import {startServer, type RunningServer} from '../../helpers/server.js'

const TOPIC = 'orders'

describe('lignum groups (standalone node)', function () {
  this.timeout(120_000)
  let server: RunningServer
  let brokers: string[]

  before(async () => {
    server = await startServer()
    brokers = ['--brokers', server.grpcAddress]
    await cli(['topics', 'create', TOPIC, '--partitions', '2'])
    await produce(['p0-a', 'p0-b', 'p0-c'], 0)
    await produce(['p1-a', 'p1-b'], 1)
  })

  after(async () => {
    await server?.stop()
  })

  async function cli(args: string[], input?: string): Promise<string> {
    const result = await runCli([...args, ...brokers], {input})
    expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(0)
    return result.stdout
  }

  async function produce(values: string[], partition: number): Promise<void> {
    await cli(['produce', '-t', TOPIC, '--partition', String(partition)], values.map((value) => `${value}\n`).join(''))
  }

  /** What a `consume -G` member reads to the end (and commits). */
  async function consumeAsGroup(group: string): Promise<string[]> {
    return (await cli(['consume', '-t', TOPIC, '-G', group, '-e'])).split('\n').filter(Boolean).sort()
  }

  async function describe(group: string): Promise<{state: string; members: unknown[]; partitions: {topic: string; partition: number; committedOffset: number | null; logEndOffset: number | null; lag: number | null}[]}> {
    return JSON.parse(await cli(['groups', 'describe', group, '--json']))
  }

  it('lists and describes a group with its committed offsets, log end and lag', async () => {
    expect(await consumeAsGroup('readers')).to.have.length(5)
    await produce(['p1-c', 'p1-d'], 1)
    const listed = JSON.parse(await cli(['groups', 'list', '--json']))
    expect(listed.groups).to.deep.include({group: 'readers', state: 'Empty', memberCount: 0, coordinator: server.nodeId})
    const described = await describe('readers')
    expect(described.state).to.equal('Empty')
    expect(described.members).to.deep.equal([])
    expect(described.partitions.map((row) => [row.partition, row.committedOffset, row.logEndOffset, row.lag])).to.deep.equal([
      [0, 3, 3, 0],
      [1, 2, 4, 2],
    ])
    const text = await cli(['groups', 'describe', 'readers'])
    expect(text).to.match(/^Group readers: Empty, 0 member\(s\), coordinator \S+$/m)
    expect(text).to.match(/^orders\s+1\s+2\s+4\s+2\s+-\s+-\s+-$/m)
    expect(await cli(['groups', 'list'])).to.match(/^readers\s+Empty\s+0\s+\S+$/m)
  })

  it('seeks to the beginning, an offset of one partition, the end and a time, printing old → new', async () => {
    await consumeAsGroup('movers')
    const toStart = await cli(['groups', 'seek', 'movers', '--to', 'beginning'])
    expect(toStart).to.match(/^orders\s+0\s+3 → 0$/m).and.to.match(/^orders\s+1\s+4 → 0$/m).and.to.match(/Moved group movers on 2 partition\(s\)/)
    expect(await consumeAsGroup('movers')).to.have.length(7)

    const one = await cli(['groups', 'seek', 'movers', '--to', '1', '-t', `${TOPIC}:1`])
    expect(one).to.match(/^orders\s+1\s+4 → 1$/m).and.not.to.match(/^orders\s+0/m)
    expect(await consumeAsGroup('movers')).to.deep.equal(['p1-b', 'p1-c', 'p1-d'])

    const past = await runCli(['groups', 'seek', 'movers', '--to', '99', '-t', `${TOPIC}:0`, ...brokers])
    expect(past.code, past.stderr).to.equal(0)
    expect(past.stderr).to.match(/offset 99 is outside orders-0 \(0 to 3\): moving to 3/)

    const beforeLater = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 20))
    await produce(['p0-later'], 0)
    const byTime = JSON.parse(await cli(['groups', 'seek', 'movers', '--to', `@${beforeLater}`, '-t', TOPIC, '--json']))
    expect(byTime.changes).to.deep.equal([
      {topic: TOPIC, partition: 0, previousOffset: 3, offset: 3},
      {topic: TOPIC, partition: 1, previousOffset: 4, offset: 4},
    ])
    expect(await consumeAsGroup('movers')).to.deep.equal(['p0-later'])
    const byIsoTime = await cli(['groups', 'seek', 'movers', '--to', `@${new Date(0).toISOString()}`])
    expect(byIsoTime).to.match(/^orders\s+0\s+4 → 0$/m)
    await cli(['groups', 'seek', 'movers', '--to', 'end'])
    expect((await describe('movers')).partitions.map((row) => row.lag)).to.deep.equal([0, 0])
  })

  it('prints a dry run\'s plan and commits nothing', async () => {
    await consumeAsGroup('planners')
    const before = await describe('planners')
    const dry = await cli(['groups', 'seek', 'planners', '--to', 'beginning', '--dry-run'])
    expect(dry).to.match(/^orders\s+0\s+4 → 0$/m).and.to.match(/Dry run: nothing committed/)
    expect(await describe('planners')).to.deep.equal(before)
  })

  it('gives a new group offsets on the topics named with -t, and refuses without -t', async () => {
    const refused = await runCli(['groups', 'seek', 'newcomers', '--to', 'end', ...brokers])
    expect(refused.code).to.equal(3)
    expect(refused.stderr.trim()).to.equal('Error: consumer group "newcomers" does not exist (no committed offsets, no live members); to give a new group offsets, name the topics with -t TOPIC')
    const started = await cli(['groups', 'seek', 'newcomers', '--to', 'end', '-t', TOPIC])
    expect(started).to.match(/^orders\s+0\s+- → 4$/m)
  })

  it('answers unknown groups, bad positions and bad partitions with one line and the README\'s exit codes', async () => {
    for (const args of [['describe', 'ghosts'], ['delete', 'ghosts']]) {
      const result = await runCli(['groups', ...args, ...brokers])
      expect(result.code, args.join(' ')).to.equal(3)
      expect(result.stderr.trim()).to.equal('Error: consumer group "ghosts" does not exist (no committed offsets, no live members); see: lignum groups list')
    }
    const badTo = await runCli(['groups', 'seek', 'readers', '--to', 'yesterday', ...brokers])
    expect(badTo.code).to.equal(2)
    expect(badTo.stderr.trim().split('\n')).to.have.length(1)
    expect(badTo.stderr).to.match(/--to "yesterday" is not a position; use beginning, end, an offset/)
    const badPartition = await runCli(['groups', 'seek', 'readers', '--to', 'end', '-t', `${TOPIC}:7`, ...brokers])
    expect(badPartition.code).to.equal(2)
    expect(badPartition.stderr.trim()).to.equal('Error: topic "orders" has 2 partition(s), 0 to 1: there is no partition 7')
    const noTopic = await runCli(['groups', 'seek', 'readers', '--to', 'end', '-t', 'missing', ...brokers])
    expect(noTopic.code).to.equal(3)
    expect(noTopic.stderr).to.match(/topic "missing" does not exist/)
  })

  it('deletes a group for good: gone from list and describe, still gone after the node restarts', async () => {
    await consumeAsGroup('leavers')
    await consumeAsGroup('stayers')
    const deleted = await cli(['groups', 'delete', 'leavers'])
    expect(deleted.trim()).to.equal('Deleted group leavers (2 committed offsets).')
    const afterDelete = JSON.parse(await cli(['groups', 'list', '--json'])).groups.map((group: {group: string}) => group.group)
    expect(afterDelete).to.include('stayers').and.not.to.include('leavers')

    const {dataDir} = server
    expect(await server.stop()).to.equal(0)
    server = await startServer({dataDir})
    brokers = ['--brokers', server.grpcAddress]
    const afterRestart = JSON.parse(await cli(['groups', 'list', '--json'])).groups.map((group: {group: string}) => group.group)
    expect(afterRestart).to.include('stayers').and.not.to.include('leavers')
    expect((await runCli(['groups', 'describe', 'leavers', ...brokers])).code).to.equal(3)
    // A group deleted and used again starts afresh: from the beginning, not where it was.
    expect(await consumeAsGroup('leavers')).to.have.length(8)
  })
})
