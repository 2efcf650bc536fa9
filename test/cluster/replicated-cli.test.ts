/**
 * The client and the CLI against a replicated cluster: a real Consul and three real
 * `lignum serve --consul` processes on loopback, topics of 3 partitions with replication
 * factor 3 and min ISR 2. A client bootstrapped from any one node sends each partition's
 * traffic to its leader; `--replica any` reads from the in-sync follower on the node the
 * client reached (KIP-392), below that follower's high watermark; a consumer of a leader whose
 * follower is frozen sees nothing at or past the high watermark.
 */
import {expect} from 'chai'
import http from 'node:http'
import {WireClient, type RecordChunk} from '../../src/client/index.js'
import {Connection} from '../../src/client/connection.js'
import type {LignumError} from '../../src/errors.js'
import {ReadReplica} from '../../src/generated/lignum/v1/lignum.js'
import {runCli} from '../helpers/cli.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import {ServeProcess} from './serve-process.js'
import {partitionStatesIn, printLogs, type DumpedBatch} from './cluster-reads.js'

const CLUSTER = 'replicated-cli'
const SESSION_TTL_MS = 3_000
const LOCK_DELAY_MS = 1_000
const REPLICA_LAG_MAX_MS = 2_000
// Room on a loaded 2-core machine for processes to start and Consul to answer.
const SETTLE_MS = 60_000
const PARTITIONS = 3
const MUST_SHOW_RECORDS = 100_000
// Small batches: every partition gets many (the sticky partitioner moves on per batch), and the
// replicas are compared batch by batch.
const CLI_BATCH_BYTES = 16 * 1024
const CLI_TIMEOUT_MS = 120_000

interface StoredState {
  replicas: string[]
  leader: string | null
  isr: string[]
}

interface Line {
  partition: number
  offset: number
  value: string
}

