/**
 * Three Apache Kafka brokers on loopback for the replicated benchmark: KRaft in combined mode
 * (each JVM is broker and controller; the three form a 3-voter controller quorum), each with
 * its own log directory, client and controller ports, formatted with one shared cluster id.
 * Topics are created explicitly with the partition count, replication factor and
 * min.insync.replicas asked for. Every JVM is started through processes.ts, so it is stopped
 * by `stop()` and, after an error, by `stopAllServers`.
 */
import {mkdir, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {brokerJvmOptions, classPath, java, toolHeap, writeLog4j, type KafkaTools} from './kafka.js'
import {assertToolSucceeded, freePort, startServer, stopServer, waitForPort, type Server} from './processes.js'

export const kafkaBrokerCount = 3
/** Per broker: three JVMs share 2 cores and a machine other work runs on. */
export const clusterBrokerHeap = '512m'
const startTimeoutMs = 120_000
const serverDeadlineMs = 60 * 60_000
/** Brokers register with the quorum a few seconds after listening; topic creation with RF=3 fails until all have. */
const topicCreateAttempts = 30
const topicCreateRetryMs = 1_000

export interface TopicSpec {
  name: string
  partitions: number
  replicationFactor: number
  minInsyncReplicas: number
}

export interface KafkaCluster {
  pids: number[]
  tools: KafkaTools
  /** Node ids, 1 to kafkaBrokerCount: each JVM's broker id and controller (voter) id. */
  nodeIds: number[]
  createTopic(spec: TopicSpec): Promise<void>
  /** kill -9 of one broker's JVM; resolves once it is gone. */
  killHard(nodeId: number): Promise<void>
  /** Starts a killed broker again on its ports, configuration and log directory. */
  restart(nodeId: number): Promise<void>
  stop(): Promise<void>
}

export interface KafkaClusterOptions {
  /** More broker (and controller) properties, appended to every broker's file: later lines win. */
  extraProperties?: string[]
}

interface BrokerPorts {
  client: number
  controller: number
}

function brokerProperties(nodeId: number, ports: BrokerPorts, voters: string, logDir: string): string[] {
  return [
    'process.roles=broker,controller',
    `node.id=${nodeId}`,
    `controller.quorum.voters=${voters}`,
    `listeners=PLAINTEXT://127.0.0.1:${ports.client},CONTROLLER://127.0.0.1:${ports.controller}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${ports.client}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${logDir}`,
    'auto.create.topics.enable=false',
    `offsets.topic.replication.factor=${kafkaBrokerCount}`,
    `transaction.state.log.replication.factor=${kafkaBrokerCount}`,
    'transaction.state.log.min.isr=2',
    `share.coordinator.state.topic.replication.factor=${kafkaBrokerCount}`,
    'share.coordinator.state.topic.min.isr=2',
    'group.initial.rebalance.delay.ms=0',
  ]
}

/** `logDir`: each broker's output goes there as kafka-<n>.log (kept after the data directory is removed). */
export async function startKafkaCluster(installDir: string, dataDir: string, logDir: string, options: KafkaClusterOptions = {}): Promise<KafkaCluster> {
  const configDir = path.join(dataDir, 'config')
  await mkdir(configDir, {recursive: true})
  const log4j = await writeLog4j(configDir)
  const ports: BrokerPorts[] = []
  for (let index = 0; index < kafkaBrokerCount; index++) ports.push({client: await freePort(), controller: await freePort()})
  const voters = ports.map((port, index) => `${index + 1}@127.0.0.1:${port.controller}`).join(',')
  const uuid = await java(installDir, log4j, toolHeap, 'kafka.tools.StorageTool', ['random-uuid'])
  assertToolSucceeded('kafka storage random-uuid', uuid)
  const clusterId = uuid.stdout.trim()
  const propertyFiles: string[] = []
  for (let index = 0; index < kafkaBrokerCount; index++) {
    const file = path.join(configDir, `broker-${index + 1}.properties`)
    const properties = [...brokerProperties(index + 1, ports[index]!, voters, path.join(dataDir, `logs-${index + 1}`)), ...(options.extraProperties ?? [])]
    await writeFile(file, properties.join('\n') + '\n')
    const format = await java(installDir, log4j, toolHeap, 'kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', file])
    assertToolSucceeded(`kafka storage format (broker ${index + 1})`, format)
    propertyFiles.push(file)
  }
  const servers: Server[] = []
  const stop = async () => {
    await Promise.all(servers.map((server) => stopServer(server)))
  }
  const starts = propertyFiles.map(() => 0)
  const startBroker = (index: number) => {
    const logName = starts[index]++ === 0 ? `kafka-${index + 1}.log` : `kafka-${index + 1}-restart-${starts[index]! - 1}.log`
    return startServer(`kafka broker ${index + 1}`, 'java', [
      `-Xms${clusterBrokerHeap}`, `-Xmx${clusterBrokerHeap}`, ...brokerJvmOptions, `-Dlog4j2.configurationFile=${log4j}`,
      '-cp', classPath(installDir), 'kafka.Kafka', propertyFiles[index]!,
    ], {logPath: path.join(logDir, logName), deadlineMs: serverDeadlineMs})
  }
  try {
    for (const index of propertyFiles.keys()) servers.push(startBroker(index))
    for (const [index, server] of servers.entries()) await waitForPort(server, ports[index]!.client, startTimeoutMs)
  } catch (error) {
    await stop()
    throw error
  }
  const tools: KafkaTools = {installDir, log4j, bootstrap: ports.map((port) => `127.0.0.1:${port.client}`).join(',')}
  const indexOf = (nodeId: number) => {
    if (!Number.isInteger(nodeId) || nodeId < 1 || nodeId > kafkaBrokerCount) throw new Error(`no Kafka broker ${nodeId}`)
    return nodeId - 1
  }
  return {
    pids: servers.map((server) => server.pid),
    tools,
    nodeIds: propertyFiles.map((_, index) => index + 1),
    createTopic: (spec) => createTopic(tools, spec),
    killHard: async (nodeId) => {
      const server = servers[indexOf(nodeId)]!
      server.child.kill('SIGKILL')
      await server.exited
    },
    restart: async (nodeId) => {
      const index = indexOf(nodeId)
      const old = servers[index]!
      if (old.child.exitCode === null && old.child.signalCode === null) throw new Error(`Kafka broker ${nodeId} is still running; kill it before restarting it`)
      servers[index] = startBroker(index)
      await waitForPort(servers[index], ports[index]!.client, startTimeoutMs)
    },
    stop,
  }
}

async function createTopic(tools: KafkaTools, spec: TopicSpec): Promise<void> {
  const args = [
    '--bootstrap-server', tools.bootstrap, '--create', '--topic', spec.name,
    '--partitions', String(spec.partitions), '--replication-factor', String(spec.replicationFactor),
    '--config', `min.insync.replicas=${spec.minInsyncReplicas}`,
  ]
  for (let attempt = 1; ; attempt++) {
    const result = await java(tools.installDir, tools.log4j, toolHeap, 'org.apache.kafka.tools.TopicCommand', args)
    if (result.code === 0) return
    if (attempt >= topicCreateAttempts) assertToolSucceeded(`kafka-topics --create ${spec.name}`, result)
    await sleep(topicCreateRetryMs)
  }
}
