import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {awaitStableSplit, consoleGroupConsumer, describeGroup, TOOL_TIMEOUT_MS} from '../helpers/kafka-console-group.js'
import {requireKafkaTools, runKafkaTool, type KafkaTools, type ToolResult} from '../helpers/kafka-tools.js'
import {serverForSuite} from '../helpers/server.js'

const PARTITIONS = 3
const RECORDS = 30
const GROUP_COMMAND = 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand'
// Longer than the test holds the console consumer in the group; it is stopped by signal.
const MEMBER_IDLE_EXIT_MS = TOOL_TIMEOUT_MS
const POLL_MS = 500

interface DescribedRow {
  topic: string
  partition: number
  currentOffset: string
  logEndOffset: string
  lag: string
  consumerId: string
  clientId: string
}

/** The rows of `--describe --group` for `group`: GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID. */
function describedRows(stdout: string, group: string): DescribedRow[] {
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[0] === group && fields.length >= 9)
    .map(([, topic, partition, currentOffset, logEndOffset, lag, consumerId, , clientId]) => ({topic: topic!, partition: Number(partition), currentOffset: currentOffset!, logEndOffset: logEndOffset!, lag: lag!, consumerId: consumerId!, clientId: clientId!}))
    .sort((a, b) => a.partition - b.partition)
}

/** The rows under `--list --state`'s GROUP STATE header. */
function listedRows(stdout: string): string[][] {
  return stdout.split('\n').slice(1).map((line) => line.trim().split(/\s+/)).filter((fields) => fields[0] !== '')
}

describe("kafka listener: Kafka's ConsumerGroupCommand lists, describes and deletes groups", function () {
  this.timeout(TOOL_TIMEOUT_MS * 4)
  const suite = serverForSuite({args: ['--kafka-port', '0', '--node-id', 'n1']})
  let tools: KafkaTools
  const groupCommand = (...args: string[]): Promise<ToolResult> => runKafkaTool(tools, GROUP_COMMAND, ['--bootstrap-server', suite.server.kafkaAddress!, ...args])
  const lignumGroups = async (): Promise<string[]> => {
    const listed = await runCli(['groups', 'list', '--json', ...suite.brokers])
    expect(listed.code, listed.stderr).to.equal(0)
    return (JSON.parse(listed.stdout).groups as {group: string}[]).map((entry) => entry.group).sort()
  }

  before(async function () {
    tools = await requireKafkaTools(this)
  })

  it('--list and --describe show a group that committed, refuse to --delete it while a member lives, then delete it; lignum groups list agrees', async () => {
    const topic = 'audited'
    const group = 'auditors'
    const created = await runCli(['topics', 'create', topic, '--partitions', String(PARTITIONS), ...suite.brokers])
    expect(created.code, created.stderr).to.equal(0)
    const lines = Array.from({length: RECORDS}, (_, index) => `key-${index}|value ${index}`)
    const produced = await runCli(['produce', '-t', topic, '-K', '|', ...suite.brokers], {input: lines.join('\n') + '\n'})
    expect(produced.code, produced.stderr).to.equal(0)
    const consumed = await runCli(['consume', '-t', topic, '-G', group, '-e', ...suite.brokers])
    expect(consumed.code, consumed.stderr).to.equal(0)

    const listed = await groupCommand('--list')
    expect(listed.code, listed.stderr).to.equal(0)
    expect(listed.stdout.split('\n').filter(Boolean).sort(), '--list names what lignum groups list does').to.deep.equal(await lignumGroups())
    expect(await lignumGroups()).to.deep.equal([group])

    const idle = await groupCommand('--describe', '--group', group)
    expect(idle.code, idle.stderr).to.equal(0)
    expect(idle.stdout + idle.stderr, 'a group with offsets and no members').to.include(`Consumer group '${group}' has no active members.`)
    const idleRows = describedRows(idle.stdout, group)
    expect(idleRows.map((row) => row.partition)).to.deep.equal([0, 1, 2])
    expect(idleRows.every((row) => row.topic === topic && row.currentOffset === row.logEndOffset && row.lag === '0'), idle.stdout).to.equal(true)
    expect(idleRows.reduce((total, row) => total + Number(row.currentOffset), 0)).to.equal(RECORDS)

    const member = consoleGroupConsumer(tools, suite.server.kafkaAddress!, topic, group, MEMBER_IDLE_EXIT_MS)
    try {
      await awaitStableSplit(suite.brokers, group, topic, PARTITIONS, 1, TOOL_TIMEOUT_MS / 2)
      const live = await groupCommand('--describe', '--group', group)
      expect(live.code, live.stderr).to.equal(0)
      const liveRows = describedRows(live.stdout, group)
      const memberId = (await describeGroup(suite.brokers, group)).members[0]!.memberId
      expect(liveRows.map((row) => row.partition), live.stdout).to.deep.equal([0, 1, 2])
      expect(liveRows.every((row) => row.consumerId === memberId && row.clientId.startsWith('console-consumer')), `every partition held by the member, read from its assignment bytes:\n${live.stdout}`).to.equal(true)

      const stable = await groupCommand('--list', '--state', 'Stable')
      expect(listedRows(stable.stdout), 'ListGroups v4 filters by state').to.deep.equal([[group, 'Stable']])
      expect(listedRows((await groupCommand('--list', '--state', 'Empty')).stdout)).to.deep.equal([])

      const refused = await groupCommand('--delete', '--group', group)
      expect(refused.stdout + refused.stderr, 'a group with a live member is not deleted').to.include('GroupNotEmptyException: The group is not empty.')
      expect(await lignumGroups()).to.deep.equal([group])
    } finally {
      member.child.kill('SIGTERM')
      await member.done
    }

    await awaitEmpty(group)
    const deleted = await groupCommand('--delete', '--group', group)
    expect(deleted.code, deleted.stdout + deleted.stderr).to.equal(0)
    expect(deleted.stdout).to.include(`Deletion of requested consumer groups ('${group}') was successful.`)
    expect(await lignumGroups(), 'lignum groups list no longer has it').to.deep.equal([])
    expect((await groupCommand('--list')).stdout.trim()).to.equal('')

    const unknown = await groupCommand('--delete', '--group', group)
    expect(unknown.stdout + unknown.stderr, 'a deleted group is unknown').to.include('GroupIdNotFoundException')
    const gone = await groupCommand('--describe', '--group', group)
    expect(gone.stdout + gone.stderr, 'describing it says so').to.include(`Consumer group '${group}' does not exist.`)
  })

  async function awaitEmpty(group: string): Promise<void> {
    const deadline = Date.now() + TOOL_TIMEOUT_MS / 2
    while ((await describeGroup(suite.brokers, group)).members.length > 0) {
      if (Date.now() > deadline) throw new Error(`group ${group} kept its members after its consumer stopped`)
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
  }
})