describe('the client and CLI against replicated partitions (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  const consul = useConsul({kind: 'persistent', stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []

  before(async function () {
    this.timeout(180_000)
    nodes = await Promise.all(
      ['n1', 'n2', 'n3'].map((nodeId) =>
        ServeProcess.start({consulUrl: consul().url, cluster: CLUSTER, nodeId, sessionTtlMs: SESSION_TTL_MS, lockDelayMs: LOCK_DELAY_MS, env: {LIGNUM_REPLICA_LAG_MAX_MS: String(REPLICA_LAG_MAX_MS)}}),
      ),
    )
    await clusterSettled()
  })

  async function clusterSettled(): Promise<void> {
    await eventually('a controller with all three nodes up', async () => {
      const status = await nodes[0]!.status()
      return status.controller !== null && status.nodes.filter((node) => node.status === 'up').length === 3 ? true : undefined
    }, SETTLE_MS)
  }

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      printLogs(nodes, 30)
    }
  })

  async function partitionStates(topic: string): Promise<Map<number, StoredState>> {
    return partitionStatesIn(consul().url, CLUSTER, topic)
  }

  function nodeById(id: string | null): ServeProcess {
    const node = nodes.find((candidate) => candidate.nodeId === id)
    if (!node) throw new Error(`no node ${id}`)
    return node
  }

  /** Creates the topic through `through` and waits until every replica took its role with the full ISR. */
  async function replicatedTopic(topic: string, through: ServeProcess): Promise<Map<number, StoredState>> {
    const created = await runCli(['topics', 'create', topic, '--partitions', String(PARTITIONS), '--replication-factor', '3', '--min-insync-replicas', '2', '--brokers', through.address, '--json'])
    expect(created.code, created.stderr).to.equal(0)
    const states = await eventually(`the catalog to hold every partition of ${topic}`, async () => {
      const read = await partitionStates(topic)
      return read.size === PARTITIONS ? read : undefined
    }, SETTLE_MS)
    await eventually(`every replica of ${topic} to apply its state`, async () => {
      for (const [partition, state] of states) {
        for (const node of nodes) {
          const expected = node.nodeId === state.leader ? 'leading' : 'following'
          if (!node.logged('partition state applied').some((line) => line.topic === topic && line.partition === partition && line.outcome === expected)) return undefined
        }
      }
      return true
    }, SETTLE_MS)
    return states
  }

  /** `lignum consume -e` through `node`, as partition, offset and value per line. */
  async function consumeThrough(node: ServeProcess, topic: string, extra: string[] = []): Promise<Line[]> {
    const consumed = await runCli(['consume', '-t', topic, '-e', '--format', '%p %o %s\\n', '--brokers', node.address, ...extra], {timeoutMs: CLI_TIMEOUT_MS})
    expect(consumed.code, consumed.stderr).to.equal(0)
    return consumed.stdout.split('\n').filter(Boolean).map((line) => {
      const [partition, offset, value] = line.split(' ')
      return {partition: Number(partition), offset: Number(offset), value: value!}
    })
  }

  /** Every value of 0..count-1 once; in each partition, offsets from 0 without gaps and values in the order produced. */
  function expectAllInOrder(lines: Line[], count: number, what: string): void {
    expect(lines.length, `${what}: records`).to.equal(count)
    const byPartition = new Map<number, Line[]>()
    for (const line of lines) {
      const inPartition = byPartition.get(line.partition)
      if (inPartition) inPartition.push(line)
      else byPartition.set(line.partition, [line])
    }
    expect(byPartition.size, `${what}: partitions with records`).to.equal(PARTITIONS)
    for (const [partition, inPartition] of byPartition) {
      expect(inPartition.map((line) => line.offset), `${what}: offsets of partition ${partition}`).to.deep.equal(inPartition.map((_, index) => index))
      const indexes = inPartition.map((line) => Number(line.value.slice(2)))
      expect(indexes.every((value, index) => index === 0 || value > indexes[index - 1]!), `${what}: partition ${partition} in produce order`).to.equal(true)
    }
    const values = new Set(lines.map((line) => line.value))
    expect(values.size, `${what}: distinct values`).to.equal(count)
  }

  /** A fresh connection each time: fetch's pooled keep-alive socket may be one the node already closed. */
  function metricsOf(node: ServeProcess): Promise<string> {
    return new Promise((resolve, reject) => {
      const request = http.get({host: '127.0.0.1', port: node.httpPort, path: '/metrics', agent: false}, (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (text += chunk))
        response.on('end', () => resolve(text))
      })
      request.on('error', reject)
    })
  }

  function inputLines(count: number): string {
    return Array.from({length: count}, (_, index) => `r-${index}\n`).join('')
  }

  async function fetchBytesServed(node: ServeProcess, topic: string): Promise<number> {
    const text = await metricsOf(node)
    const line = text.split('\n').find((entry) => entry.startsWith(`lignum_fetch_bytes_total{topic="${topic}"}`))
    return line ? Number(line.split(' ').pop()) : 0
  }

  it('routes each partition to its leader for a client that knows only a follower; a follower refuses leader reads and serves in-sync ones', async () => {
    const topic = 'routed'
    const states = await replicatedTopic(topic, nodes[0]!)
    const [partition, state] = [...states][0]!
    const follower = nodes.find((node) => node.nodeId !== state.leader)!
    const count = 3_000

    const produced = await runCli(['produce', '-t', topic, '--acks', 'all', '--batch-size', '1024', '--delivery-timeout-ms', '20000', '--brokers', follower.address], {input: inputLines(count), timeoutMs: CLI_TIMEOUT_MS})
    expect(produced.code, produced.stderr).to.equal(0)
    expectAllInOrder(await consumeThrough(follower, topic), count, `consumed through ${follower.nodeId}`)

    // KIP-392 on the server: a read from the follower names the replica it accepts.
    const connection = new Connection(follower.address)
    try {
      const read = (replica: ReadReplica) => connection.call(connection.grpc.fetch, {topic, partition, offset: 0n, maxBytes: 0, maxWaitMs: 0, decode: false, replica})
      const refused = await read(ReadReplica.READ_REPLICA_LEADER).then(() => undefined, (error: LignumError) => error)
      expect(refused?.code, `a leader read on a follower: ${refused?.message}`).to.equal('NOT_LEADER')
      const served = await eventually('the follower to serve an in-sync read', async () => {
        const answer = await read(ReadReplica.READ_REPLICA_IN_SYNC)
        return answer.recordBatches.length > 0 ? answer : undefined
      }, SETTLE_MS)
      expect(Number(served.nextOffset)).to.be.at.most(Number(served.highWatermark))
    } finally {
      connection.close()
    }
  })

  it('never shows a consumer of the leader an offset at or past the leader\'s high watermark while a follower is frozen', async () => {
    const topic = 'lagging'
    const states = await replicatedTopic(topic, nodes[1]!)
    const [partition, state] = [...states][0]!
    const leader = nodeById(state.leader)
    const frozen = nodes.find((node) => node.nodeId !== state.leader)!
    const committedFirst = 200
    const appendedWhileFrozen = 2_000
    const total = committedFirst + appendedWhileFrozen

    const client = await WireClient.connect({brokers: leader.address})
    const stop = new AbortController()
    try {
      const strict = client.producer({acks: 'all'})
      await Promise.all(Array.from({length: committedFirst}, (_, index) => strict.send(topic, {partition, value: `c-${index}`})))
      await strict.close()

      // A consumer of the leader, subscribed throughout.
      const highWatermark = async () => Number((await client.connection.call(client.connection.grpc.listOffsets, {topic, partition, timestamp: -1n})).offset)
      const seen: {offset: number; highWatermark: number}[] = []
      const consumed = (async () => {
        for await (const chunk of client.consumeChunks({topic, partitions: [partition], from: 'beginning', signal: stop.signal}) as AsyncGenerator<RecordChunk>) {
          const offsets = Array.from({length: chunk.count}, (_, index) => chunk.offsetAt(index))
          chunk.release()
          // The leader's high watermark never moves back: one read after the chunk arrived is at
          // least the one it was served under.
          const reported = await highWatermark()
          for (const offset of offsets) seen.push({offset, highWatermark: reported})
          if (seen.length >= total) return
        }
      })()
      await eventually('the consumer to read the committed records', async () => (seen.length >= committedFirst ? true : undefined), SETTLE_MS)

      // acks=1: appended on the leader at once, committed only once the frozen follower is out
      // of the ISR. The first write comes right after the freeze, inside the lag bound.
      const loose = client.producer({acks: 1})
      await loose.send(topic, {partition, value: 'w-0'})
      frozen.signal('SIGSTOP')
      await loose.send(topic, {partition, value: 'w-1'})
      const described = (await client.describeTopic(topic)).partitions[partition]!
      const seenInWindow = seen.map((entry) => entry.offset)
      const windowHighWatermark = Number(described.highWatermark)
      expect(Number(described.logEndOffset), 'records on the leader').to.equal(committedFirst + 2)
      expect(windowHighWatermark, 'the high watermark held back by the frozen follower').to.be.below(committedFirst + 2)
      expect(Math.max(...seenInWindow), 'the last offset seen while the high watermark is held back').to.be.below(windowHighWatermark)

      await Promise.all(Array.from({length: appendedWhileFrozen - 2}, (_, index) => loose.send(topic, {partition, value: `w-${index + 2}`})))
      await loose.close()
      await consumed
      const above = seen.filter((entry) => entry.offset >= entry.highWatermark)
      expect(above, 'offsets at or past the high watermark the leader reported').to.deep.equal([])
      expect(seen.map((entry) => entry.offset)).to.deep.equal(Array.from({length: total}, (_, index) => index))
      expect((await partitionStates(topic)).get(partition)!.isr, 'ISR once the high watermark moved on').to.not.include(frozen.nodeId)
    } finally {
      stop.abort()
      frozen.signal('SIGCONT')
      client.close()
    }
    await eventually(`${frozen.nodeId} to rejoin the ISR of ${topic}-${partition}`, async () => {
      const isr = (await partitionStates(topic)).get(partition)!.isr
      return isr.length === 3 ? isr : undefined
    }, SETTLE_MS)
    // A frozen controller loses its session: the next topic is created once one is elected again.
    await clusterSettled()
  })

  it('must show 1: 100,000 records from `lignum produce --acks all` through one node are read in order from each node with --replica any; the replicas hold identical batches', async () => {
    const topic = 'replicated'
    const states = await replicatedTopic(topic, nodes[2]!)
    let stepMs = Date.now()
    const produced = await runCli(['produce', '-t', topic, '--acks', 'all', '--batch-size', String(CLI_BATCH_BYTES), '--stats', '--brokers', nodes[0]!.address], {input: inputLines(MUST_SHOW_RECORDS), timeoutMs: CLI_TIMEOUT_MS})
    expect(produced.code, produced.stderr).to.equal(0)
    console.log(`      produce: ${Date.now() - stepMs} ms; ${produced.stderr.trim()}`)

    const leaderView = new Map<number, {highWatermark: number; sizeBytes: number}>()
    for (const [partition, state] of states) {
      const client = await WireClient.connect({brokers: nodeById(state.leader).address})
      try {
        const described = (await client.describeTopic(topic)).partitions[partition]!
        leaderView.set(partition, {highWatermark: Number(described.highWatermark), sizeBytes: Number(described.sizeBytes)})
      } finally {
        client.close()
      }
    }
    const topicBytes = [...leaderView.values()].reduce((sum, view) => sum + view.sizeBytes, 0)

    for (const node of nodes) {
      const servedBefore = await fetchBytesServed(node, topic)
      stepMs = Date.now()
      expectAllInOrder(await consumeThrough(node, topic, ['--replica', 'any']), MUST_SHOW_RECORDS, `consumed from ${node.nodeId} with --replica any`)
      console.log(`      consume from ${node.nodeId}: ${Date.now() - stepMs} ms`)
      // Each node is in every ISR, so it served all three partitions itself, not only the one it leads.
      expect(await fetchBytesServed(node, topic) - servedBefore, `bytes ${node.nodeId} served`).to.be.at.least(topicBytes)
    }

    stepMs = Date.now()
    await Promise.all(nodes.map((node) => node.stop()))
    console.log(`      stop: ${Date.now() - stepMs} ms`)
    stepMs = Date.now()
    const dumps = await Promise.all(nodes.map(async (node) => {
      const inspected = await runCli(['segments', 'inspect', '--data-dir', node.dataDir, '--topic', topic, '--dump', '--json'], {timeoutMs: CLI_TIMEOUT_MS})
      expect(inspected.code, inspected.stderr).to.equal(0)
      return JSON.parse(inspected.stdout) as {partitions: {partition: number; segments: {batches: DumpedBatch[]}[]}[]}
    }))
    console.log(`      inspect: ${Date.now() - stepMs} ms`)
    for (const [partition, view] of leaderView) {
      const copies = dumps.map((dump) => dump.partitions.find((stored) => stored.partition === partition)!.segments
        .flatMap((segment) => segment.batches)
        .filter((batch) => batch.lastOffset < view.highWatermark)
        .map(({baseOffset, lastOffset, crc, partitionLeaderEpoch}) => ({baseOffset, lastOffset, crc, partitionLeaderEpoch})))
      expect(copies[0]!.length, `batches of partition ${partition}`).to.be.greaterThan(1)
      expect(copies[0]!.at(-1)!.lastOffset, `last offset below the high watermark of partition ${partition}`).to.equal(view.highWatermark - 1)
      expect(copies[1], `partition ${partition} on ${nodes[1]!.nodeId}`).to.deep.equal(copies[0])
      expect(copies[2], `partition ${partition} on ${nodes[2]!.nodeId}`).to.deep.equal(copies[0])
    }
  })
})
