/**
 * A local cluster to try Lignum with: one Consul and N nodes on loopback, in ordered steps
 * (lock the directory, start Consul and wait until it is ready, start the nodes and wait until
 * each has started, wait until the cluster has a controller and sees every node up) and
 * stopped in reverse (nodes first, so they leave Consul while it still answers, then Consul,
 * then the directory is unlocked and, unless kept, removed).
 *
 * Invariants: every child is registered the moment it is spawned and none is spawned once a
 * stop began, so `stop` and `kill` reach every child there is; `stop` is idempotent and
 * resolves only once every child has exited; a child that exits without being asked to is
 * reported by `unexpectedExit`; and if this process exits by any other path (an uncaught
 * error, a closed stdout), its 'exit' handler SIGKILLs every child still running and closes
 * the directory. Only a SIGKILL of this process itself can leave children behind.
 */
import {WireClient} from '../client/index.js'
import {LignumError} from '../errors.js'
import {clusterStatusOf} from '../ui/cluster-status-table.js'
import {freePort, portFree} from './free-port.js'
import {PlaygroundConsul} from './playground-consul.js'
import {PlaygroundDir, type ConsulPorts, type NodePorts} from './playground-dir.js'
import {PlaygroundNode} from './playground-node.js'
import type {PrefixedLog} from './prefixed-log.js'
import {describeExit, type ProcessExit, type SupervisedProcess} from './supervised-process.js'

// A node drains its leaderships and leaves Consul in a few seconds; past this it is killed.
const NODE_STOP_TIMEOUT_MS = 30_000
// Consul flushes its Raft state and exits within a second or two; past this it is killed.
const CONSUL_STOP_TIMEOUT_MS = 15_000
// A controller is elected within a lock-delay of the first node's session; on a loaded 2-core
// machine with nine nodes starting at once that still takes well under this.
const HEALTHY_TIMEOUT_MS = 120_000
const HEALTHY_POLL_MS = 250
// One status call to a node that is up answers in milliseconds.
const STATUS_TIMEOUT_MS = 5_000

// Three nodes show replication, a controller and failover with the default replication factor.
export const NODES_DEFAULT = 3

export interface PlaygroundOptions {
  /** Given by the user; else as many as the directory's playground had, else NODES_DEFAULT. */
  nodeCount: number | undefined
  /** Kept when given; a fresh temporary directory otherwise. */
  dataDir: string | undefined
  consulBinary: string
  /** The nodes' level (debug, info, warn, error); Consul logs warnings unless it is debug. */
  logLevel: string
  log: PrefixedLog
}

export interface PlaygroundNodeInfo {
  name: string
  grpc: string
  http: string
  kafka: string
  metrics: string
  dataDir: string
  pid: number | undefined
}

export interface PlaygroundInfo {
  brokers: string
  /** The Kafka listeners, as Kafka's clients take them (bootstrap.servers, kcat -b). */
  kafkaBootstrap: string
  cluster: string
  controller: string
  dataDir: string
  dataDirKept: boolean
  resumed: boolean
  consul: {url: string; dataDir: string; pid: number | undefined}
  nodes: PlaygroundNodeInfo[]
}

export interface UnexpectedExit {
  name: string
  exit: ProcessExit
}

async function allFree(ports: readonly number[]): Promise<boolean> {
  for (const port of ports) if (!(await portFree(port))) return false
  return true
}

export function nodeNames(nodeCount: number): string[] {
  return Array.from({length: nodeCount}, (_, index) => `n${index + 1}`)
}

export class Playground {
  private readonly children: SupervisedProcess[] = []
  private consul: PlaygroundConsul | undefined
  private nodes: PlaygroundNode[] = []
  private health = {controller: '', cluster: ''}
  private stopping: Promise<void> | undefined
  private stopped = false
  private readonly unexpected: Promise<UnexpectedExit>
  private reportUnexpected: (exit: UnexpectedExit) => void = () => {}

