/**
 * Lignum nodes for the replicated benchmark, from the benchmark's private build: `nodeCount`
 * `lignum serve --consul` processes of one cluster on loopback (or one standalone node when no
 * Consul address is given), each on its own data directory and ports. Ready once every node
 * answers and, in a cluster, `cluster status` lists all of them up. Topics are created with
 * the real CLI (`topics create -p -r --min-insync-replicas`), and the broker list handed to
 * producers names the leader of partition 0 first (read from `topics describe --json`):
 * until the client routes each partition to its leader, a producer sends everything to the
 * node it bootstrapped from, and only the leader takes it.
 */
import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import type {LignumBuild} from './lignum-build.js'
import {cli, flushPolicy} from './lignum.js'
import {assertToolSucceeded, freePort, startServer, stopServer, waitForPort, type Server} from './processes.js'
import type {TopicSpec} from './kafka-cluster.js'
import {durabilities} from './workloads.js'

const startTimeoutMs = 60_000
const serverDeadlineMs = 60 * 60_000
/** Registration in Consul follows the listening port by a session round trip or two. */
const membershipTimeoutMs = 60_000
const membershipPollMs = 200
const consulRequestTimeoutMs = 5_000

export interface LignumNodes {
  pids: number[]
  /** Every node's host:port, leader of `topic`'s partition 0 first. */
  brokersFor(topic: string): Promise<string>
  createTopic(spec: TopicSpec): Promise<void>
  /** The partitions of the topics created so far whose ISR lacks some replica (none on a standalone node). */
  underReplicated(): Promise<PartitionIsr[]>
  /** Waits until no partition is under-replicated; the seconds waited, or null past `timeoutMs`. */
  waitFullIsr(timeoutMs: number): Promise<number | null>
  stop(): Promise<void>
}

export interface PartitionIsr {
  topic: string
  partition: number
  isr: number
  replicas: number
}

interface NodeProcess {
  nodeId: string
  address: string
  server: Server
}

export interface NodeSettings {
  build: LignumBuild
  dataDir: string
  /** Each node's log goes here as <node id>.log (kept after the data directory is removed). */
  logDir: string
  nodeCount: number
  /** Absent: a standalone node (nodeCount must be 1). */
  consul?: {url: string; cluster: string}
  /** When set, every node runs under node --cpu-prof and writes its profile here on exit. */
  cpuProfileDir?: string
}

export async function startLignumNodes(settings: NodeSettings): Promise<LignumNodes> {
  if (!settings.consul && settings.nodeCount !== 1) throw new Error('more than one Lignum node needs Consul')
  const nodes: NodeProcess[] = []
  const stop = async () => {
    await Promise.all(nodes.map((node) => stopServer(node.server)))
  }
  try {
    for (let index = 0; index < settings.nodeCount; index++) nodes.push(await startNode(settings, `n${index + 1}`))
    for (const node of nodes) await waitForPort(node.server, Number(node.address.split(':')[1]), startTimeoutMs)
    if (settings.consul) await waitForMembers(settings.build, nodes)
  } catch (error) {
    await stop()
    throw error
  }
  const topics: TopicSpec[] = []
  const underReplicated = () => (settings.consul ? underReplicatedPartitions(settings.consul, topics) : Promise.resolve([]))
  return {
    pids: nodes.map((node) => node.server.pid),
    brokersFor: (topic) => brokersLeaderFirst(settings.build, nodes, topic),
    createTopic: async (spec) => {
      await createTopic(settings.build, nodes, spec, Boolean(settings.consul))
      topics.push(spec)
    },
    underReplicated,
    waitFullIsr: (timeoutMs) => waitFullIsr(underReplicated, timeoutMs),
    stop,
  }
}

interface PartitionStateValue {
  replicas: number[]
  isr: number[]
}

/**
 * Reads the partition states the controller keeps in Consul (src/cluster/cluster-keys.ts):
 * the ISR as the cluster has agreed on it, which no CLI command prints yet.
 */
async function underReplicatedPartitions(consul: {url: string; cluster: string}, topics: TopicSpec[]): Promise<PartitionIsr[]> {
  const lagging: PartitionIsr[] = []
  for (const topic of topics) {
    for (let partition = 0; partition < topic.partitions; partition++) {
      const key = `lignum/${consul.cluster}/partitions/${encodeURIComponent(topic.name)}/${partition}`
      const response = await fetch(`${consul.url}/v1/kv/${key}?raw`, {signal: AbortSignal.timeout(consulRequestTimeoutMs)})
      if (!response.ok) throw new Error(`Consul has no partition state at ${key} (HTTP ${response.status})`)
      const state = (await response.json()) as PartitionStateValue
      if (state.isr.length < state.replicas.length) lagging.push({topic: topic.name, partition, isr: state.isr.length, replicas: state.replicas.length})
    }
  }
  return lagging
}

