/**
 * Consul and `lignum serve` inside members of a NetworkLab, for the partition scenarios: each
 * process listens on its own namespace's address (fixed ports, since every namespace has its
 * own), so cutting a member's link cuts it from Consul and from the other nodes alike. The
 * node object offers what FaultCluster uses of the test helper's ServeProcess.
 */
import {type ChildProcess} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import {setTimeout as sleep} from 'node:timers/promises'
import {WireClient} from '../src/client/index.js'
import {clusterStatusOf, type ClusterStatus} from '../src/ui/cluster-status-table.js'
import {lignumBin, repoRoot} from '../test/helpers/cli.js'
import type {LogLine} from '../test/cluster/member-process.js'
import type {NetworkLab} from './netns.js'

const GRPC_PORT = 9092
const HTTP_PORT = 9644
const CONSUL_HTTP_PORT = 8500
// Starting a node or Consul on a loaded 2-core machine.
const START_TIMEOUT_MS = 60_000
const STATUS_TIMEOUT_MS = 5_000
const POLL_MS = 100

export interface NodeSettings {
  consulUrl: string
  cluster: string
  nodeId: string
  sessionTtlMs: number
  lockDelayMs: number
  env: Record<string, string>
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/** A dev Consul agent in the lab member `name`; its URL, and a stop. */
export async function startConsulIn(lab: NetworkLab, name: string, binary: string): Promise<{url: string; stop(): Promise<void>}> {
  const address = lab.member(name).address
  const child = lab.spawnIn(name, binary, ['agent', '-dev', '-node', 'lignum-faults', '-bind', address, '-client', address, '-log-level', 'warn', '-hcl', 'ports { dns = -1, grpc = -1, grpc_tls = -1 }'], {stdio: 'ignore'})
  const url = `http://${address}:${CONSUL_HTTP_PORT}`
  const stop = async () => {
    child.kill('SIGKILL')
    await exited(child)
  }
  const deadline = Date.now() + START_TIMEOUT_MS
  while (Date.now() < deadline) {
    try {
      const leader = await (await fetch(`${url}/v1/status/leader`, {signal: AbortSignal.timeout(STATUS_TIMEOUT_MS)})).json()
      const node = await fetch(`${url}/v1/catalog/node/lignum-faults`, {signal: AbortSignal.timeout(STATUS_TIMEOUT_MS)})
      if (typeof leader === 'string' && leader.length > 0 && node.ok && (await node.json())) return {url, stop}
    } catch {
      // Not up yet.
    }
    if (child.exitCode !== null) break
    await sleep(POLL_MS)
  }
  await stop()
  throw new Error(`consul in ${name} did not become ready within ${START_TIMEOUT_MS} ms`)
}

export class NamespacedServe {
  readonly logs: LogLine[] = []
  private client: WireClient | undefined

  private constructor(
    private readonly lab: NetworkLab,
    readonly settings: NodeSettings,
    readonly dataDir: string,
    private readonly child: ChildProcess,
  ) {
    readline.createInterface({input: child.stderr!}).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine)
      } catch {
        this.logs.push({level: 'raw', msg: line})
      }
    })
    child.stdout!.resume()
  }

  static async start(lab: NetworkLab, settings: NodeSettings): Promise<NamespacedServe> {
    return NamespacedServe.spawn(lab, settings, await mkdtemp(path.join(os.tmpdir(), `lignum-${settings.nodeId}-`)))
  }

  private static async spawn(lab: NetworkLab, settings: NodeSettings, dataDir: string): Promise<NamespacedServe> {
    const address = lab.member(settings.nodeId).address
    const args = [lignumBin, 'serve', '--data-dir', dataDir, '--host', address, '--grpc-port', String(GRPC_PORT), '--http-port', String(HTTP_PORT), '--node-id', settings.nodeId, '--consul', settings.consulUrl, '--cluster', settings.cluster]
    const child = lab.spawnIn(settings.nodeId, process.execPath, args, {
      cwd: repoRoot,
      env: {...process.env, LIGNUM_SESSION_TTL_MS: String(settings.sessionTtlMs), LIGNUM_LOCK_DELAY_MS: String(settings.lockDelayMs), LOG_LEVEL: 'info', ...settings.env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const serve = new NamespacedServe(lab, settings, dataDir, child)
    const deadline = Date.now() + START_TIMEOUT_MS
    while (!serve.logs.some((line) => line.msg === 'node started')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`lignum serve in ${settings.nodeId} did not start: ${JSON.stringify(serve.logs.slice(-10))}`)
      await sleep(POLL_MS)
    }
    return serve
  }

  get nodeId(): string {
    return this.settings.nodeId
  }

  get address(): string {
    return `${this.lab.member(this.nodeId).address}:${GRPC_PORT}`
  }

  async status(): Promise<ClusterStatus> {
    this.client ??= await WireClient.connect({brokers: this.address, connectTimeoutMs: STATUS_TIMEOUT_MS})
    return clusterStatusOf(await this.client.clusterStatus())
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal)
  }

  async killHard(): Promise<void> {
    this.closeClient()
    this.child.kill('SIGKILL')
    await exited(this.child)
  }

  async stop(): Promise<void> {
    this.closeClient()
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGCONT')
      this.child.kill('SIGTERM')
      await exited(this.child)
    }
  }

  async restart(): Promise<NamespacedServe> {
    await this.stop()
    return NamespacedServe.spawn(this.lab, this.settings, this.dataDir)
  }

  async destroy(): Promise<void> {
    await this.stop()
    await rm(this.dataDir, {recursive: true, force: true})
  }

  private closeClient(): void {
    this.client?.close()
    this.client = undefined
  }
}
