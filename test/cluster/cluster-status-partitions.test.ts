/**
 * `lignum cluster status` per partition, with a real Consul and three real `lignum serve
 * --consul` processes on loopback (a topic of 3 partitions, RF 3, min ISR 2): every node
 * answers with the same leaders, epochs, replicas and ISRs; high watermarks and each replica's
 * log end offset come from the leaders; a frozen node makes the command exit non-zero naming
 * the partitions it left under-replicated (its own led one too, once it was moved to the next
 * in-sync replica); --wait-healthy waits for the
 * thaw and rejoin, or gives up at its timeout with a one-line reason.
 */
import {spawn} from 'node:child_process'
import {expect} from 'chai'
import {LignumClient} from '../../src/client/index.js'
import {errorTable} from '../../src/errors.js'
import type {ClusterStatus} from '../../src/ui/cluster-status-table.js'
import {lignumBin, repoRoot, runCli, type CliResult} from '../helpers/cli.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import {ServeProcess} from './serve-process.js'
import {printLogs, type StoredState} from './cluster-reads.js'

const SESSION_TTL_MS = 3_000
const LOCK_DELAY_MS = 1_000
const REPLICA_LAG_MAX_MS = 2_000
// Room on a loaded 2-core machine for processes to start and Consul to answer.
const SETTLE_MS = 60_000
const CLUSTER = 'status-partitions'
const TOPIC = 'statused'
const PARTITIONS = 3
const RECORDS_PER_PARTITION = 100

