import {Flags} from '@oclif/core'
import {LignumCommand} from '../../cli/lignum-command.js'
import {LignumError} from '../../errors.js'
import {findConsulBinary} from '../../playground/consul-binary.js'
import {NODES_DEFAULT, nodeNames, Playground} from '../../playground/playground.js'
import {renderPlaygroundSummary} from '../../playground/playground-summary.js'
import {describeExit} from '../../playground/supervised-process.js'
import {colourWanted, prefixedLog, type PrefixedLog} from '../../playground/prefixed-log.js'

// One machine runs every node, each a Node.js process of about 100 MB resident, and topics
// take at most 3 replicas by default: past 9 a playground only slows the machine down.
const NODES_MAX = 9
// 128 + the signal's number: the shell's convention for "ended by this signal". SIGHUP is a
// closed terminal: the children, in process groups of their own, would not hear it themselves.
const EXIT_CODE_OF_SIGNAL = {SIGHUP: 129, SIGINT: 130, SIGTERM: 143} as const
type StopSignal = keyof typeof EXIT_CODE_OF_SIGNAL

export default class ClusterUp extends LignumCommand {
  static override summary = 'Start a local cluster to try: Consul and N nodes on free loopback ports, their logs prefixed by node, all stopped on Ctrl-C.'

  static override description = `Runs a Consul server (LIGNUM_CONSUL_BIN, else the build scripts/ensure-consul caches, else consul on PATH) and N nodes (lignum serve in cluster mode) on free ports of 127.0.0.1, waits until the cluster has a controller and every node is up, then prints the --brokers string, each node's gRPC and HTTP addresses and data directory, and commands to try (--json: one JSON object on stdout). Logs of every process follow on stderr, each line behind its name (n1, n2, …, consul).

Without --data-dir everything lives in a fresh temporary directory removed on exit; with it, the directory is kept and a second up on it resumes the same cluster (topics, data, ports). Ctrl-C or SIGTERM stops the nodes, then Consul, and exits 130 or 143; a second Ctrl-C kills them at once. A process that exits on its own stops the playground with a non-zero exit.`

  static override examples = [
    '<%= config.bin %> cluster up',
    '<%= config.bin %> cluster up --nodes 1',
    '<%= config.bin %> cluster up --data-dir ./playground',
    '<%= config.bin %> cluster up --json',
  ]

  static override enableJsonFlag = true

  static override flags = {
    nodes: Flags.integer({char: 'n', description: `how many nodes, 1 to ${NODES_MAX} [default: ${NODES_DEFAULT}, or as many as the --data-dir playground has]`}),
    'data-dir': Flags.string({char: 'd', description: 'keep the playground here, and resume it if it is one [default: a temporary directory, removed on exit]'}),
    'log-level': Flags.string({description: 'the nodes\' log level: debug, info, warn or error; Consul logs warnings, everything at debug', options: ['debug', 'info', 'warn', 'error'], default: 'info'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterUp)
    const nodeCount = nodeCountOf(flags.nodes)
    const consulBinary = await findConsulBinary()
    const log = prefixedLog(process.stderr, ['consul', ...nodeNames(NODES_MAX)], colourWanted(process.stderr))
    const playground = await Playground.open({nodeCount, dataDir: flags['data-dir'], consulBinary, logLevel: flags['log-level'], log})
    log.line('up', startNote(playground))
    const signalled = firstStopSignal(playground)
    // A hung-up terminal fails every later write with EIO: the stop must go on regardless.
    process.stderr.on('error', () => {})
    const launched = playground.launch()
    // Whichever comes second must not surface as an unhandled rejection.
    launched.catch(() => {})
    try {
      const first = await Promise.race([launched.then(() => undefined), signalled])
      if (first !== undefined) return await this.stopOn(first, playground, log)
    } catch (error) {
      await playground.stop()
      throw error
    }
    this.printSummary(playground)
    const ended = await Promise.race([signalled, playground.unexpectedExit()])
    if (typeof ended === 'string') return await this.stopOn(ended, playground, log)
    await playground.stop()
    throw new LignumError('UNAVAILABLE', `${ended.name} exited on its own with ${describeExit(ended.exit)}, so the playground stopped; its lines above say why`)
  }

  private printSummary(playground: Playground): void {
    const info = playground.info()
    // Straight to stdout: oclif's log() is silent under --json, and run() never returns it.
    process.stdout.write((this.jsonEnabled() ? JSON.stringify(info) : renderPlaygroundSummary(info, this.config.bin)) + '\n')
  }

  private async stopOn(signal: StopSignal, playground: Playground, log: PrefixedLog): Promise<never> {
    log.line('up', `${signal}: stopping the nodes, then Consul`)
    await playground.stop()
    log.line('up', playground.dir.kept ? `stopped; the data stays in ${playground.dir.root}` : `stopped; removed ${playground.dir.root}`)
    process.exit(EXIT_CODE_OF_SIGNAL[signal])
  }
}

function nodeCountOf(given: number | undefined): number | undefined {
  if (given === undefined) return undefined
  if (given < 1 || given > NODES_MAX) {
    throw new LignumError('INVALID_ARGUMENT', `--nodes must be 1 to ${NODES_MAX} (every node runs on this machine; past ${NODES_MAX} it only slows it down), not ${given}`)
  }
  return given
}

function startNote(playground: Playground): string {
  const {dir} = playground
  if (dir.previous) return `resuming the playground in ${dir.root} (kept after exit)`
  return dir.kept ? `starting a playground in ${dir.root} (kept after exit; a second up on it resumes it)` : `starting a playground in ${dir.root} (a temporary directory, removed on exit; pass --data-dir to keep it)`
}

/**
 * The first SIGINT, SIGTERM or SIGHUP; a second one kills every child at once and exits. The
 * listeners stay for the life of the process (process.on, never once), so no signal ever
 * falls through to Node's default of dying without stopping the children.
 */
function firstStopSignal(playground: Playground): Promise<StopSignal> {
  return new Promise((resolve) => {
    let first: StopSignal | undefined
    const listener = (signal: StopSignal) => {
      if (first === undefined) {
        first = signal
        resolve(signal)
        return
      }
      void playground.kill().finally(() => process.exit(EXIT_CODE_OF_SIGNAL[first!]))
    }
    for (const signal of Object.keys(EXIT_CODE_OF_SIGNAL) as StopSignal[]) process.on(signal, listener)
  })
}
