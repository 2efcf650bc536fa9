/**
 * A real `lignum serve --consul …` process for cluster tests: the compiled CLI on free
 * loopback ports, its own data directory, its JSON log lines collected from stderr.
 * The node binds port 0 itself and its ports are read from its "node started" line: a
 * port probed free and handed over later can be taken in between by another process.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import {WireClient, type ClientTlsOptions} from '../../src/client/index.js'
import {clusterStatusOf, type ClusterStatus} from '../../src/ui/cluster-status-table.js'
import {lignumBin, repoRoot} from '../helpers/cli.js'
import type {LogLine} from './member-process.js'

export interface ServeSettings {
  /** Without it the node stays standalone. */
  consulUrl?: string
  cluster: string
  nodeId: string
  sessionTtlMs: number
  lockDelayMs: number
  /** More LIGNUM_* settings for the process. */
  env?: Record<string, string>
  /** How status() reaches the node when it serves TLS. */
  clientTls?: ClientTlsOptions
}

// A status request to a node that is up answers in milliseconds; a frozen one never does.
const STATUS_TIMEOUT_MS = 5_000

export class ServeProcess {
  readonly logs: LogLine[] = []
  grpcPort: number
  httpPort: number
  /** performance.now() when the process exited; undefined while it runs. */
  exitedAtMs: number | undefined
  private readonly exited: Promise<void>
  private client: WireClient | undefined

  private constructor(
    readonly settings: ServeSettings,
    grpcPort: number,
    httpPort: number,
    readonly dataDir: string,
    private readonly child: ChildProcess,
  ) {
    this.grpcPort = grpcPort
    this.httpPort = httpPort
    readline.createInterface({input: child.stderr!}).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine)
      } catch {
        this.logs.push({level: 'raw', msg: line})
      }
    })
    child.stdout!.resume()
    this.exited = new Promise((resolve) => child.once('exit', () => {
      this.exitedAtMs = performance.now()
      resolve()
    }))
  }

  static async start(settings: ServeSettings): Promise<ServeProcess> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), `lignum-${settings.nodeId}-`))
    return ServeProcess.spawn(settings, dataDir, 0, 0)
  }

  /** The same node again (data directory, ports it had, settings) after it stopped. */
  async restart(): Promise<ServeProcess> {
    await this.stop()
    return this.startAgain()
  }

  /** The same node again, once it stopped (or was killed) and its files were perhaps damaged. */
  startAgain(): Promise<ServeProcess> {
    if (this.exitedAtMs === undefined) throw new Error(`${this.nodeId} still runs: stop it first`)
    return ServeProcess.spawn(this.settingsOnTheSameKafkaPort(), this.dataDir, this.grpcPort, this.httpPort)
  }

  /**
   * Its settings with the Kafka listener (if it ran one) on the port it had: Kafka's clients
   * bootstrapped from the node's address reach it again, as they reach gRPC.
   */
  private settingsOnTheSameKafkaPort(): ServeSettings {
    if (this.settings.env?.LIGNUM_KAFKA_PORT === undefined) return this.settings
    return {...this.settings, env: {...this.settings.env, LIGNUM_KAFKA_PORT: String(portOf(this.kafkaAddress))}}
  }

  private static async spawn(settings: ServeSettings, dataDir: string, grpcPort: number, httpPort: number): Promise<ServeProcess> {
    const args = [
      lignumBin, 'serve',
      '--data-dir', dataDir,
      '--host', '127.0.0.1',
      '--grpc-port', String(grpcPort),
      '--http-port', String(httpPort),
      '--node-id', settings.nodeId,
      ...(settings.consulUrl ? ['--consul', settings.consulUrl, '--cluster', settings.cluster] : []),
    ]
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: {
        ...process.env,
        LIGNUM_SESSION_TTL_MS: String(settings.sessionTtlMs),
        LIGNUM_LOCK_DELAY_MS: String(settings.lockDelayMs),
        LOG_LEVEL: 'info',
        ...settings.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const serve = new ServeProcess(settings, grpcPort, httpPort, dataDir, child)
    await serve.waitForLog('node started')
    serve.readBoundPorts()
    return serve
  }

  get nodeId(): string {
    return this.settings.nodeId
  }

  /** host:port of its Kafka listener (LIGNUM_KAFKA_PORT), from its last "node started" line. */
  get kafkaAddress(): string {
    const started = this.logged('node started').at(-1) as {kafka?: string} | undefined
    if (!started?.kafka || started.kafka === 'off') throw new Error(`node ${this.nodeId} runs no Kafka listener`)
    return started.kafka
  }

  get address(): string {
    return `127.0.0.1:${this.grpcPort}`
  }

  /** The node's answer to ClusterStatus, through the client library. */
  async status(): Promise<ClusterStatus> {
    this.client ??= await WireClient.connect({brokers: this.address, connectTimeoutMs: STATUS_TIMEOUT_MS, tls: this.settings.clientTls})
    return clusterStatusOf(await this.client.clusterStatus())
  }

  async readyz(): Promise<number> {
    const response = await fetch(`http://127.0.0.1:${this.httpPort}/readyz`, {signal: AbortSignal.timeout(STATUS_TIMEOUT_MS)})
    await response.arrayBuffer()
    return response.status
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal)
  }

  async killHard(): Promise<void> {
    this.closeClient()
    this.child.kill('SIGKILL')
    await this.exited
  }

  /** SIGTERM (after SIGCONT, in case it is frozen) and waits for the exit. */
  async stop(): Promise<void> {
    this.closeClient()
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGCONT')
      this.child.kill('SIGTERM')
      await this.exited
    }
  }

  /** Resolves when the process has exited (by itself or a signal sent with signal()). */
  untilExited(): Promise<void> {
    return this.exited
  }

  async destroy(): Promise<void> {
    await this.stop()
    await rm(this.dataDir, {recursive: true, force: true})
  }

  get exitCode(): number | null {
    return this.child.exitCode
  }

  logged(message: string): LogLine[] {
    return this.logs.filter((line) => line.msg === message)
  }

  private closeClient(): void {
    this.client?.close()
    this.client = undefined
  }

  private readBoundPorts(): void {
    const [started] = this.logged('node started')
    this.grpcPort = portOf(started!.grpc)
    this.httpPort = portOf(started!.http)
  }

  private async waitForLog(message: string): Promise<void> {
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      if (this.logged(message).length > 0) return
      if (this.child.exitCode !== null) throw new Error(`lignum serve exited with ${this.child.exitCode}: ${JSON.stringify(this.logs)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`lignum serve did not log "${message}": ${JSON.stringify(this.logs)}`)
  }
}

function portOf(address: unknown): number {
  const port = Number(String(address).split(':').pop())
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no port in the node's "node started" line: ${String(address)}`)
  return port
}
