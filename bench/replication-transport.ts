/**
 * How fast one follower copies a partition over the Replication gRPC service on loopback: a
 * real `lignum serve` (built dist/) as the leader holding RECORDS records of VALUE_BYTES bytes
 * (written with `lignum produce --acks 1`), then in this process a follower Partition on a
 * temporary directory and the real ReplicaFetcher over GrpcLeaderClient, timed from its start
 * until its log end and high watermark reach the leader's. The follower process frames gRPC in
 * place as a node does (installGrpcFraming). Besides records/s it reports each process's CPU
 * time over the copy (followerCpuMs, leaderCpuMs; Linux), which a shared machine's load moves
 * far less than wall time. Run after `npm run build`:
 *
 *   npx tsx bench/replication-transport.ts [--records 1000000] [--value-bytes 100] [--fetch-bytes 1048576] [--catch-up-bytes 8388608]
 *
 * With --acks-all-latency it times acks=all instead, on a real Consul and three real `lignum
 * serve --consul` nodes (one partition, RF 3, min ISR 2): LATENCY_SEQUENTIAL_RECORDS records
 * sent one at a time (each waits for the last: the bare path leader append, follower fetch,
 * follower append, next fetch, high watermark), then --rate records/s (10,000) for
 * --seconds (5) from one producer with linger 0; p50/p99/max per record from send to ack.
 *
 *   npx tsx bench/replication-transport.ts --acks-all-latency [--rate 10000] [--seconds 5]
 */
import {spawn} from 'node:child_process'
import {createWriteStream} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {Partition, systemClock} from '../src/broker/partition.js'
import {createLogger} from '../src/logger.js'
import {GrpcLeaderClient} from '../src/replication/grpc-leader-client.js'
import {defaultReplicaFetcherConfig, ReplicaFetcher} from '../src/replication/replica-fetcher.js'
import {installGrpcFraming} from '../src/wire/grpc-framing.js'
import {LignumClient} from '../src/client/index.js'
import {runCli} from '../test/helpers/cli.js'
import {ConsulAgent, findConsulBinary} from '../test/helpers/consul.js'
import {ServeProcess} from '../test/cluster/serve-process.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bin = path.join(root, 'bin', 'run.js')
const TOPIC = 'replicated'
// The follower checks its log end this often while timing: small against a run of seconds.
const PROGRESS_POLL_MS = 5
// Enough one-at-a-time sends for a p99 of a hundred-odd slowest; the first ones warm up.
const LATENCY_SEQUENTIAL_RECORDS = 3000
const LATENCY_WARMUP_RECORDS = 200
// The paced phase sends a burst this often (timers are not finer than a millisecond).
const PACE_TICK_MS = 1
const LATENCY_VALUE_BYTES = 100
// Processes start, elect a controller and create the topic on a loaded 2-core machine.
const CLUSTER_SETTLE_MS = 60_000
const SETTLE_POLL_MS = 50

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(name)
  return index >= 0 ? Number(process.argv[index + 1]) : fallback
}

