/**
 * One node of the playground: `lignum serve` in cluster mode, run by the same Node.js and
 * the same CLI entry point as the `cluster up` that starts it (so a development checkout runs
 * its sources and an installed one its build), on loopback, with its own folder of the
 * playground directory, with a Kafka listener beside gRPC and HTTP. Its ports are what it reports in its "node started" line: asked for
 * port 0, it binds free ones itself, which no other process can take in between.
 */
import {LignumError} from '../errors.js'
import type {NodePorts} from './playground-dir.js'
import type {PrefixedLog} from './prefixed-log.js'
import {describeExit, SupervisedProcess} from './supervised-process.js'

const STARTED_MESSAGE = 'node started'

export interface NodeStartOptions {
  name: string
  dataDir: string
  consulUrl: string
  /** Ports to ask for; 0 lets the node choose. */
  ports: NodePorts
  logLevel: string
  log: PrefixedLog
}

export class PlaygroundNode {
  private constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly child: SupervisedProcess,
    readonly ports: NodePorts,
  ) {}

  get grpcAddress(): string {
    return `127.0.0.1:${this.ports.grpc}`
  }

  get kafkaAddress(): string {
    return `127.0.0.1:${this.ports.kafka}`
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.ports.http}`
  }

  /**
   * Spawns the node at once (so the caller can stop it from now on) and gives, as `started`,
   * the node with its ports once it logged that it started.
   */
  static spawn(options: NodeStartOptions): {child: SupervisedProcess; started: Promise<PlaygroundNode>} {
    let reportPorts: (ports: NodePorts) => void = () => {}
    const reported = new Promise<NodePorts>((resolve) => (reportPorts = resolve))
    const child = new SupervisedProcess({
      name: options.name,
      command: process.execPath,
      args: [...process.execArgv, cliEntryPoint(), ...serveArguments(options)],
      env: {...process.env, LOG_LEVEL: options.logLevel},
      log: options.log,
      onLine: (line) => {
        const ports = portsInStartedLine(line)
        if (ports) reportPorts(ports)
      },
    })
    const started = Promise.race([reported, child.exited]).then((outcome) => {
      if ('grpc' in outcome) return new PlaygroundNode(options.name, options.dataDir, child, outcome)
      throw new LignumError('UNAVAILABLE', `node ${options.name} exited with ${describeExit(outcome)} before it started; its log lines above say why`)
    })
    return {child, started}
  }
}

function serveArguments(options: NodeStartOptions): string[] {
  return [
    'serve',
    '--data-dir', options.dataDir,
    '--host', '127.0.0.1',
    '--grpc-port', String(options.ports.grpc),
    '--http-port', String(options.ports.http),
    '--kafka-port', String(options.ports.kafka ?? 0),
    '--node-id', options.name,
    '--consul', options.consulUrl,
  ]
}

/** The script this process runs (bin/run.js, or bin/dev.js with its tsx loader in execArgv). */
function cliEntryPoint(): string {
  const entry = process.argv[1]
  if (entry === undefined) throw new LignumError('INTERNAL', 'cannot tell which lignum script is running, so cannot start nodes with it')
  return entry
}

/** The node's ports from its JSON "node started" line; undefined for any other line. */
export function portsInStartedLine(line: string): NodePorts | undefined {
  if (!line.includes(STARTED_MESSAGE)) return undefined
  try {
    const parsed = JSON.parse(line) as {msg?: string; grpc?: string; http?: string; kafka?: string}
    if (parsed.msg !== STARTED_MESSAGE) return undefined
    const grpc = portOf(parsed.grpc)
    const http = portOf(parsed.http)
    const kafka = portOf(parsed.kafka)
    return grpc === undefined || http === undefined || kafka === undefined ? undefined : {grpc, http, kafka}
  } catch {
    return undefined
  }
}

function portOf(address: string | undefined): number | undefined {
  const port = Number(address?.split(':').pop())
  return Number.isInteger(port) && port > 0 ? port : undefined
}
