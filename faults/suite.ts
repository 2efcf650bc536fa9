/**
 * One fault run and the table of many: a fresh three-node cluster on the given Consul, the
 * steady load started, the scenario's faults applied and healed, `cluster status
 * --wait-healthy`, the load stopped, every replica read after the nodes stopped, and the
 * checker's counts. Every process a run starts is stopped when it ends, also on failure.
 */
import {mkdtemp, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {check, totalViolations, type CheckResult, type ProducedRecord, type UnderReplicatedWindow, type Violations} from './checker.js'
import {FaultCluster, NODE_IDS, PARTITION, TOPIC, type NodeLauncher} from './cluster.js'
import {NetworkLab} from './netns.js'
import {NamespacedServe, startConsulIn} from './netns-processes.js'
import {Random, type Scenario, type ScenarioContext} from './scenario.js'
import {KafkaProducerLoad, type KafkaClasspath} from './kafka-workload.js'
import {ConsumerLoad, ProducerLoad, type ProducerWorkload} from './workload.js'

// Load before the faults: the consumer is reading and the followers are copying.
const WARM_UP_MS = 2_000
// Load after healing: writes go on through the healed cluster.
const AFTER_HEAL_MS = 1_000
// The consumer reads a few thousand records in well under a second once the partition is led.
const CONSUMER_CATCH_UP_MS = 20_000

export interface RunResult {
  scenario: string
  seed: number
  result: CheckResult
  longestUnavailabilitySeconds: number
  durationSeconds: number
  /** What the scenario demands that did not happen (e.g. leadership never moved): each fails the run. */
  expectationsFailed: string[]
  /** Seconds from each leader failure to the next acknowledged acks=all write. */
  failoverSeconds: number[]
  notes: string[]
}

function seedFor(scenario: string, seed: number): number {
  let hash = seed >>> 0
  for (const char of scenario) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) >>> 0
  return hash
}

export interface Consul {
  url: string
  /** The binary, for a scenario that starts its own agent inside a network namespace. */
  binary: string
}

/** Where the run's nodes live: on loopback with the shared Consul, or in a fresh network lab with a Consul of its own. */
async function placeNodes(scenario: Scenario, consul: Consul): Promise<{consulUrl: string; launch?: NodeLauncher; network?: NetworkLab; close(): Promise<void>}> {
  if (scenario.network === 'loopback') return {consulUrl: consul.url, close: async () => undefined}
  const network = await NetworkLab.create(['consul', ...NODE_IDS])
  try {
    const agent = await startConsulIn(network, 'consul', consul.binary)
    return {
      consulUrl: agent.url, network,
      launch: (settings) => NamespacedServe.start(network, settings),
      close: async () => {
        await agent.stop()
        await network.destroy()
      },
    }
  } catch (error) {
    await network.destroy()
    throw error
  }
}

/**
 * Which client drives the producer load: Lignum's own client over gRPC (workload.ts), or
 * Kafka's Java KafkaProducer, idempotent with acks=all, over the nodes' Kafka listeners
 * (kafka-workload.ts; Kafka's jars from test/helpers/kafka-tools.ts). The consumer is
 * Lignum's either way.
 */
export interface RunOptions {
  client?: 'lignum' | {kafka: KafkaClasspath}
}

function startProducer(options: RunOptions, cluster: FaultCluster, seed: number): Promise<ProducerWorkload> {
  const label = `s${seed}`
  if (options.client === undefined || options.client === 'lignum') return ProducerLoad.start(cluster.brokers, TOPIC, PARTITION, label)
  return KafkaProducerLoad.start(options.client.kafka, cluster.kafkaBootstrap, TOPIC, PARTITION, label)
}

