/**
 * The playground's Consul: one server agent on loopback that elects itself
 * (`-server -bootstrap-expect=1`), with its state in the playground directory so a kept
 * playground resumes its topics (a `-dev` agent keeps state in memory and would forget them).
 * HTTP, server RPC and serf LAN/WAN are on ports chosen free; DNS and gRPC are off, so two
 * playgrounds, or a playground and the tests, never collide. Ready once it has a leader and
 * its own node is in the catalog (nodes' sessions need that).
 */
import {LignumError} from '../errors.js'
import type {ConsulPorts} from './playground-dir.js'
import type {PrefixedLog} from './prefixed-log.js'
import {describeExit, SupervisedProcess} from './supervised-process.js'

// A single server elects itself in a second or two; a loaded 2-core machine needs far more.
const READY_TIMEOUT_MS = 60_000
const READY_POLL_MS = 100
// Each readiness probe is a loopback call: one that hangs this long is retried.
const PROBE_TIMEOUT_MS = 2_000
// Enough of Consul's last words to find the line that says why it stopped.
const LAST_LINES_KEPT = 20
const NODE_NAME = 'lignum-playground'

export interface ConsulStartOptions {
  binary: string
  ports: ConsulPorts
  dataDir: string
  /** Consul's own level: trace, debug, info, warn or error. */
  logLevel: string
  log: PrefixedLog
}

export class PlaygroundConsul {
  private constructor(
    readonly child: SupervisedProcess,
    readonly ports: ConsulPorts,
    private readonly binary: string,
    private readonly lastLines: readonly string[],
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.ports.http}`
  }

  /** Spawns Consul at once, so the caller can stop it from now on; `untilReady` waits for it. */
  static spawn(options: ConsulStartOptions): PlaygroundConsul {
    const lastLines: string[] = []
    const child = new SupervisedProcess({
      name: 'consul',
      command: options.binary,
      args: agentArguments(options),
      log: options.log,
      onLine: (line) => {
        lastLines.push(line)
        if (lastLines.length > LAST_LINES_KEPT) lastLines.shift()
      },
    })
    return new PlaygroundConsul(child, options.ports, options.binary, lastLines)
  }

  /** Resolves once Consul is ready; one line on why if it exits first or takes too long. */
  async untilReady(aborted: () => boolean): Promise<void> {
    const deadlineMs = Date.now() + READY_TIMEOUT_MS
    while (!(await this.ready())) {
      if (this.child.hasExited) {
        throw new LignumError('UNAVAILABLE', `Consul (${this.binary}) did not start, it exited with ${describeExit(await this.child.exited)}${reasonIn(this.lastLines)}; fix that, or set LIGNUM_CONSUL_BIN to another consul`)
      }
      if (aborted()) return
      if (Date.now() > deadlineMs) {
        throw new LignumError('UNAVAILABLE', `Consul (${this.binary}) was not ready within ${READY_TIMEOUT_MS / 1000} s${reasonIn(this.lastLines)}; see its lines above`)
      }
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS))
    }
  }

  private async ready(): Promise<boolean> {
    const leader = await this.getJson('/v1/status/leader')
    if (typeof leader !== 'string' || leader === '') return false
    const node = await this.getJson(`/v1/catalog/node/${NODE_NAME}`)
    return Boolean(node && typeof node === 'object' && (node as {Node?: unknown}).Node)
  }

  private async getJson(pathAndQuery: string): Promise<unknown> {
    try {
      const response = await fetch(`${this.url}${pathAndQuery}`, {signal: AbortSignal.timeout(PROBE_TIMEOUT_MS)})
      return response.ok ? await response.json() : undefined
    } catch {
      return undefined
    }
  }
}

function agentArguments(options: ConsulStartOptions): string[] {
  const {http, server, serfLan, serfWan} = options.ports
  return [
    'agent', '-server', '-bootstrap-expect=1', '-ui',
    '-data-dir', options.dataDir,
    '-node', NODE_NAME,
    '-bind', '127.0.0.1', '-client', '127.0.0.1',
    '-hcl', `ports { dns = -1, grpc = -1, grpc_tls = -1, http = ${http}, server = ${server}, serf_lan = ${serfLan}, serf_wan = ${serfWan} }`,
    // Raft timings for one local server: elect at once instead of waiting out production margins.
    '-hcl', 'performance { raft_multiplier = 1 }',
    // Nodes use KV, sessions and the catalog only; Connect's CA would log errors while it initialises.
    '-hcl', 'connect { enabled = false }',
    '-log-level', options.logLevel,
  ]
}

/** "; <the line saying why>" from Consul's last output: its error line, else its last line. */
function reasonIn(lines: readonly string[]): string {
  const errorLine = [...lines].reverse().find((line) => /error/i.test(line)) ?? lines.at(-1)
  return errorLine === undefined ? '' : `: ${errorLine.replace(/^==> /, '').trim()}`
}
