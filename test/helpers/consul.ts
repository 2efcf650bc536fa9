/**
 * A real Consul agent for tests: started on free loopback ports (HTTP, server RPC, serf LAN
 * and WAN; DNS and gRPC off) with a temporary data directory, ready once it has a leader and
 * its own node is in the catalog (sessions need that), stopped and restarted on the same
 * ports and directory.
 *
 * Two kinds: `dev` (state in memory, gone on restart) and `persistent` (a single server with
 * a data directory, `-server -bootstrap-expect=1`, whose state survives a restart). Either can
 * take more configuration (`hcl`: ACLs, a `tls` block) and an HTTPS port beside the HTTP one;
 * with ACLs the helper's own reads send `managementToken`.
 *
 * The binary comes from scripts/ensure-consul, which builds it on a fresh machine. When
 * neither a consul binary nor Go exists, `requireConsulBinary` fails the suite saying what to install:
 * a cluster test that quietly does not run proves nothing.
 */
import {execFile, spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import {freePort} from '../../src/playground/free-port.js'
import os from 'node:os'
import path from 'node:path'
import {repoRoot} from './cli.js'

// Building Consul from source takes minutes on 2 cores; a suite's before hook waits this long.
export const CONSUL_BUILD_TIMEOUT_MS = 30 * 60 * 1000
// A single-server Consul elects itself and syncs its node in a few seconds; a loaded machine needs more.
const CONSUL_READY_TIMEOUT_MS = 60_000
const CONSUL_STOP_TIMEOUT_MS = 15_000
const POLL_INTERVAL_MS = 100
const NODE_NAME = 'lignum-test'
/** Starts on fresh ports after a port another process took first; more clashes than this mean ports are scarce. */
const PORT_CLASH_ATTEMPTS_MAX = 3
/** The longest ConsulAgent.start takes before it gives up: every attempt waits for readiness. */
export const CONSUL_START_TIMEOUT_MS_MAX = CONSUL_READY_TIMEOUT_MS * PORT_CLASH_ATTEMPTS_MAX

let binaryLookup: Promise<{path?: string; missingReason?: string}> | undefined

/** The consul binary, or the reason the cluster tests cannot run here. Builds it if needed. */
export function findConsulBinary(): Promise<{path?: string; missingReason?: string}> {
  binaryLookup ??= lookUpBinary()
  return binaryLookup
}

async function lookUpBinary(): Promise<{path?: string; missingReason?: string}> {
  const haveConsul = Boolean(process.env.LIGNUM_CONSUL_BIN) || commandExists('consul')
  if (!haveConsul && !commandExists('go')) {
    return {missingReason: 'neither a consul binary (LIGNUM_CONSUL_BIN or PATH) nor Go to build one is available'}
  }
  const script = path.join(repoRoot, 'scripts', 'ensure-consul')
  const consulPath = await new Promise<string>((resolve, reject) => {
    execFile(script, {timeout: CONSUL_BUILD_TIMEOUT_MS, maxBuffer: 1 << 20}, (error, stdout, stderr) => {
      if (error) reject(new Error(`scripts/ensure-consul failed: ${error.message}\n${stderr}`))
      else resolve(stdout.trim())
    })
  })
  return {path: consulPath}
}

/** For a mocha `before` hook: the consul binary (built if need be), or a failure saying what to install. */
export async function requireConsulBinary(context: Mocha.Context): Promise<string> {
  context.timeout(CONSUL_BUILD_TIMEOUT_MS)
  const found = await findConsulBinary()
  if (!found.path) throw new Error(`the cluster tests need Consul: ${found.missingReason}; install Go or set LIGNUM_CONSUL_BIN`)
  return found.path
}

function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], {stdio: 'ignore'}).status === 0
}

export interface ConsulPorts {
  http: number
  server: number
  serfLan: number
  serfWan: number
}

export interface ConsulExtras {
  /** More agent configuration, in HCL (e.g. an `acl` and a `tls` block). */
  hcl?: string
  /** Opens an HTTPS port too (the `tls` block in `hcl` says with which certificates). */
  https?: boolean
  /** The token the helper's own reads send, when `hcl` turns ACLs on with default deny. */
  managementToken?: string
}

export class ConsulAgent {
  private child: ChildProcess | undefined
  private output = ''

  private constructor(
    private readonly binary: string,
    readonly kind: 'dev' | 'persistent',
    readonly ports: ConsulPorts & {https?: number},
    readonly dataDir: string,
    private readonly extras: ConsulExtras,
  ) {}