export async function runScenario(consul: Consul, scenario: Scenario, seed: number, log: (text: string) => void = () => undefined, options: RunOptions = {}): Promise<RunResult> {
  const startedMs = Date.now()
  const onKafka = options.client !== undefined && options.client !== 'lignum'
  if (onKafka && scenario.network !== 'loopback') throw new Error(`${scenario.name} runs its nodes in network namespaces; the Kafka client load runs on loopback scenarios only`)
  const placement = await placeNodes(scenario, consul)
  let cluster: FaultCluster
  try {
    cluster = await FaultCluster.start(placement.consulUrl, `faults-${scenario.name}-${seed}-${process.pid}-${startedMs}`, placement.launch, {segmentBytes: scenario.segmentBytes}, {kafka: onKafka})
  } catch (error) {
    await placement.close()
    throw error
  }
  const notes: string[] = []
  const windows: UnderReplicatedWindow[] = []
  const expectationsFailed: string[] = []
  const failoverSeconds: number[] = []
  const probes: ProducedRecord[] = []
  let producer: ProducerWorkload | undefined
  let consumer: ConsumerLoad | undefined
  try {
    const roles = await cluster.roles()
    notes.push(`leader ${roles.leader} (epoch ${roles.leaderEpoch}), followers ${roles.followers.join(', ')}`)
    producer = await startProducer(options, cluster, seed)
    consumer = ConsumerLoad.start(cluster.brokers, TOPIC, PARTITION)
    await sleep(WARM_UP_MS)
    const load = producer
    const context: ScenarioContext = {
      cluster, roles, random: new Random(seedFor(scenario.name, seed)), leadershipMoved: false, network: placement.network,
      note: (text) => notes.push(text),
      underReplicated: (window) => windows.push(window),
      expectationFailed: (text) => expectationsFailed.push(text),
      acknowledgedAfter: (fromMs) => load.acknowledgedAfter(fromMs),
      failover: (seconds) => failoverSeconds.push(seconds),
      probed: (record) => probes.push(record),
    }
    const faultsFromMs = Date.now()
    log(`${scenario.name} seed ${seed}: faults`)
    await scenario.apply(context)
    await cluster.waitHealthy()
    const healedMs = Date.now()
    await sleep(AFTER_HEAL_MS)
    await producer.stop()
    const unanswered = producer.unanswered
    if (unanswered.length > 0) expectationsFailed.push(`the client never answered ${unanswered.length} sends (${unanswered.slice(0, 3).map((record) => record.value).join(', ')}…), though each has a delivery timeout`)
    await cluster.waitHealthy()
    const state = await cluster.partitionState()
    const highWatermark = state?.highWatermark ?? 0
    const finalLeader = state?.leader ?? roles.leader
    if (state && state.leader !== roles.leader) context.leadershipMoved = true
    notes.push(`after healing: leader ${finalLeader} (epoch ${state?.leaderEpoch}), high watermark ${highWatermark}`)
    notes.push(producer.retriesNote())
    await consumer.stopAt(highWatermark, CONSUMER_CATCH_UP_MS)
    if (onKafka) notes.push(`resent batches answered with their first offsets (lignum_produce_duplicates_total, since each node last started): ${await duplicatesAnsweredByNode(cluster)}`)
    await cluster.stopAll()
    // The ISR changes the nodes logged show that the faults took effect (a follower dropped and rejoined).
    const isrChanges = NODE_IDS.flatMap((id) => cluster.logs(id).filter((line) => line.msg === 'ISR changed').map((line) => `[${(line.from as string[]).join(',')}] → [${(line.to as string[]).join(',')}]`))
    notes.push(`ISR changes logged: ${isrChanges.join(' ') || 'none'}`)
    // Where the logs were kept goes to the terminal only: a scratch path has no place in the committed results.
    if (expectationsFailed.length > 0) log(`${scenario.name} seed ${seed}: node logs kept in ${await keepLogs(cluster, `${scenario.name}-${seed}`)}`)
    const replicas = await cluster.readReplicas(finalLeader)
    notes.push(`consumer saw ${consumer.records.length}; replicas hold ${replicas.map((replica) => `${replica.node} ${replica.records.length}`).join(', ')}`)
    if (scenario.expectsFailover && !context.leadershipMoved) expectationsFailed.push('leadership never moved: no other node led the partition while its leader was away')
    for (const failure of expectationsFailed) notes.push(`EXPECTATION FAILED: ${failure}`)
    const result = check({produced: [...producer.records, ...probes], consumers: [{consumer: 'consumer-1', records: consumer.records}], replicas, highWatermarks: new Map([[PARTITION, highWatermark]]), underReplicatedWindows: windows})
    return {
      scenario: scenario.name, seed, result, notes,
      longestUnavailabilitySeconds: producer.longestUnavailabilitySeconds(faultsFromMs, healedMs),
      durationSeconds: (Date.now() - startedMs) / 1000,
      expectationsFailed, failoverSeconds,
    }
  } finally {
    await producer?.stop().catch(() => undefined)
    await consumer?.stopAt(0, 0).catch(() => undefined)
    await cluster.destroy()
    await placement.close()
  }
}

