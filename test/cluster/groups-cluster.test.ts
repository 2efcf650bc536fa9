/**
 * `lignum groups` in cluster mode, with a real Consul and three real `lignum serve --consul`
 * processes, every command sent to one node while the group's coordinator (the leader of its
 * `__consumer_offsets` partition) is another: the listing gathers the groups of every
 * coordinator, describe and seek are forwarded to the coordinator, and a delete's tombstones
 * are replicated, so the new leader elected after the coordinator is killed does not bring the
 * group back.
 */
import {expect} from 'chai'
import {LignumClient} from '../../src/client/index.js'
import type {LignumError} from '../../src/errors.js'
import {groupOffsetsPartitionOf} from '../../src/broker/group-offsets.js'
import {GROUP_OFFSETS_PARTITIONS} from '../../src/server/group-coordinator.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import type {ServeProcess} from './serve-process.js'
import {SETTLE_MS, replicatedPartitions, startThreeNodes} from './three-nodes.js'
import {partitionStatesIn, printLogs} from './cluster-reads.js'

const CLUSTER = 'groups-admin-1'
const TOPIC = 'orders'
const PARTITIONS = 3
// Enough groups that every node coordinates some.
const GROUPS = Array.from({length: 12}, (_, index) => `team-${index}`)
// The CLI's exit code for a retriable error (UNAVAILABLE, NOT_LEADER): a leadership moving.
const RETRIABLE_EXIT_CODE = 5