  /** Starts an agent; `ports` fixes some ports (a test that points a node at Consul before it runs). */
  static async start(binary: string, kind: 'dev' | 'persistent' = 'dev', fixedPorts: Partial<ConsulPorts> = {}, extras: ConsulExtras = {}): Promise<ConsulAgent> {
    for (let attempt = 1; ; attempt++) {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-consul-'))
      const ports = {
        http: fixedPorts.http ?? (await freePort()),
        server: fixedPorts.server ?? (await freePort()),
        serfLan: fixedPorts.serfLan ?? (await freePort()),
        serfWan: fixedPorts.serfWan ?? (await freePort()),
        ...(extras.https ? {https: await freePort()} : {}),
      }
      const agent = new ConsulAgent(binary, kind, ports, dataDir, extras)
      try {
        await agent.launch()
        return agent
      } catch (error) {
        await agent.destroy()
        // A probed port can be taken by another process before Consul binds it; fresh ports fix that.
        const clash = agent.log.includes('address already in use')
        if (!clash || attempt >= PORT_CLASH_ATTEMPTS_MAX || Object.keys(fixedPorts).length > 0) throw error
      }
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.ports.http}`
  }

  get httpsUrl(): string {
    if (this.ports.https === undefined) throw new Error('this agent was started without an HTTPS port')
    return `https://127.0.0.1:${this.ports.https}`
  }

  /** What the agent printed, for a failing test's message. */
  get log(): string {
    return this.output
  }

  /** Stops the agent (SIGTERM, then SIGKILL) and keeps its data directory. */
  async stop(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), CONSUL_STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }

  /** Starts it again on the same ports and data directory. */
  async restart(): Promise<void> {
    await this.stop()
    await this.launch()
  }

  /** Stops the agent and removes its data directory. */
  async destroy(): Promise<void> {
    await this.stop()
    await rm(this.dataDir, {recursive: true, force: true})
  }

  private arguments(): string[] {
    const https = this.ports.https === undefined ? '' : `, https = ${this.ports.https}`
    const ports = `ports { dns = -1, grpc = -1, grpc_tls = -1, http = ${this.ports.http}${https}, server = ${this.ports.server}, serf_lan = ${this.ports.serfLan}, serf_wan = ${this.ports.serfWan} }`
    const extra = this.extras.hcl === undefined ? [] : ['-hcl', this.extras.hcl]
    const common = ['-node', NODE_NAME, '-bind', '127.0.0.1', '-client', '127.0.0.1', '-hcl', ports, ...extra, '-log-level', 'warn']
    const kind =
      this.kind === 'dev'
        ? ['-dev']
        : ['-server', '-bootstrap-expect=1', '-data-dir', this.dataDir, '-hcl', 'performance { raft_multiplier = 1 }']
    return ['agent', ...kind, ...common]
  }

  private async launch(): Promise<void> {
    const child = spawn(this.binary, this.arguments(), {stdio: ['ignore', 'pipe', 'pipe']})
    this.child = child
    const collect = (chunk: Buffer) => {
      // Keep the tail only: enough to explain a failure, bounded for long tests.
      this.output = (this.output + chunk.toString('utf8')).slice(-20_000)
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    await this.waitUntilReady(child)
  }

  private async waitUntilReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + CONSUL_READY_TIMEOUT_MS
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`consul exited with ${child.exitCode}:\n${this.output}`)
      if ((await this.hasLeader()) && (await this.hasOwnNode())) return
      await sleep(POLL_INTERVAL_MS)
    }
    throw new Error(`consul not ready after ${CONSUL_READY_TIMEOUT_MS} ms:\n${this.output}`)
  }

  private async hasLeader(): Promise<boolean> {
    const leader = await this.getJson('/v1/status/leader')
    return typeof leader === 'string' && leader.length > 0
  }

  private async hasOwnNode(): Promise<boolean> {
    const node = await this.getJson(`/v1/catalog/node/${NODE_NAME}`)
    return Boolean(node && typeof node === 'object' && (node as {Node?: unknown}).Node)
  }

  /** GETs a Consul HTTP path, answering undefined while Consul is not up. */
  async getJson(pathAndQuery: string): Promise<unknown> {
    try {
      const headers: Record<string, string> = this.extras.managementToken === undefined ? {} : {'X-Consul-Token': this.extras.managementToken}
      const response = await fetch(`${this.url}${pathAndQuery}`, {headers, signal: AbortSignal.timeout(5_000)})
      if (!response.ok) return undefined
      return await response.json()
    } catch {
      return undefined
    }
  }
}

/** A port free for TCP and UDP on 127.0.0.1 (serf listens on both), never the same twice: the playground's own probe. */
export {freePort}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
