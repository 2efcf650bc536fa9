/**
 * NATS JetStream as a peer: one nats-server with JetStream on file storage, on its own store
 * directory and loopback port, driven by its own `nats bench` (natscli) for throughput and by
 * the official Node client (@nats-io/jetstream, drivers/nats-latency.ts) for fixed-rate
 * latency, which `nats bench` does not measure. One stream (one subject) per topic, R1.
 * On a single node with one replica, a JetStream publish acknowledgement already means
 * "stored by every replica", so acks=1 and acks=all are the same request; both are run.
 */
import {writeFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {readInstalledPeer, type InstalledPeer} from './installed-peers.js'
import {assertToolSucceeded, freePort, runTool, startServer, stopServer, waitForPort} from './processes.js'
import type {RunningSystem, ServerMeter, SystemUnderTest} from './system.js'
import type {ConsumeWorkload, Durability, LatencyWorkload, Measurement, ProduceWorkload, Workload} from './workloads.js'

const startTimeoutMs = 30_000
const toolTimeoutMs = 240_000
const serverDeadlineMs = 60 * 60_000
/** Async publishes in flight per batch: `nats bench`'s default, its recommended setting. */
const publishBatch = 500
/**
 * Room for the largest workload (200k x 1 KiB) with headroom. Each stream reserves this much
 * of the server's max_file_store, so it must stay well under that divided by the streams.
 */
const streamMaxBytes = '1GB'

const driversDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'drivers')

export function natsSystem(): SystemUnderTest {
  let installed: InstalledPeer | undefined
  return {
    name: 'nats-jetstream',
    unavailableReason: async () => {
      const peer = await readInstalledPeer('nats')
      if (typeof peer === 'string') return peer
      installed = peer
      return null
    },
    version: async () => installed?.version ?? '?',
    settings: (durability) => ({
      server: `nats-server, JetStream file storage, R1 stream per topic, ${durability.name === 'fsync' ? 'sync_interval: always (fsync every write)' : 'default sync_interval (fsync every 2 min; OS writeback)'}`,
      producer: `nats bench js pub async, batch ${publishBatch}; acks=1 and acks=all are the same on one R1 node`,
      consumer: 'nats bench js ordered (ordered ephemeral consumer), batch 500',
      latency: '@nats-io/jetstream publish() from Node at a fixed rate, open loop',
    }),
    start: async (dataDir, durability) => startNats(installed!.detail, dataDir, durability),
  }
}

async function startNats(installDir: string, dataDir: string, durability: Durability): Promise<RunningSystem> {
  const port = await freePort()
  const configPath = path.join(dataDir, 'nats.conf')
  await writeFile(configPath, [
    `listen: 127.0.0.1:${port}`,
    'jetstream {',
    `  store_dir: ${JSON.stringify(path.join(dataDir, 'jetstream'))}`,
    '  max_memory_store: 256MB',
    '  max_file_store: 16GB',
    ...(durability.name === 'fsync' ? ['  sync_interval: always'] : []),
    '}',
  ].join('\n') + '\n')
  const server = startServer('nats-server', path.join(installDir, 'bin', 'nats-server'), ['-c', configPath], {logPath: path.join(dataDir, 'nats-server.log'), deadlineMs: serverDeadlineMs})
  try {
    await waitForPort(server, port, startTimeoutMs)
  } catch (error) {
    await stopServer(server)
    throw error
  }
  const tools = {nats: path.join(installDir, 'bin', 'nats'), url: `nats://127.0.0.1:${port}`}
  return {
    pid: server.pid,
    run: (workload: Workload, meter: ServerMeter) => meter(workload.name, () => runNatsWorkload(tools, workload)),
    stop: () => stopServer(server),
  }
}

interface NatsTools {
  nats: string
  url: string
}

function runNatsWorkload(tools: NatsTools, workload: Workload): Promise<Measurement> {
  switch (workload.kind) {
    case 'produce': return produce(tools, workload)
    case 'consume': return consume(tools, workload)
    case 'latency': return latency(tools, workload)
  }
}

/** Stream names may not contain dots; subjects are `bench.<stream>`. */
function streamName(topic: string): string {
  return topic.replaceAll(/[^A-Za-z0-9_-]/g, '_')
}

/** `nats bench` ends with "... stats: 167,362 msgs/sec ~ 16 MiB/sec ...". */
export function parseBenchRate(output: string): number {
  const match = /stats: ([\d,]+) msgs\/sec/.exec(output)
  if (!match) throw new Error(`nats bench printed no stats:\n${output.slice(-500)}`)
  return Number(match[1]!.replaceAll(',', ''))
}

async function natsBench(tools: NatsTools, args: string[]): Promise<number> {
  const result = await runTool(tools.nats, ['-s', tools.url, '--no-context', 'bench', 'js', ...args, '--no-progress'], {timeoutMs: toolTimeoutMs})
  assertToolSucceeded('nats bench', result)
  return parseBenchRate(result.stdout + result.stderr)
}

async function produce(tools: NatsTools, workload: ProduceWorkload): Promise<Measurement> {
  const stream = streamName(workload.topic)
  const rate = await natsBench(tools, ['pub', 'async', `bench.${stream}`, '--stream', stream, '--create', '--storage', 'file', '--replicas', '1',
    '--maxbytes', streamMaxBytes, '--batch', String(publishBatch), '--msgs', String(workload.records), '--size', String(workload.recordBytes)])
  return {
    workload: workload.name, driver: 'nats bench js pub async', records: workload.records, bytes: workload.records * workload.recordBytes,
    seconds: workload.records / rate, timing: 'tool-reported',
  }
}

async function consume(tools: NatsTools, workload: ConsumeWorkload): Promise<Measurement> {
  const rate = await natsBench(tools, ['ordered', '--stream', streamName(workload.topic), '--msgs', String(workload.records), '--size', String(workload.recordBytes)])
  return {
    workload: workload.name, driver: 'nats bench js ordered', records: workload.records, bytes: workload.records * workload.recordBytes,
    seconds: workload.records / rate, timing: 'tool-reported',
  }
}

async function latency(tools: NatsTools, workload: LatencyWorkload): Promise<Measurement> {
  const stream = streamName(workload.topic)
  const args = {url: tools.url, stream, subject: `bench.${stream}`, records: workload.records, recordBytes: workload.recordBytes, ratePerSecond: workload.ratePerSecond}
  const result = await runTool(process.execPath, ['--import', 'tsx', path.join(driversDir, 'nats-latency.ts'), JSON.stringify(args)], {timeoutMs: toolTimeoutMs})
  assertToolSucceeded('nats latency driver', result)
  const measured = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {records: number; seconds: number; p50Ms: number; p99Ms: number}
  return {
    workload: workload.name, driver: '@nats-io/jetstream publish (Node)', records: measured.records, bytes: measured.records * workload.recordBytes,
    seconds: measured.seconds, timing: 'tool-reported', p50Ms: measured.p50Ms, p99Ms: measured.p99Ms,
  }
}