describe('lignum groups in cluster mode (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  const consul = useConsul({kind: 'persistent', stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []

  afterEach(function () {
    if (this.currentTest?.state === 'failed') printLogs(nodes, 60)
  })

  /** The CLI through `node`, again while it exits with a retriable code. */
  function cliThrough(node: ServeProcess, args: string[]): Promise<CliResult> {
    return eventually(`lignum ${args.join(' ')} through ${node.nodeId}`, async () => {
      const result = await runCli([...args, '--brokers', node.address], {timeoutMs: 60_000})
      return result.code === RETRIABLE_EXIT_CODE ? undefined : result
    }, SETTLE_MS)
  }

  async function coordinatorsByGroup(): Promise<Map<string, string>> {
    const states = await eventually('every offsets partition with a leader', async () => {
      const read = await partitionStatesIn(consul().url, CLUSTER, '__consumer_offsets')
      return read.size === GROUP_OFFSETS_PARTITIONS && [...read.values()].every((state) => state.leader) ? read : undefined
    }, SETTLE_MS)
    return new Map(GROUPS.map((group) => [group, states.get(groupOffsetsPartitionOf(group, GROUP_OFFSETS_PARTITIONS))!.leader as string]))
  }

  it('lists every coordinator\'s groups, describes, seeks and deletes through a node that does not coordinate them; a new coordinator keeps the deletion', async () => {
    nodes = await startThreeNodes(consul().url, CLUSTER, 'g')
    await replicatedPartitions(nodes, consul().url, CLUSTER, TOPIC, PARTITIONS)
    const entry = nodes[0]!
    const produced = await runCli(['produce', '-t', TOPIC, '--acks', 'all', '-K', ':', '--brokers', entry.address], {input: Array.from({length: 30}, (_, index) => `key-${index}:value-${index}`).join('\n') + '\n', timeoutMs: 60_000})
    expect(produced.code, produced.stderr).to.equal(0)
    const client = await LignumClient.connect({brokers: entry.address})
    try {
      for (const [index, group] of GROUPS.entries()) {
        const offsets = Array.from({length: PARTITIONS}, (_, partition) => ({partition, offset: (index + partition) % 3}))
        await eventually(`group ${group}'s first commit`, () => client.commitOffsets(group, TOPIC, offsets).then(() => true, (error: LignumError) => {
          if (!error.retriable) throw error
          return undefined
        }), SETTLE_MS)
      }
    } finally {
      client.close()
    }
    const coordinators = await coordinatorsByGroup()
    expect(new Set(coordinators.values()).size, 'every node coordinates some group').to.equal(3)

    // The listing through one node holds every coordinator's groups, each naming its coordinator.
    const listed = await cliThrough(entry, ['groups', 'list', '--json'])
    expect(listed.code, listed.stderr).to.equal(0)
    const listings = (JSON.parse(listed.stdout) as {groups: {group: string; state: string; coordinator: string}[]}).groups
    expect(listings.map((listing) => [listing.group, listing.state, listing.coordinator])).to.deep.equal([...GROUPS].sort().map((group) => [group, 'Empty', coordinators.get(group)]))

    // A group another node coordinates: described, moved and deleted through the entry node.
    const group = GROUPS.find((name) => coordinators.get(name) !== entry.nodeId)!
    const coordinator = nodes.find((node) => node.nodeId === coordinators.get(group))!
    const bystander = nodes.find((node) => node !== entry && node !== coordinator)!
    const described = await cliThrough(entry, ['groups', 'describe', group, '--json'])
    expect(described.code, described.stderr).to.equal(0)
    const description = JSON.parse(described.stdout) as {coordinator: string; partitions: {partition: number; committedOffset: number; logEndOffset: number; lag: number}[]}
    expect(description.coordinator).to.equal(coordinator.nodeId)
    expect(description.partitions).to.have.length(PARTITIONS)
    const logEnds = description.partitions.map((row) => row.logEndOffset)
    expect(logEnds.reduce((sum, end) => sum + end, 0), 'log ends add up to what was produced').to.equal(30)
    for (const row of description.partitions) expect(row.lag).to.equal(Math.max(0, row.logEndOffset - row.committedOffset))

    const moved = await cliThrough(entry, ['groups', 'seek', group, '--to', 'end', '--json'])
    expect(moved.code, moved.stderr).to.equal(0)
    expect((JSON.parse(moved.stdout) as {changes: {offset: number}[]}).changes.map((change) => change.offset)).to.deep.equal(logEnds)
    const afterSeek = await cliThrough(bystander, ['groups', 'describe', group, '--json'])
    expect((JSON.parse(afterSeek.stdout) as {partitions: {lag: number}[]}).partitions.map((row) => row.lag), 'no lag after seeking to the end, seen through a third node').to.deep.equal([0, 0, 0])

    const deleted = await cliThrough(entry, ['groups', 'delete', group])
    expect(deleted.code, deleted.stderr).to.equal(0)
    expect(deleted.stdout.trim()).to.equal(`Deleted group ${group} (${PARTITIONS} committed offsets).`)

    // The coordinator dies; the new leader of the group's offsets partition reads the tombstones.
    await coordinator.killHard()
    const survivors = nodes.filter((node) => node !== coordinator)
    await eventually(`a new coordinator for ${group}`, async () => {
      const leader = (await partitionStatesIn(consul().url, CLUSTER, '__consumer_offsets')).get(groupOffsetsPartitionOf(group, GROUP_OFFSETS_PARTITIONS))?.leader
      return leader && leader !== coordinator.nodeId ? leader : undefined
    }, SETTLE_MS)
    for (const node of survivors) {
      const gone = await cliThrough(node, ['groups', 'describe', group])
      expect(gone.code, `describe ${group} through ${node.nodeId}: ${gone.stdout}${gone.stderr}`).to.equal(3)
      expect(gone.stderr.trim()).to.equal(`Error: consumer group "${group}" does not exist (no committed offsets, no live members); see: lignum groups list`)
    }
    const listedAfter = await cliThrough(survivors[0]!, ['groups', 'list', '--json'])
    expect(listedAfter.code, listedAfter.stderr).to.equal(0)
    expect((JSON.parse(listedAfter.stdout) as {groups: {group: string}[]}).groups.map((listing) => listing.group)).to.deep.equal(GROUPS.filter((name) => name !== group).sort())
  })
})
