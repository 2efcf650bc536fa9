/**
 * What cluster tests read back from a real cluster: the partition states the controller wrote
 * in Consul, the batches a node's data directory holds (by `segments inspect --dump --json`),
 * every value a node serves, and the nodes' last log lines when a test failed.
 */
import {expect} from 'chai'
import {LignumClient} from '../../src/client/index.js'
import {runCli} from '../helpers/cli.js'
import type {ServeProcess} from './serve-process.js'

export interface StoredState {
  replicas: string[]
  leader: string | null
  leaderEpoch: number
  isr: string[]
  /** The process (cluster-member.ts's incarnation) the leadership was given to. */
  leaderIncarnation?: string
  /** The process each ISR member joined the ISR as (isr-incarnations.ts). */
  isrIncarnations?: Record<string, string>
}

export interface DumpedBatch {
  baseOffset: number
  lastOffset: number
  crc: number
  partitionLeaderEpoch: number
}

/** A topic's partition states in Consul, by partition; empty when it has none. */
export async function partitionStatesIn(consulUrl: string, cluster: string, topic: string): Promise<Map<number, StoredState>> {
  const response = await fetch(`${consulUrl}/v1/kv/lignum/${cluster}/partitions/${topic}/?recurse`)
  const states = new Map<number, StoredState>()
  if (response.status === 404) return states
  for (const entry of (await response.json()) as {Key: string; Value: string}[]) {
    states.set(Number(entry.Key.split('/').pop()), JSON.parse(Buffer.from(entry.Value, 'base64').toString('utf8')) as StoredState)
  }
  return states
}

/** The batches of one partition in a node's data directory (the node stopped or not). */
export async function batchesIn(node: ServeProcess, topic: string, partition: number): Promise<DumpedBatch[]> {
  const inspected = await runCli(['segments', 'inspect', '--data-dir', node.dataDir, '--topic', topic, '--partition', String(partition), '--dump', '--json'])
  expect(inspected.code, inspected.stderr).to.equal(0)
  const report = JSON.parse(inspected.stdout) as {partitions: {segments: {batches: DumpedBatch[]}[]}[]}
  return report.partitions.flatMap((stored) => stored.segments.flatMap((segment) => segment.batches)).map(({baseOffset, lastOffset, crc, partitionLeaderEpoch}) => ({baseOffset, lastOffset, crc, partitionLeaderEpoch}))
}

/** Every value of `topic` a node serves, read from the beginning to its end (of one partition, or of all). */
export async function valuesServedBy(node: ServeProcess, topic: string, partition?: number): Promise<string[]> {
  const reader = await LignumClient.connect({brokers: node.address})
  try {
    const values: string[] = []
    const partitions = partition === undefined ? undefined : [partition]
    for await (const record of reader.consume({topic, partitions, from: 'beginning', stopAtEnd: true})) values.push(record.value?.toString() ?? '')
    return values
  } finally {
    reader.close()
  }
}

/** Prints each node's last log lines, so a failure in CI shows what the nodes did. */
export function printLogs(nodes: ServeProcess[], lines: number): void {
  for (const node of nodes) console.log(`--- logs of ${node.nodeId}\n${node.logs.slice(-lines).map((line) => JSON.stringify(line)).join('\n')}`)
}
