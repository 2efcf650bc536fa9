/**
 * The `failover` part of `npm run bench -- --failover` (issue 10's "Must show"): failover time,
 * from kill -9 of a partition's leader to the next acknowledged acks=all write, median and worst
 * over N runs, for three Lignum nodes (`lignum serve --consul` from dist/, a real dev Consul)
 * and three Kafka 4.1.1 KRaft nodes, in one run on this machine. Both sides: a topic with RF 3
 * and min ISR 2, one steady producer sending one record at a time (Lignum: the client library;
 * Kafka: KafkaProducer in a small Java probe), the leader's process killed with SIGKILL.
 *
 * Two profiles: `default` (each system's shipped settings) and `tuned` (Lignum's session TTL and
 * Kafka's broker session timeout both 3 s, heartbeats a third of it, replica lag 2 s), so the
 * comparison can be read like for like. Each (profile, system) starts a fresh cluster, runs N
 * failovers on it (restarting the killed node in between) and stops it; the system order
 * alternates between profiles. Everything started is stopped at the end, also on error or Ctrl-C.
 *
 * Options: --failover-runs N (5), --failover-profiles default,tuned,
 * --failover-systems lignum,kafka, --failover-victim leader|leader-and-controller (leader: a
 * partition leader that is not the controller). Only a full run (5+ runs, both systems, both
 * profiles) writes its section into bench/results/latest.{json,md}; others write into the
 * scratch directory. dist/ must be built from the current src/ (`npm run build`).
 */
import {mkdir, readdir, stat} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {BenchOptions} from './run.js'
import {BACKOFF_MS_INITIAL, BACKOFF_MS_MAX} from '../src/client/retry.js'
import {settings as lignumSettings} from '../src/config/schema.js'
import {ConsulAgent, findConsulBinary} from '../test/helpers/consul.js'
import {victims, type FailoverSample, type Victim} from './peers/failover-common.js'
import {KafkaFailoverCluster, kafkaProducerSettings, type KafkaProfile} from './peers/failover-kafka.js'
import {LignumFailoverCluster, type LignumProfile} from './peers/failover-lignum.js'
import {failoverRatios, failoverRows, renderFailoverMarkdown, type FailoverResults} from './peers/failover-report.js'
import {readInstalledPeer} from './peers/installed-peers.js'
import {javaVersion} from './peers/kafka.js'
import {repoRoot} from './peers/lignum-build.js'
import {runTool, stopAllServers} from './peers/processes.js'
import {writeSection} from './peers/result-sections.js'

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results')
const defaultRuns = 5
const systemNames = ['lignum', 'kafka'] as const
type SystemName = (typeof systemNames)[number]

interface Profile {
  name: string
  lignum: LignumProfile
  kafka: KafkaProfile
}

/** A third of the session, as Lignum renews its check (three times per TTL). */
const tunedSessionMs = 3_000
const tunedHeartbeatMs = 1_000
const tunedReplicaLagMs = 2_000

const profiles: Profile[] = [
  {
    name: 'default',
    lignum: {
      sessionTtlMs: lignumSettings.sessionTtlMs.default as number,
      lockDelayMs: lignumSettings.lockDelayMs.default as number,
      replicaLagMaxMs: lignumSettings.replicaLagMaxMs.default as number,
    },
    kafka: {brokerProperties: []},
  },
  {
    name: 'tuned',
    lignum: {sessionTtlMs: tunedSessionMs, lockDelayMs: lignumSettings.lockDelayMs.default as number, replicaLagMaxMs: tunedReplicaLagMs},
    kafka: {brokerProperties: [`broker.session.timeout.ms=${tunedSessionMs}`, `broker.heartbeat.interval.ms=${tunedHeartbeatMs}`, `replica.lag.time.max.ms=${tunedReplicaLagMs}`]},
  },
]