async function duplicatesAnsweredByNode(cluster: FaultCluster): Promise<string> {
  const counts = await Promise.all(NODE_IDS.map(async (id) => `${id} ${await cluster.duplicatesAnswered(id).catch(() => undefined) ?? '?'}`))
  return counts.join(', ')
}

/** Writes every node's log lines to a fresh temporary directory, for a person reading a failed run; its path. */
async function keepLogs(cluster: FaultCluster, label: string): Promise<string> {
  const directory = await mkdtemp(path.join(os.tmpdir(), `lignum-faults-${label}-`))
  for (const id of NODE_IDS) await writeFile(path.join(directory, `${id}.log`), cluster.allLogs(id).map((line) => JSON.stringify(line)).join('\n') + '\n')
  return directory
}

export interface ScenarioRow {
  scenario: string
  runs: number
  acknowledged: number
  failed: number
  violations: Violations
  lostAcks1: number
  longestUnavailabilitySeconds: number
  secondsPerRun: number
  /** Expectations of the scenario that did not hold, over its runs (leadership never moved, a zombie acknowledged, …). */
  expectationsFailed: number
  /** Over every failover measured: median and worst seconds from the fault to the next acknowledged write. */
  failoverMedianSeconds: number | null
  failoverWorstSeconds: number | null
}

function median(values: number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export function summarizeRuns(runs: RunResult[]): ScenarioRow[] {
  const rows = new Map<string, ScenarioRow>()
  const failovers = new Map<string, number[]>()
  for (const run of runs) {
    const row = rows.get(run.scenario) ?? {
      scenario: run.scenario, runs: 0, acknowledged: 0, failed: 0, lostAcks1: 0, longestUnavailabilitySeconds: 0, secondsPerRun: 0, expectationsFailed: 0, failoverMedianSeconds: null, failoverWorstSeconds: null,
      violations: {lost: 0, duplicated: 0, changed: 0, divergent: 0, nonMonotonic: 0, phantom: 0, underReplicatedAcks: 0},
    }
    row.runs++
    row.acknowledged += run.result.acknowledged
    row.failed += run.result.failed
    row.lostAcks1 += run.result.lostAcks1
    for (const kind of Object.keys(row.violations) as (keyof Violations)[]) row.violations[kind] += run.result.violations[kind]
    row.longestUnavailabilitySeconds = Math.max(row.longestUnavailabilitySeconds, run.longestUnavailabilitySeconds)
    row.secondsPerRun += run.durationSeconds
    row.expectationsFailed += run.expectationsFailed.length
    failovers.set(run.scenario, [...(failovers.get(run.scenario) ?? []), ...run.failoverSeconds])
    rows.set(run.scenario, row)
  }
  return [...rows.values()].map((row) => {
    const measured = failovers.get(row.scenario) ?? []
    return {...row, secondsPerRun: row.secondsPerRun / row.runs, failoverMedianSeconds: median(measured), failoverWorstSeconds: measured.length > 0 ? Math.max(...measured) : null}
  })
}

/** What fails a row: every acks=all violation and every expectation of the scenario that did not hold. */
export function rowViolations(row: ScenarioRow): number {
  return totalViolations(row.violations) + row.expectationsFailed
}

const COLUMNS = ['scenario', 'runs', 'acknowledged', 'failed', 'lost', 'duplicated', 'changed', 'divergent', 'non-monotonic', 'phantom', 'single-copy acks', 'expectations failed', 'longest unavailability s', 'failover s (median / worst)', 's per run']

function cells(row: ScenarioRow): string[] {
  const v = row.violations
  const failover = row.failoverMedianSeconds === null ? '' : `${row.failoverMedianSeconds.toFixed(1)} / ${row.failoverWorstSeconds!.toFixed(1)}`
  return [row.scenario, row.runs, row.acknowledged, row.failed, v.lost, v.duplicated, v.changed, v.divergent, v.nonMonotonic, v.phantom, v.underReplicatedAcks, row.expectationsFailed, row.longestUnavailabilitySeconds.toFixed(1), failover, row.secondsPerRun.toFixed(0)].map(String)
}

export function renderTable(rows: ScenarioRow[]): string {
  const body = [COLUMNS, ...rows.map(cells)]
  const widths = COLUMNS.map((_, index) => Math.max(...body.map((line) => line[index]!.length)))
  return body.map((line) => line.map((cell, index) => cell.padEnd(widths[index]!)).join('  ').trimEnd()).join('\n')
}

export function renderMarkdown(rows: ScenarioRow[]): string {
  return [`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${cells(row).join(' | ')} |`)].join('\n')
}