async function waitFullIsr(underReplicated: () => Promise<PartitionIsr[]>, timeoutMs: number): Promise<number | null> {
  const startMs = Date.now()
  while (Date.now() - startMs < timeoutMs) {
    if ((await underReplicated()).length === 0) return (Date.now() - startMs) / 1000
    await sleep(membershipPollMs)
  }
  return null
}

/** The "ISR changed" lines of the nodes' logs in `logDir`, one description each, in time order. */
export async function isrChangesLogged(logDir: string): Promise<string[]> {
  const changes: {time: string; text: string}[] = []
  for (const name of (await readdir(logDir)).filter((file) => file.endsWith('.log'))) {
    for (const line of (await readFile(path.join(logDir, name), 'utf8')).split('\n')) {
      if (!line.includes('"ISR changed"')) continue
      const entry = JSON.parse(line) as {time: string; partition: string; from: string[]; to: string[]}
      changes.push({time: entry.time, text: `${entry.time} ${entry.partition} ISR [${entry.from.join(',')}] → [${entry.to.join(',')}]`})
    }
  }
  return changes.sort((left, right) => left.time.localeCompare(right.time)).map((change) => change.text)
}

async function startNode(settings: NodeSettings, nodeId: string): Promise<NodeProcess> {
  const grpcPort = await freePort()
  const httpPort = await freePort()
  // The page-cache class, as Kafka's default and the peers benchmark's os-writeback rows;
  // info logs only state changes (ISR changes among them), never a request.
  const env = {...process.env, LIGNUM_FLUSH_POLICY: flushPolicy(durabilities['os-writeback']), LOG_LEVEL: 'info', NO_COLOR: '1'}
  const profile = settings.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', settings.cpuProfileDir, '--cpu-prof-name', `${settings.consul ? 'cluster' : 'standalone'}-${nodeId}-${Date.now()}.cpuprofile`] : []
  const cluster = settings.consul ? ['--consul', settings.consul.url, '--cluster', settings.consul.cluster] : []
  const server = startServer(`lignum serve ${nodeId}`, process.execPath, [
    ...profile, settings.build.bin, 'serve', '--data-dir', path.join(settings.dataDir, nodeId), '--host', '127.0.0.1',
    '--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--node-id', nodeId, ...cluster,
  ], {env, cwd: settings.build.root, logPath: path.join(settings.logDir, `${nodeId}.log`), deadlineMs: serverDeadlineMs})
  return {nodeId, address: `127.0.0.1:${grpcPort}`, server}
}

interface StatusDocument {
  nodes: {id: string; address: string; status: string}[]
}

async function waitForMembers(build: LignumBuild, nodes: NodeProcess[]): Promise<void> {
  const deadline = Date.now() + membershipTimeoutMs
  let last = ''
  while (Date.now() < deadline) {
    const result = await cli(build, ['cluster', 'status', '--json', '--brokers', nodes[0]!.address])
    last = result.stdout || result.stderr
    if (result.code === 0 || result.stdout.trim().startsWith('{')) {
      const status = JSON.parse(result.stdout) as StatusDocument
      const up = new Set(status.nodes.filter((node) => node.status === 'up').map((node) => node.id))
      if (nodes.every((node) => up.has(node.nodeId))) return
    }
    await sleep(membershipPollMs)
  }
  throw new Error(`the ${nodes.length} Lignum nodes did not all show up in cluster status within ${membershipTimeoutMs} ms: ${last.slice(0, 300)}`)
}

async function createTopic(build: LignumBuild, nodes: NodeProcess[], spec: TopicSpec, clustered: boolean): Promise<void> {
  const replication = clustered ? ['-r', String(spec.replicationFactor), '--min-insync-replicas', String(spec.minInsyncReplicas)] : []
  const result = await cli(build, ['topics', 'create', spec.name, '-p', String(spec.partitions), ...replication, '--json', '--brokers', nodes.map((node) => node.address).join(',')])
  assertToolSucceeded(`lignum topics create ${spec.name}`, result)
}

interface DescribeDocument {
  partitions: {partition: number; leader: string}[]
}

async function brokersLeaderFirst(build: LignumBuild, nodes: NodeProcess[], topic: string): Promise<string> {
  const result = await cli(build, ['topics', 'describe', topic, '--json', '--brokers', nodes[0]!.address])
  assertToolSucceeded(`lignum topics describe ${topic}`, result)
  const described = JSON.parse(result.stdout) as DescribeDocument
  const leaderId = described.partitions.find((partition) => partition.partition === 0)?.leader
  const leader = nodes.find((node) => node.nodeId === leaderId) ?? nodes[0]!
  return [leader, ...nodes.filter((node) => node !== leader)].map((node) => node.address).join(',')
}
