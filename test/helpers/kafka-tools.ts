/**
 * Apache Kafka's own tools for compatibility tests, from the jars scripts/ensure-peers
 * installs outside the repository (the benchmark finds them the same way, in
 * bench/peers/installed-peers.ts), run as `java -cp '<lib>/*' <main class> ...`.
 *
 * When Kafka is not installed yet, the suite installs it (scripts/ensure-peers kafka, cached
 * outside the repository, as .ci/run does); when that cannot be done, or Java is missing, the
 * suite fails saying what to install: a compatibility test that quietly does not run proves nothing.
 */
import {execFile, spawn, spawnSync} from 'node:child_process'
import path from 'node:path'
import {readInstalledPeer} from '../../bench/peers/installed-peers.js'
import {repoRoot} from './cli.js'

/** A JVM with Kafka's classpath starts in about a second; a loaded machine takes much longer. */
const KAFKA_TOOL_TIMEOUT_MS = 60_000
/** Resolving Kafka's jars from Maven Central on a fresh machine takes minutes. */
const KAFKA_INSTALL_TIMEOUT_MS = 25 * 60 * 1000

export interface KafkaTools {
  version: string
  libDir: string
}

export interface ToolResult {
  code: number | null
  stdout: string
  stderr: string
}

/** For a mocha `before` hook: Kafka's jars (installed if need be) and a java, or a failure saying what to install. */
export async function requireKafkaTools(context: Mocha.Context): Promise<KafkaTools> {
  context.timeout(KAFKA_INSTALL_TIMEOUT_MS)
  if (spawnSync('sh', ['-c', 'command -v java'], {stdio: 'ignore'}).status !== 0) throw new Error("Kafka's tools need Java 17 on PATH")
  let peer = await readInstalledPeer('kafka')
  if (typeof peer === 'string') {
    await installKafka()
    peer = await readInstalledPeer('kafka')
  }
  if (typeof peer === 'string') throw new Error(`Kafka's tools are needed (scripts/ensure-peers kafka installs them): Kafka is ${peer}`)
  return {version: peer.version, libDir: path.join(peer.detail, 'lib')}
}

function installKafka(): Promise<void> {
  return new Promise((resolve) => {
    // ensure-peers records a failure in its manifest; the caller reads and reports it.
    execFile(path.join(repoRoot, 'scripts', 'ensure-peers'), ['kafka'], {timeout: KAFKA_INSTALL_TIMEOUT_MS, maxBuffer: 1 << 20}, () => resolve())
  })
}

/** Runs a main class (or a single-file Java source) on Kafka's classpath and collects what it prints. */
export function runKafkaTool(tools: KafkaTools, mainClassOrSource: string, args: string[]): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-cp', path.join(tools.libDir, '*'), mainClassOrSource, ...args], {stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), KAFKA_TOOL_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })
}

/** Kafka's console producer, fed `lines` ("key|value") on stdin with `properties`; its exit code and stderr. */
export function consoleProduce(tools: KafkaTools, bootstrap: string, topic: string, lines: string[], properties: string[]): Promise<{code: number | null; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-cp', path.join(tools.libDir, '*'), 'org.apache.kafka.tools.ConsoleProducer', '--bootstrap-server', bootstrap, '--topic', topic, '--property', 'parse.key=true', '--property', 'key.separator=|', ...properties.flatMap((property) => ['--producer-property', property])], {stdio: ['pipe', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stderr}))
    child.stdin.end(lines.map((line) => `${line}\n`).join(''))
  })
}
