/**
 * `lignum produce --acks all` across a leader failover, with a real Consul and three real
 * nodes: lines are fed to the command's stdin while the partition's leader is
 * killed with SIGKILL part way; the controller elects another in-sync replica, the command
 * resends its unanswered batches there and exits 0, and the log holds every line once, in
 * order. When the cluster cannot take the lines (two of three nodes killed, min ISR 2, a short
 * delivery timeout) it exits 5 with one line naming how many were not acknowledged.
 */
import {spawn} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {errorTable} from '../../src/errors.js'
import {lignumBin, repoRoot, runCli} from '../helpers/cli.js'
import {useConsul} from '../helpers/consul-suite.js'
import {eventually} from './member-process.js'
import type {ServeProcess} from './serve-process.js'
import {partitionStatesIn, printLogs, valuesServedBy} from './cluster-reads.js'
import {nodeNamed, replicatedTopic, SETTLE_MS, startThreeNodes} from './three-nodes.js'

const TOPIC = 'lines'
const LINES = 20_000
// Fed in pieces, so batches are in flight when the leader dies.
const LINES_PER_PIECE = 250
// Small batches: many requests in flight at the kill.
const BATCH_BYTES = 4096
const PRODUCE_TIMEOUT_MS = 180_000
// More lines than the producer buffers (32 MiB at about 180 bytes a short record): reading is
// still held back when the first record fails, so the count must include the lines never sent.
const UNDELIVERABLE_LINES = 400_000

interface Exit {
  code: number | null
  stdout: string
  stderr: string
}

/** `lignum produce` with stdin fed by the test: `feed` writes, `end` closes stdin, `exited` resolves on exit. */
function startProduce(args: string[]): {feed: (text: string) => Promise<void>; end: () => void; exited: Promise<Exit>} {
  const child = spawn(process.execPath, [lignumBin, 'produce', ...args], {cwd: repoRoot, env: {...process.env, NO_COLOR: '1'}, stdio: ['pipe', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin.on('error', () => {})
  const timer = setTimeout(() => child.kill('SIGKILL'), PRODUCE_TIMEOUT_MS)
  const exited = new Promise<Exit>((resolve) => child.once('close', (code) => {
    clearTimeout(timer)
    resolve({code, stdout, stderr})
  }))
  const feed = (text: string) => new Promise<void>((resolve) => (child.stdin.write(text) ? resolve() : child.stdin.once('drain', () => resolve())))
  return {feed, end: () => child.stdin.end(), exited}
}

describe('lignum produce --acks all across a leader failover (three real nodes, real Consul)', function () {
  this.timeout(300_000)
  const consul = useConsul()
  let nodes: ServeProcess[] = []
  let scratch: string
  const lines = Array.from({length: LINES}, (_, index) => `line-${index}`)

  before(async function () {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'lignum-produce-failover-'))
  })

  after(async () => {
    if (scratch) await rm(scratch, {recursive: true, force: true})
  })

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') printLogs(nodes, 40)
    await Promise.all(nodes.map((node) => node.destroy()))
    nodes = []
  })

  it('kill -9 of the leader mid-way: exits 0, and the log holds every line exactly once, in order', async () => {
    const cluster = 'produce-failover'
    nodes = await startThreeNodes(consul().url, cluster, 'p')
    const before = await replicatedTopic(nodes, consul().url, cluster, TOPIC)
    const leader = nodeNamed(nodes, before.leader)
    const follower = nodes.find((node) => node !== leader)!
    const produce = startProduce(['-t', TOPIC, '--acks', 'all', '--batch-size', String(BATCH_BYTES), '--json', '--brokers', nodes.map((node) => node.address).join(',')])
    let killed = false
    for (let start = 0; start < LINES; start += LINES_PER_PIECE) {
      await produce.feed(lines.slice(start, start + LINES_PER_PIECE).map((line) => `${line}\n`).join(''))
      if (!killed && start >= LINES / 2) {
        await eventually('some lines acknowledged by the first leader', async () => {
          const partition = (await follower.status()).partitions.find((entry) => entry.topic === TOPIC)
          return partition?.highWatermark ? true : undefined
        }, SETTLE_MS)
        await leader.killHard()
        killed = true
      }
    }
    produce.end()
    const exit = await produce.exited
    expect(exit.code, exit.stderr).to.equal(0)
    const summary = JSON.parse(exit.stdout) as {recordsSent: number; recordsAcknowledged: number; recordsFailed: number}
    expect(summary).to.include({recordsSent: LINES, recordsAcknowledged: LINES, recordsFailed: 0})

    const after = (await partitionStatesIn(consul().url, cluster, TOPIC)).get(0)!
    expect(after.leader, 'another leader').to.not.be.oneOf([null, leader.nodeId])
    expect(after.leaderEpoch).to.be.greaterThan(before.leaderEpoch)
    expect(await valuesServedBy(nodeNamed(nodes, after.leader), TOPIC, 0), 'each line once, in order').to.deep.equal(lines)
  })

  it(`cannot succeed with two of three nodes killed (min ISR 2): exits ${errorTable.NOT_ENOUGH_REPLICAS.exitCode} with one line naming how many lines were not acknowledged`, async () => {
    const cluster = 'produce-failover-down'
    nodes = await startThreeNodes(consul().url, cluster, 'q')
    const state = await replicatedTopic(nodes, consul().url, cluster, TOPIC)
    const leader = nodeNamed(nodes, state.leader)
    for (const node of nodes.filter((candidate) => candidate !== leader)) await node.killHard()
    const file = path.join(scratch, 'unacknowledged.txt')
    await writeFile(file, Array.from({length: UNDELIVERABLE_LINES}, (_, index) => `line-${index}\n`).join(''))

    const result = await runCli(['produce', '-t', TOPIC, '--acks', 'all', '--file', file, '--delivery-timeout-ms', '3000', '--brokers', leader.address], {timeoutMs: PRODUCE_TIMEOUT_MS})
    expect(result.code, result.stderr).to.equal(5)
    const stderrLines = result.stderr.trimEnd().split('\n')
    expect(stderrLines, result.stderr).to.have.length(1)
    console.log(`      ${stderrLines[0]}`)
    expect(stderrLines[0], result.stderr).to.match(new RegExp(`^Error: ${UNDELIVERABLE_LINES} of ${UNDELIVERABLE_LINES} records were not acknowledged: `))
  })
})