  private constructor(
    private readonly options: PlaygroundOptions,
    readonly dir: PlaygroundDir,
    readonly nodeCount: number,
  ) {
    this.unexpected = new Promise((resolve) => (this.reportUnexpected = resolve))
    process.once('exit', () => {
      for (const child of this.children) if (!child.hasExited) child.killNow()
      if (!this.stopped) this.dir.closeNow()
    })
  }

  /** Opens (and locks) the directory; `launch` starts the children. */
  static async open(options: PlaygroundOptions): Promise<Playground> {
    const dir = await PlaygroundDir.open(options.dataDir)
    const recorded = dir.previous?.nodeCount
    if (recorded !== undefined && options.nodeCount !== undefined && recorded !== options.nodeCount) {
      await dir.close()
      throw new LignumError('INVALID_ARGUMENT', `${dir.root} holds a playground of ${recorded} nodes; pass --nodes ${recorded} (or no --nodes) to resume it, or choose another --data-dir`)
    }
    return new Playground(options, dir, options.nodeCount ?? recorded ?? NODES_DEFAULT)
  }

  /** Resolves when a child exits without being asked to (never, while all run). */
  unexpectedExit(): Promise<UnexpectedExit> {
    return this.unexpected
  }

  /** Starts Consul, then the nodes; resolves once the cluster is healthy, or at once when a stop began. */
  async launch(): Promise<void> {
    const consulPorts = await this.consulPorts()
    await this.dir.record({nodeCount: this.nodeCount, consulPorts, nodePorts: this.dir.previous?.nodePorts ?? {}})
    if (this.stopping) return
    const consul = PlaygroundConsul.spawn({binary: this.options.consulBinary, ports: consulPorts, dataDir: this.dir.consulDir(), logLevel: this.options.logLevel === 'debug' ? 'debug' : 'warn', log: this.options.log})
    this.consul = consul
    this.supervise(consul.child)
    await consul.untilReady(() => this.stopping !== undefined)
    if (this.stopping) return
    const requestedPorts = await this.nodePortsToRequest()
    const spawned = nodeNames(this.nodeCount).map((name) => {
      const node = PlaygroundNode.spawn({name, dataDir: this.dir.nodeDir(name), consulUrl: consul.url, ports: requestedPorts.get(name)!, logLevel: this.options.logLevel, log: this.options.log})
      this.supervise(node.child)
      return node.started
    })
    this.nodes = await this.unlessOneExits(Promise.all(spawned))
    if (this.stopping) return
    await this.dir.record({nodeCount: this.nodeCount, consulPorts, nodePorts: Object.fromEntries(this.nodes.map((node) => [node.name, node.ports]))})
    this.health = await this.unlessOneExits(this.untilHealthy())
  }

  info(): PlaygroundInfo {
    const consul = this.consul
    if (!consul || this.nodes.length !== this.nodeCount) throw new LignumError('INTERNAL', 'the playground has not started')
    return {
      brokers: this.nodes.map((node) => node.grpcAddress).join(','),
      kafkaBootstrap: this.nodes.map((node) => node.kafkaAddress).join(','),
      cluster: this.health.cluster,
      controller: this.health.controller,
      dataDir: this.dir.root,
      dataDirKept: this.dir.kept,
      resumed: this.dir.previous !== undefined,
      consul: {url: consul.url, dataDir: this.dir.consulDir(), pid: consul.child.pid},
      nodes: this.nodes.map((node) => ({name: node.name, grpc: node.grpcAddress, http: node.httpUrl, kafka: node.kafkaAddress, metrics: `${node.httpUrl}/metrics`, dataDir: node.dataDir, pid: node.child.pid})),
    }
  }