async function writeInput(file: string, records: number, valueBytes: number): Promise<void> {
  const out = createWriteStream(file)
  const line = 'x'.repeat(valueBytes - 8)
  for (let index = 0; index < records; index++) {
    if (!out.write(`${String(index).padStart(8, '0')}${line}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
  }
  await new Promise<void>((resolve) => out.end(() => resolve()))
}

function run(args: string[], stdinFile?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `"${process.execPath}" "${bin}" ${args.join(' ')}${stdinFile ? ` < "${stdinFile}"` : ''}`], {stdio: ['ignore', 'ignore', 'inherit']})
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`lignum ${args[0]} exited with ${code}`))))
  })
}

/**
 * CPU time (user + system) a process has used, from /proc (Linux); undefined elsewhere. On a
 * shared machine wall time swings with the neighbours' load, CPU time much less.
 */
async function processCpuMs(pid: number): Promise<number | undefined> {
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

function ownCpuMs(): number {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

async function startLeader(dataDir: string): Promise<{address: string; pid: number; stop: () => Promise<void>}> {
  const child = spawn(process.execPath, [bin, 'serve', '--data-dir', dataDir, '--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1'], {stdio: ['ignore', 'ignore', 'pipe']})
  let output = ''
  const address = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const line = output.split('\n').find((entry) => entry.includes('"node started"'))
      if (line) resolve((JSON.parse(line) as {grpc: string}).grpc)
    })
    child.on('exit', (code) => reject(new Error(`lignum serve exited with ${code}: ${output}`)))
  })
  const stop = () =>
    new Promise<void>((resolve) => {
      child.on('exit', () => resolve())
      child.kill('SIGTERM')
    })
  return {address, pid: child.pid!, stop}
}

async function main(): Promise<void> {
  const records = argument('--records', 1_000_000)
  const valueBytes = argument('--value-bytes', 100)
  const fetchMaxBytes = argument('--fetch-bytes', defaultReplicaFetcherConfig.fetchMaxBytes)
  const catchUpFetchMaxBytes = argument('--catch-up-bytes', Math.max(fetchMaxBytes, defaultReplicaFetcherConfig.catchUpFetchMaxBytes))
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'lignum-replication-bench-'))
  const logger = createLogger({level: 'warn'})
  installGrpcFraming(logger)
  const leader = await startLeader(path.join(scratch, 'leader'))
  try {
    const input = path.join(scratch, 'input.txt')
    await writeInput(input, records, valueBytes)
    await run(['topics', 'create', TOPIC, '--partitions', '1', '--brokers', leader.address])
    await run(['produce', '-t', TOPIC, '--acks', '1', '--brokers', leader.address], input)

    const follower = await Partition.open(TOPIC, 0, path.join(scratch, 'follower', `${TOPIC}-0`), {}, {logger, role: 'follower', leaderEpoch: 0})
    const client = new GrpcLeaderClient(leader.address)
    const fetcher = new ReplicaFetcher({partition: follower, replicaId: 2, leaderId: 1, leaderEpoch: 0, client, clock: systemClock, logger, config: {fetchMaxBytes, catchUpFetchMaxBytes}})
    const leaderCpuBefore = await processCpuMs(leader.pid)
    const followerCpuBefore = ownCpuMs()
    const started = performance.now()
    fetcher.start()
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (follower.logEndOffset >= records && follower.highWatermark >= records) {
          clearInterval(timer)
          resolve()
        }
      }, PROGRESS_POLL_MS)
    })
    const seconds = (performance.now() - started) / 1000
    const followerCpuMs = Math.round(ownCpuMs() - followerCpuBefore)
    const leaderCpuAfter = await processCpuMs(leader.pid)
    const leaderCpuMs = leaderCpuBefore === undefined || leaderCpuAfter === undefined ? undefined : leaderCpuAfter - leaderCpuBefore
    await fetcher.stop()
    await follower.close()
    client.close()
    const bytes = follower.describe().sizeBytes
    console.log(JSON.stringify({records, valueBytes, fetchMaxBytes, catchUpFetchMaxBytes, fetches: fetcher.fetches, pipelinedFetches: fetcher.pipelinedFetches, seconds: Number(seconds.toFixed(3)), recordsPerSec: Math.round(records / seconds), logMBPerSec: Number((bytes / seconds / 1e6).toFixed(1)), followerCpuMs, leaderCpuMs}))
  } finally {
    await leader.stop()
    await rm(scratch, {recursive: true, force: true})
  }
}

function percentile(sortedMs: number[], fraction: number): number {
  return Number(sortedMs[Math.min(sortedMs.length - 1, Math.floor(sortedMs.length * fraction))]!.toFixed(2))
}

function latencySummary(samplesMs: number[]): {count: number; p50Ms: number; p99Ms: number; maxMs: number} {
  const sorted = [...samplesMs].sort((left, right) => left - right)
  return {count: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: percentile(sorted, 1)}
}

async function settled<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + CLUSTER_SETTLE_MS
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Three nodes, one partition (RF 3, min ISR 2) with its full ISR; the leader's node. */
async function replicatedPartition(consulUrl: string, nodes: ServeProcess[]): Promise<ServeProcess> {
  await settled('a controller with three nodes up', async () => {
    const status = await nodes[0]!.status()
    return status.controller !== null && status.nodes.filter((node) => node.status === 'up').length === 3 ? true : undefined
  })
  const created = await runCli(['topics', 'create', TOPIC, '--partitions', '1', '--replication-factor', '3', '--min-insync-replicas', '2', '--brokers', nodes[0]!.address])
  if (created.code !== 0) throw new Error(`topics create failed: ${created.stderr}`)
  const leaderId = await settled('the partition to lead with a full ISR', async () => {
    const response = await fetch(`${consulUrl}/v1/kv/lignum/latency/partitions/${TOPIC}/0?raw`)
    if (!response.ok) return undefined
    const state = (await response.json()) as {leader: string | null; isr: string[]}
    return state.leader !== null && state.isr.length === 3 ? state.leader : undefined
  })
  const leader = nodes.find((node) => node.nodeId === leaderId)!
  await settled('every replica to apply its state', async () => (nodes.every((node) => node.logged('partition state applied').some((line) => line.topic === TOPIC)) ? true : undefined))
  return leader
}

async function sequentialLatencies(client: LignumClient): Promise<number[]> {
  const producer = client.producer({acks: 'all', lingerMs: 0})
  const value = Buffer.alloc(LATENCY_VALUE_BYTES, 'x')
  const samplesMs: number[] = []
  try {
    for (let index = 0; index < LATENCY_WARMUP_RECORDS + LATENCY_SEQUENTIAL_RECORDS; index++) {
      const started = performance.now()
      await producer.send(TOPIC, {partition: 0, value})
      if (index >= LATENCY_WARMUP_RECORDS) samplesMs.push(performance.now() - started)
    }
  } finally {
    await producer.close()
  }
  return samplesMs
}

/** `rate` records/s for `seconds`, each timed from its send to its ack; bursts every PACE_TICK_MS keep the rate. */
async function pacedLatencies(client: LignumClient, rate: number, seconds: number): Promise<{samplesMs: number[]; achievedPerSec: number}> {
  const producer = client.producer({acks: 'all', lingerMs: 0})
  const value = Buffer.alloc(LATENCY_VALUE_BYTES, 'x')
  const samplesMs: number[] = []
  const pending: Promise<void>[] = []
  const total = rate * seconds
  const started = performance.now()
  let sent = 0
  try {
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate))
      for (; sent < due; sent++) {
        const sentAt = performance.now()
        pending.push(producer.send(TOPIC, {partition: 0, value}).then(() => void samplesMs.push(performance.now() - sentAt)))
      }
      await new Promise((resolve) => setTimeout(resolve, PACE_TICK_MS))
    }
    await Promise.all(pending)
  } finally {
    await producer.close()
  }
  return {samplesMs, achievedPerSec: Math.round(total / ((performance.now() - started) / 1000))}
}

async function acksAllLatency(): Promise<void> {
  const rate = argument('--rate', 10_000)
  const seconds = argument('--seconds', 5)
  const found = await findConsulBinary()
  if (!found.path) throw new Error(`the latency bench needs Consul: ${found.missingReason}`)
  const consul = await ConsulAgent.start(found.path, 'dev')
  let nodes: ServeProcess[] = []
  try {
    nodes = await Promise.all(['n1', 'n2', 'n3'].map((nodeId) => ServeProcess.start({consulUrl: consul.url, cluster: 'latency', nodeId, sessionTtlMs: 3_000, lockDelayMs: 1_000})))
    const leader = await replicatedPartition(consul.url, nodes)
    const client = await LignumClient.connect({brokers: leader.address})
    try {
      const sequential = latencySummary(await sequentialLatencies(client))
      const paced = await pacedLatencies(client, rate, seconds)
      console.log(JSON.stringify({acks: 'all', replicas: 3, minInsyncReplicas: 2, valueBytes: LATENCY_VALUE_BYTES, sequential, paced: {ratePerSec: rate, achievedPerSec: paced.achievedPerSec, ...latencySummary(paced.samplesMs)}}))
    } finally {
      client.close()
    }
  } finally {
    await Promise.all(nodes.map((node) => node.destroy()))
    await consul.destroy()
  }
}

await (process.argv.includes('--acks-all-latency') ? acksAllLatency() : main())