/** Kafka 4.1.1's documented defaults for what decides its failover time (the default profile runs with these). */
const kafkaDefaults = 'broker.session.timeout.ms=9000, broker.heartbeat.interval.ms=2000, replica.lag.time.max.ms=30000; producer retry.backoff.ms=100, retry.backoff.max.ms=1000, reconnect.backoff.ms=50, reconnect.backoff.max.ms=1000, request.timeout.ms=30000, delivery.timeout.ms=120000, metadata.max.age.ms=300000'

interface FailoverOptions {
  runs: number
  profiles: Profile[]
  systems: SystemName[]
  victim: Victim
}

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name)
  return index >= 0 ? args[index + 1] : undefined
}

function choose<T extends string>(args: string[], flag: string, allowed: readonly T[], fallback: string): T[] {
  const chosen = (option(args, flag) ?? fallback).split(',')
  const unknown = chosen.filter((name) => !(allowed as readonly string[]).includes(name))
  if (unknown.length > 0) throw new Error(`unknown ${flag} ${unknown.join(',')}; choose from ${allowed.join(',')}`)
  return chosen as T[]
}

export function parseFailoverOptions(args: string[]): FailoverOptions {
  const runs = Number(option(args, '--failover-runs') ?? defaultRuns)
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--failover-runs must be a whole number of at least 1, not ${option(args, '--failover-runs')}`)
  const profileNames = choose(args, '--failover-profiles', profiles.map((profile) => profile.name), profiles.map((profile) => profile.name).join(','))
  const [victim, ...more] = choose(args, '--failover-victim', victims, 'leader')
  if (more.length > 0) throw new Error('--failover-victim takes one of leader, leader-and-controller')
  return {runs, profiles: profiles.filter((profile) => profileNames.includes(profile.name)), systems: choose(args, '--failover-systems', systemNames, systemNames.join(',')), victim: victim!}
}

/** Newest modification time under `directory`, in ms. */
async function newestMtimeMs(directory: string): Promise<number> {
  let newest = 0
  for (const entry of await readdir(directory, {withFileTypes: true, recursive: true})) {
    if (entry.isFile()) newest = Math.max(newest, (await stat(path.join(entry.parentPath, entry.name))).mtimeMs)
  }
  return newest
}

/** The nodes run dist/ (as the cluster tests do): it must exist and be newer than src/. */
async function checkDistIsCurrent(): Promise<void> {
  const serve = path.join(repoRoot, 'dist', 'commands', 'serve.js')
  const built = await stat(serve).then((info) => info.mtimeMs, () => undefined)
  if (built === undefined) throw new Error('dist/ is missing: run `npm run build` first (the failover bench runs the nodes from dist/)')
  if ((await newestMtimeMs(path.join(repoRoot, 'src'))) > built + 1_000) throw new Error('dist/ is older than src/: run `npm run build` first (the failover bench runs the nodes from dist/)')
}

export async function run(options: BenchOptions): Promise<FailoverResults | {skipped: string}> {
  const failoverOptions = parseFailoverOptions(options.args)
  const cleanups: (() => Promise<void>)[] = [stopAllServers]
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
  }
  const stopOnSignal = () => void cleanUp().finally(() => process.exit(130))
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  try {
    const wantLignum = failoverOptions.systems.includes('lignum')
    if (wantLignum) await checkDistIsCurrent()
    const found = wantLignum ? await findConsulBinary() : {path: undefined, missingReason: undefined}
    if (wantLignum && !found.path) return {skipped: `no Consul: ${found.missingReason}`}
    const consul = found.path ? await ConsulAgent.start(found.path, 'dev') : undefined
    if (consul) cleanups.push(() => consul.destroy())
    const kafka = failoverOptions.systems.includes('kafka') ? await readInstalledPeer('kafka') : 'not asked for'
    if (typeof kafka === 'string' && failoverOptions.systems.includes('kafka')) return {skipped: `kafka unavailable: ${kafka}; run scripts/ensure-peers kafka`}
    const environment: Environment = {options, consulUrl: consul?.url, kafkaInstallDir: typeof kafka === 'string' ? undefined : kafka.detail, cleanups, notes: []}
    return await measureAll(environment, failoverOptions)
  } finally {
    await cleanUp()
    process.removeListener('SIGINT', stopOnSignal)
    process.removeListener('SIGTERM', stopOnSignal)
  }
}

interface Environment {
  options: BenchOptions
  consulUrl: string | undefined
  kafkaInstallDir: string | undefined
  cleanups: (() => Promise<void>)[]
  notes: string[]
}

interface FailoverCluster {
  measureOnce(victim: Victim, profileName: string): Promise<FailoverSample>
  stop(): Promise<void>
}

async function startCluster(environment: Environment, system: SystemName, profile: Profile): Promise<FailoverCluster> {
  if (system === 'lignum') return LignumFailoverCluster.start(environment.consulUrl!, `bench-failover-${process.pid}-${profile.name}`, profile.lignum)
  const dataDir = path.join(environment.options.scratchDir, `kafka-${profile.name}`)
  return KafkaFailoverCluster.start(environment.kafkaInstallDir!, dataDir, KafkaFailoverCluster.logDirOf(environment.options.scratchDir, profile.name), profile.kafka)
}

async function measureAll(environment: Environment, failoverOptions: FailoverOptions): Promise<FailoverResults> {
  const {options} = environment
  const samples: FailoverSample[] = []
  for (const [profileIndex, profile] of failoverOptions.profiles.entries()) {
    const order = profileIndex % 2 === 0 ? failoverOptions.systems : [...failoverOptions.systems].reverse()
    for (const system of order) {
      options.log(`failover: ${profile.name} profile, ${system}: starting three nodes`)
      let cluster: FailoverCluster
      try {
        cluster = await startCluster(environment, system, profile)
      } catch (error) {
        const reason = `the cluster did not start, no runs: ${error instanceof Error ? error.message : String(error)}`
        options.log(`failover: ${profile.name} ${system}: ${reason}`)
        environment.notes.push(`${profile.name} ${system}: ${reason}`)
        continue
      }
      const stop = () => cluster.stop()
      environment.cleanups.push(stop)
      try {
        for (let runIndex = 0; runIndex < failoverOptions.runs; runIndex++) {
          let sample: FailoverSample
          try {
            sample = await cluster.measureOnce(failoverOptions.victim, profile.name)
          } catch (error) {
            // The cluster is in no known state (a node did not come back): the other profiles and systems still run.
            const reason = `run ${runIndex + 1} failed, the remaining runs of this cluster skipped: ${error instanceof Error ? error.message : String(error)}`
            options.log(`failover: ${profile.name} ${system}: ${reason}`)
            environment.notes.push(`${profile.name} ${system}: ${reason}`)
            break
          }
          options.log(`failover: ${profile.name} ${system} run ${sample.run}: killed ${sample.killedNode || '–'}, ${sample.failoverMs ?? '–'} ms to the next ack (new leader ${sample.newLeader ?? '–'} known at ${sample.leaderKnownMs ?? '–'} ms)${sample.error ? `; ${sample.error}` : ''}`)
          samples.push(sample)
          if (sample.error) environment.notes.push(`${profile.name} ${system} run ${sample.run}: ${sample.error}`)
        }
      } finally {
        environment.cleanups.splice(environment.cleanups.indexOf(stop), 1)
        await stop()
      }
    }
  }
  const rows = failoverRows(samples)
  const results: FailoverResults = {
    machine: {cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryBytes: os.totalmem(), kernel: `${os.type()} ${os.release()}`, node: process.version},
    date: new Date().toISOString(),
    command: `npm run bench -- --only failover${options.args.filter((arg) => arg !== '--only' && arg !== 'failover').map((arg) => ` ${arg}`).join('')}`,
    versions: await versions(environment),
    victim: failoverOptions.victim,
    profiles: Object.fromEntries(failoverOptions.profiles.map((profile) => [profile.name, profileSettings(profile)])),
    whatSetsTheFigure: whatSetsTheFigure(),
    rows,
    ratios: failoverRatios(rows),
    samples,
    notes: environment.notes,
  }
  const full = failoverOptions.runs >= defaultRuns && failoverOptions.systems.length === systemNames.length && failoverOptions.profiles.length === profiles.length
  const outDir = full ? resultsDir : options.scratchDir
  const section = failoverOptions.victim === 'leader' ? 'failover' : 'failover-controller'
  await mkdir(outDir, {recursive: true})
  await writeSection(path.join(outDir, 'latest.json'), path.join(outDir, 'latest.md'), section, results, renderFailoverMarkdown(results))
  options.log(`failover: wrote the "${section}" section of ${path.join(outDir, 'latest.json')} and latest.md${full ? '' : ' (not a full run: bench/results/ left alone)'}`)
  return results
}

async function versions(environment: Environment): Promise<Record<string, string>> {
  const commit = await runTool('git', ['rev-parse', '--short', 'HEAD'], {timeoutMs: 10_000, cwd: repoRoot})
  const changes = await runTool('git', ['status', '--porcelain', '--', 'src'], {timeoutMs: 10_000, cwd: repoRoot})
  const dirty = changes.stdout.trim() ? ' + uncommitted changes in src/' : ''
  return {
    ...(environment.consulUrl ? {lignum: `lignum (${commit.stdout.trim() || 'no git'}${dirty}) from dist/, node ${process.version}, Consul dev agent`} : {}),
    ...(environment.kafkaInstallDir ? {kafka: `Apache Kafka ${path.basename(environment.kafkaInstallDir).replace(/^kafka-/, '')} (KRaft, 3 combined broker+controller nodes), ${await javaVersion()}`} : {}),
  }
}

function profileSettings(profile: Profile): Record<string, string> {
  const lignum = profile.lignum
  return {
    lignum: `LIGNUM_SESSION_TTL_MS=${lignum.sessionTtlMs} (check renewed every ${Math.round(lignum.sessionTtlMs / 3)} ms), LIGNUM_LOCK_DELAY_MS=${lignum.lockDelayMs}, LIGNUM_REPLICA_LAG_MAX_MS=${lignum.replicaLagMaxMs}, lease margin 20% of the TTL, LIGNUM_FLUSH_POLICY=never; client: producer defaults (retry backoff ${BACKOFF_MS_INITIAL} ms doubling to ${BACKOFF_MS_MAX} ms, delivery timeout 30 s), acks=all, idempotent`,
    kafka: profile.kafka.brokerProperties.length > 0
      ? `${profile.kafka.brokerProperties.join(', ')} (otherwise defaults: ${kafkaDefaults}); producer ${kafkaProducerSettings.join(' ')}`
      : `defaults: ${kafkaDefaults}; producer ${kafkaProducerSettings.join(' ')}`,
  }
}

function whatSetsTheFigure(): Record<string, string> {
  return {
    lignum: 'the session TTL: the dead node\'s Consul check goes critical a TTL after its last renewal (renewals every TTL/3, so 2/3 to 1 TTL after the kill), which ends its session; the controller\'s blocking watch on service health sees it and writes the next leader from the ISR with check-and-set (a Consul round trip); the new leader applies the state from its own watch; the producer, retrying since the kill with backoff growing to 1 s, refreshes metadata and finds it. Lock-delay only adds when the controller dies too (its lock is free a lock-delay after its session ends). The lease margin and the replica lag do not enter: the dead leader is dropped from the ISR by the election itself, and the survivors are in sync.',
    kafka: 'broker.session.timeout.ms: the active controller fences a broker whose heartbeats (every broker.heartbeat.interval.ms) stopped for the session timeout, so 7 to 9 s after the kill by default, then elects the next leader from the ISR (dropping the fenced one); the brokers learn it from the metadata log at once; the producer, retrying with retry.backoff.ms growing to retry.backoff.max.ms, refreshes metadata and finds it. A dead controller adds a KRaft election (controller.quorum.fetch.timeout.ms, election timeout) and the new controller\'s fresh session timeout for the dead broker.',
  }
}