  /** Nodes first (in parallel), then Consul, then the directory. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.stopInOrder()
    return this.stopping
  }

  /** SIGKILL to every child at once (a second Ctrl-C), then the directory. */
  async kill(): Promise<void> {
    this.stopping ??= Promise.resolve()
    await Promise.all(this.children.map((child) => child.kill()))
    await this.dir.close()
    this.stopped = true
  }

  private async stopInOrder(): Promise<void> {
    const consul = this.consul?.child
    await Promise.all(this.children.filter((child) => child !== consul).map((child) => child.stop('SIGTERM', NODE_STOP_TIMEOUT_MS)))
    this.options.log.line('up', 'nodes stopped; stopping Consul')
    // A single Consul server on SIGTERM shuts down without leaving its own Raft peer set.
    await consul?.stop('SIGTERM', CONSUL_STOP_TIMEOUT_MS)
    await this.dir.close()
    this.stopped = true
  }

  /** `step`, or the failure of the first child to exit on its own while it runs. */
  private unlessOneExits<T>(step: Promise<T>): Promise<T> {
    const failed = this.unexpected.then(({name, exit}): never => {
      throw new LignumError('UNAVAILABLE', `${name} exited on its own with ${describeExit(exit)} while the playground was starting; its lines above say why`)
    })
    return Promise.race([step, failed])
  }

  private supervise(child: SupervisedProcess): void {
    this.children.push(child)
    void child.exited.then((exit) => {
      if (!exit.requested) this.reportUnexpected({name: child.name, exit})
    })
  }

  /** A resumed playground's Consul ports when they are all still free (its URL stays the same), else fresh ones. */
  private async consulPorts(): Promise<ConsulPorts> {
    const recorded = this.dir.previous?.consulPorts
    if (recorded && (await allFree(Object.values(recorded)))) return recorded
    return {http: await freePort(), server: await freePort(), serfLan: await freePort(), serfWan: await freePort()}
  }

  /** A resumed node asks for the ports it had when they are still free, so --brokers stays the same; else the node picks. */
  private async nodePortsToRequest(): Promise<Map<string, NodePorts>> {
    const requested = new Map<string, NodePorts>()
    for (const name of nodeNames(this.nodeCount)) {
      const recorded = this.dir.previous?.nodePorts[name]
      const reusable = recorded?.kafka !== undefined && (await allFree([recorded.grpc, recorded.http, recorded.kafka]))
      requested.set(name, reusable ? recorded : {grpc: 0, http: 0, kafka: 0})
    }
    return requested
  }

  /** Asks n1 until there is a controller and every node is up; the controller's id and the cluster's name. */
  private async untilHealthy(): Promise<{controller: string; cluster: string}> {
    const expected = new Set(this.nodes.map((node) => node.name))
    const client = await WireClient.connect({brokers: this.nodes[0]!.grpcAddress, connectTimeoutMs: STATUS_TIMEOUT_MS})
    try {
      const deadlineMs = Date.now() + HEALTHY_TIMEOUT_MS
      let waitingFor = 'an answer from n1'
      while (!this.stopping) {
        try {
          const status = clusterStatusOf(await client.clusterStatus())
          const up = status.nodes.filter((node) => node.status === 'up' && expected.has(node.id)).length
          if (status.controller !== null && up === expected.size) return {controller: status.controller, cluster: status.cluster}
          waitingFor = status.controller === null ? `a controller (${up} of ${expected.size} nodes up)` : `all nodes up (${up} of ${expected.size})`
        } catch (error) {
          if (!(error instanceof LignumError)) throw error
          waitingFor = `an answer from n1 (${error.message})`
        }
        if (Date.now() > deadlineMs) throw new LignumError('TIMEOUT', `the playground was not healthy within ${HEALTHY_TIMEOUT_MS / 1000} s: still waiting for ${waitingFor}; see the nodes' lines above`)
        await new Promise((resolve) => setTimeout(resolve, HEALTHY_POLL_MS))
      }
      return {controller: '', cluster: ''}
    } finally {
      client.close()
    }
  }
}