describe('lignum cluster status per partition (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  const consul = useConsul({kind: 'persistent', stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []
  let states: Map<number, StoredState>

  before(async function () {
    this.timeout(180_000)
    nodes = await Promise.all(
      ['n1', 'n2', 'n3'].map((nodeId) =>
        ServeProcess.start({consulUrl: consul().url, cluster: CLUSTER, nodeId, sessionTtlMs: SESSION_TTL_MS, lockDelayMs: LOCK_DELAY_MS, env: {LIGNUM_REPLICA_LAG_MAX_MS: String(REPLICA_LAG_MAX_MS)}}),
      ),
    )
    await eventually('a controller with all three nodes up', async () => {
      const status = await nodes[0]!.status()
      return status.controller !== null && status.nodes.filter((node) => node.status === 'up').length === 3 ? true : undefined
    }, SETTLE_MS)
    const created = await runCli(['topics', 'create', TOPIC, '--partitions', String(PARTITIONS), '--replication-factor', '3', '--min-insync-replicas', '2', '--brokers', nodes[0]!.address, '--json'])
    expect(created.code, created.stderr).to.equal(0)
    states = await eventually('the catalog to hold every partition', async () => {
      const read = await partitionStates()
      return read.size === PARTITIONS ? read : undefined
    }, SETTLE_MS)
    await eventually('every replica to apply its state', async () => {
      for (const [partition, state] of states) {
        for (const node of nodes) {
          const expected = node.nodeId === state.leader ? 'leading' : 'following'
          if (!node.logged('partition state applied').some((line) => line.topic === TOPIC && line.partition === partition && line.outcome === expected)) return undefined
        }
      }
      return true
    }, SETTLE_MS)
  })

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      printLogs(nodes, 40)
    }
  })

  async function partitionStates(): Promise<Map<number, StoredState>> {
    const response = await fetch(`${consul().url}/v1/kv/lignum/${CLUSTER}/partitions/${TOPIC}/?recurse`)
    const read = new Map<number, StoredState>()
    if (response.status === 404) return read
    for (const entry of (await response.json()) as {Key: string; Value: string}[]) {
      read.set(Number(entry.Key.split('/').pop()), JSON.parse(Buffer.from(entry.Value, 'base64').toString('utf8')) as StoredState)
    }
    return read
  }

  /** Each partition's roles as the catalog holds them now. */
  async function catalogRoles(): Promise<{topic: string; partition: number; leader: string | null; leaderEpoch: number; replicas: string[]; isr: string[]}[]> {
    return [...(await partitionStates())].sort(([left], [right]) => left - right).map(([partition, state]) => ({topic: TOPIC, partition, leader: state.leader, leaderEpoch: state.leaderEpoch, replicas: state.replicas, isr: state.isr}))
  }

  function nodeById(id: string): ServeProcess {
    const node = nodes.find((candidate) => candidate.nodeId === id)
    if (!node) throw new Error(`no node ${id}`)
    return node
  }

  /** acks=all records to the partition through its leader (the client does not route yet); the last offset acknowledged. */
  async function produceToLeader(partition: number, count: number): Promise<number> {
    const client = await LignumClient.connect({brokers: nodeById(states.get(partition)!.leader!).address})
    try {
      const producer = client.producer({acks: 'all'})
      const sent = []
      for (let index = 0; index < count; index++) sent.push(producer.send(TOPIC, {partition, value: Buffer.from(`p${partition}-${index}`)}))
      const acknowledged = await Promise.all(sent)
      await producer.close()
      return acknowledged.at(-1)!.offset
    } finally {
      client.close()
    }
  }

  async function statusJson(node: ServeProcess, extra: string[] = []): Promise<{result: CliResult; status: ClusterStatus}> {
    const result = await runCli(['cluster', 'status', '--json', '--brokers', node.address, ...extra], {timeoutMs: 90_000})
    return {result, status: JSON.parse(result.stdout) as ClusterStatus}
  }

  const name = (partition: number) => `${TOPIC}-${partition}`

  it('every node reports the same leaders, epochs, replicas and ISRs, and the leaders\' high watermarks and replica log end offsets', async () => {
    for (const partition of states.keys()) expect(await produceToLeader(partition, RECORDS_PER_PARTITION)).to.equal(RECORDS_PER_PARTITION - 1)
    for (const node of nodes) {
      // On a loaded machine a follower may briefly fall out of the ISR (the lag bound is 2 s):
      // each node is asked until it is healthy, and its roles must be the catalog's, unchanged meanwhile.
      const {status} = await eventually(`a healthy status from ${node.nodeId} with the catalog's roles`, async () => {
        const before = await catalogRoles()
        const answer = await statusJson(node, ['--wait-healthy', '--timeout', '60s'])
        expect(answer.result.code, `${node.nodeId}: ${answer.result.stderr}`).to.equal(0)
        const after = await catalogRoles()
        const roles = answer.status.partitions.map(({topic, partition, leader, leaderEpoch, replicas, isr}) => ({topic, partition, leader, leaderEpoch, replicas, isr}))
        if (JSON.stringify(before) !== JSON.stringify(after)) return undefined
        expect(roles, `roles as ${node.nodeId} reports them`).to.deep.equal(after)
        return answer
      }, SETTLE_MS)
      for (const entry of status.partitions) {
        expect(entry.leaderState, `${name(entry.partition)} from ${node.nodeId}`).to.equal('online')
        expect(entry.highWatermark, `high watermark of ${name(entry.partition)}`).to.equal(RECORDS_PER_PARTITION)
        expect(entry.logEndOffset).to.equal(RECORDS_PER_PARTITION)
        // Every replica in the ISR holds what the high watermark covers; nothing was written since.
        expect(entry.replicaStatus.map((replica) => [replica.node, replica.logEndOffset, replica.lagRecords])).to.deep.equal(entry.replicas.map((replica) => [replica, RECORDS_PER_PARTITION, 0]))
      }
      expect(status.health).to.deep.include({healthy: true, partitionCount: PARTITIONS, underReplicated: [], offline: [], unknown: []})
    }
    const plain = await runCli(['cluster', 'status', '--wait-healthy', '--timeout', '60s', '--brokers', nodes[1]!.address], {timeoutMs: 90_000})
    expect(plain.code, plain.stderr).to.equal(0)
    const [partition, state] = [...(await partitionStates())][0]!
    expect(plain.stdout).to.match(new RegExp(`^${TOPIC}\\s+${partition}\\s+${state.leader}\\s+${state.leaderEpoch}\\s+${state.replicas.join(',')}\\s+${state.isr.join(',')}\\s+2\\s+${RECORDS_PER_PARTITION}\\s+online$`, 'm'))
    expect(plain.stdout.trimEnd().split('\n').at(-1)).to.equal(`healthy: ${PARTITIONS} partitions, none offline or under-replicated`)
  })

  it('a frozen node: exits non-zero naming the under-replicated partitions, its led one moved to another leader; --wait-healthy gives up at its timeout, or returns 0 once it is thawed and back in every ISR', async () => {
    const frozenPartition = [...states.keys()][0]!
    const frozen = nodeById(states.get(frozenPartition)!.leader!)
    const others = [...states.keys()].filter((partition) => partition !== frozenPartition)
    const asked = nodes.find((node) => node !== frozen)!

    frozen.signal('SIGSTOP')
    const waiting = startCli(['cluster', 'status', '--wait-healthy', '--timeout', '60s', '--json', '--brokers', asked.address])
    // A follower at the leader's end stays in sync however long it is silent: writes it misses make it lag.
    for (const partition of others) expect(await produceToLeader(partition, 10)).to.equal(RECORDS_PER_PARTITION + 9)
    for (const partition of others) expect((await partitionStates()).get(partition)!.isr, `ISR of ${name(partition)}`).to.not.include(frozen.nodeId)

    // Past its session's TTL the controller moves its partition to the next in-sync replica,
    // which leads without it: every partition is then under-replicated, none offline.
    await eventually(`a new leader of ${name(frozenPartition)}`, async () => {
      const state = (await partitionStates()).get(frozenPartition)!
      return state.leader !== null && state.leader !== frozen.nodeId ? state : undefined
    }, SETTLE_MS)
    const askedAtMs = Date.now()
    const {result, status} = await statusJson(asked)
    console.log(`      status with a frozen node took ${Date.now() - askedAtMs} ms`)
    expect(result.code, result.stderr).to.equal(errorTable.UNDER_REPLICATED.exitCode)
    const all = [...states.keys()].sort((left, right) => left - right)
    expect(status.health.underReplicated).to.deep.equal(all.map(name))
    expect([...status.health.offline, ...status.health.unknown]).to.deep.equal([])
    for (const partition of others) {
      const entry = status.partitions.find((candidate) => candidate.partition === partition)!
      expect(entry.leaderState).to.equal('online')
      const lagging = entry.replicaStatus.find((replica) => replica.node === frozen.nodeId)!
      expect(lagging, `${frozen.nodeId} in ${name(partition)}`).to.deep.include({inSync: false, logEndOffset: RECORDS_PER_PARTITION, lagRecords: 10})
    }
    const lines = result.stderr.trimEnd().split('\n')
    expect(lines, result.stderr).to.have.length(1)
    // --json: the error is a JSON line on stderr.
    const shown = JSON.parse(lines[0]!) as {error: {code: string; message: string}}
    expect(shown.error.code).to.equal('UNDER_REPLICATED')
    expect(shown.error.message).to.match(new RegExp(`3 under-replicated \\(${all.map(name).join(', ')}\\)`))

    const givenUp = await runCli(['cluster', 'status', '--wait-healthy', '--timeout', '2s', '--brokers', asked.address], {timeoutMs: 60_000})
    expect(givenUp.code, givenUp.stderr).to.equal(errorTable.UNDER_REPLICATED.exitCode)
    expect(givenUp.stderr.trimEnd().split('\n'), givenUp.stderr).to.have.length(1)
    expect(givenUp.stderr).to.match(/^Error: still unhealthy after 2s: .*under-replicated/)
    expect(givenUp.stdout).to.match(/^unhealthy: /m)

    expect(waiting.exitCode(), '--wait-healthy still waiting while the node is frozen').to.equal(null)
    frozen.signal('SIGCONT')
    const thawedAtMs = Date.now()
    const waited = await waiting.done
    console.log(`      --wait-healthy returned ${Date.now() - thawedAtMs} ms after the thaw`)
    expect(waited.code, waited.stderr).to.equal(0)
    const healthy = JSON.parse(waited.stdout) as ClusterStatus
    expect(healthy.health).to.deep.include({healthy: true, underReplicated: [], offline: [], unknown: []})
    for (const entry of healthy.partitions) expect([...entry.isr].sort(), `ISR of ${name(entry.partition)}`).to.deep.equal(['n1', 'n2', 'n3'])
  })
})

/** The CLI in the background: its exit code while it runs (null), and its output once done. */
function startCli(args: string[]): {exitCode(): number | null; done: Promise<CliResult>} {
  const child = spawn(process.execPath, [lignumBin, ...args], {cwd: repoRoot, env: {...process.env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
  const stdout: Buffer[] = []
  const stderr: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
  const done = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => resolve({code, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8')}))
  })
  return {exitCode: () => child.exitCode, done}
}
