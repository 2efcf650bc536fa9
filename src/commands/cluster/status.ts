import {Flags} from '@oclif/core'
import type {Instance} from 'ink'
import React from 'react'
import {ClientCommand} from '../../cli/client-command.js'
import {writeError} from '../../cli/error-output.js'
import {onInterrupt} from '../../cli/interrupt.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import type {WireClient} from '../../client/index.js'
import {parseDurationMs} from '../../cli/duration.js'
import {LignumError} from '../../errors.js'
import {unhealthyError} from '../../ui/cluster-health.js'
import {clusterStatusOf, renderClusterStatusText, type ClusterStatus} from '../../ui/cluster-status-table.js'

// How often --watch asks again: cluster state changes on the scale of session TTLs (seconds).
const WATCH_INTERVAL_MS = 1000
// --wait-healthy asks again this often: an ISR rejoin or a leader's return shows within a check interval.
const WAIT_HEALTHY_POLL_MS = 500
const WAIT_HEALTHY_TIMEOUT_DEFAULT = '60s'

export default class ClusterStatusCommand extends ClientCommand {
  static override summary = 'Show the cluster: its controller, its nodes, and every partition with its leader, ISR, high watermark and each replica\'s lag; exit non-zero unless healthy.'

  static override description = `Asks any node (--brokers); every node answers with the same view of the cluster: nodes, leaders, leader epochs, replicas and ISRs from Consul's catalog, high watermarks and each replica's log end offset and lag from the partition's leader (the node asks each leader; one that does not answer within 2 s leaves its partitions "unknown"), and each replica's storage as its node reports it (verified, unverified since its start, damaged, or unknown when the node is down). A standalone node answers with itself as the only node, the controller and the leader of every partition.

Exit codes (as rpk cluster health): 0 healthy; 5 no controller; 8 a partition is offline (no leader, its leader not a live member, its leader's copy damaged, or the leader not in its role yet) or unknown (its leader did not report); 7 a partition is under-replicated (its ISR is smaller than its replicas) or a replica is reported damaged (repair it with lignum segments repair). --wait-healthy asks again every half second until healthy (exit 0) or until --timeout, then prints the status and exits with the code of what is still wrong.

On a terminal: the cluster line, the node table (a node up in Consul that does not answer shows as unreachable), the partitions summarised in a line (--partitions draws every partition and replica), and the health line; in a pipe, all the tables. --json prints one document; --watch refreshes every second until Ctrl-C (with --json, one document per line).`

  static override examples = [
    '<%= config.bin %> cluster status',
    '<%= config.bin %> cluster status --brokers 10.0.0.5:50051 --json',
    '<%= config.bin %> cluster status --wait-healthy --timeout 60s',
    '<%= config.bin %> cluster status --watch',
    '<%= config.bin %> cluster status --partitions',
  ]

  static override enableJsonFlag = true

  static override flags = {
    ...LignumCommand.brokersFlag,
    ...LignumCommand.configFlag,
    watch: Flags.boolean({char: 'w', description: 'refresh every second until interrupted', exclusive: ['wait-healthy']}),
    'wait-healthy': Flags.boolean({description: 'ask again until the cluster is healthy (exit 0) or --timeout passes (exit non-zero)'}),
    timeout: Flags.string({description: `how long --wait-healthy waits: 60s, 500ms, 2m or milliseconds [default: ${WAIT_HEALTHY_TIMEOUT_DEFAULT}]`, dependsOn: ['wait-healthy']}),
    partitions: Flags.boolean({description: 'on a terminal, draw every partition and replica instead of a summary line (a pipe always gets them)'}),
  }

  async run(): Promise<ClusterStatus> {
    const {flags} = await this.parse(ClusterStatusCommand)
    const timeoutMs = flags['wait-healthy'] ? parseDurationMs(flags.timeout ?? WAIT_HEALTHY_TIMEOUT_DEFAULT, '--timeout') : undefined
    const client = await this.connect(flags)
    if (flags.watch) return this.watch(client, flags.partitions)
    const status = timeoutMs === undefined ? clusterStatusOf(await client.clusterStatus()) : await this.waitHealthy(client, timeoutMs)
    if (!this.jsonEnabled()) await this.show(status, flags.partitions)
    if (status.controller === null) this.failWithoutController(status)
    const unhealthy = unhealthyError(status.health, status, timeoutMs === undefined ? '' : `still unhealthy after ${flags.timeout ?? WAIT_HEALTHY_TIMEOUT_DEFAULT}: `)
    if (unhealthy) {
      // The document first, for scripts; then the one-line reason and the exit code.
      if (this.jsonEnabled()) this.logJson(status)
      throw unhealthy
    }
    return status
  }

  /**
   * Asks until the cluster is healthy or `timeoutMs` passed; the last answer either way. Each
   * ask is bounded by the time left, so a node that stops answering cannot stretch the wait;
   * on a terminal, what is still wrong goes to stderr whenever it changes.
   */
  private async waitHealthy(client: WireClient, timeoutMs: number): Promise<ClusterStatus> {
    const deadlineMs = Date.now() + timeoutMs
    let last: ClusterStatus | undefined
    let lastFailure: LignumError | undefined
    let lastReason: string | null = null
    for (;;) {
      try {
        last = clusterStatusOf(await withinMs(client.clusterStatus(), Math.max(1, deadlineMs - Date.now()), client.address))
        if (last.health.healthy) return last
        // Progress for a person watching; in a pipe stderr stays the one line of the outcome.
        if (last.health.reason !== lastReason && process.stderr.isTTY) process.stderr.write(`waiting for a healthy cluster: ${last.health.reason}\n`)
        lastReason = last.health.reason
      } catch (error) {
        if (!(error instanceof LignumError)) throw error
        lastFailure = error
      }
      const leftMs = deadlineMs - Date.now()
      if (leftMs <= 0) {
        if (last) return last
        throw new LignumError(lastFailure?.code ?? 'TIMEOUT', `no status within ${timeoutMs} ms: ${lastFailure?.message ?? 'no answer'}`, {hint: lastFailure?.hint})
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(WAIT_HEALTHY_POLL_MS, leftMs)))
    }
  }

  private async show(status: ClusterStatus, allPartitions: boolean): Promise<void> {
    if (!process.stdout.isTTY) {
      this.log(renderClusterStatusText(status))
      return
    }
    const [{render}, {ClusterStatusView}] = await Promise.all([import('ink'), import('../../ui/cluster-status-view.js')])
    const view = render(React.createElement(ClusterStatusView, {status, allPartitions}))
    view.unmount()
    await view.waitUntilExit()
  }

  /** Prints the document anyway (scripts want it), then exits non-zero with a one-line reason. */
  private failWithoutController(status: ClusterStatus): never {
    if (this.jsonEnabled()) this.logJson(status)
    const reachable = status.consulReachable ? '' : `; node ${status.node} cannot reach Consul`
    throw new LignumError('UNAVAILABLE', `cluster ${status.cluster} has no controller${reachable}: check that Consul is up and that nodes are running`)
  }

  private async watch(client: WireClient, allPartitions: boolean): Promise<never> {
    let interrupted = false
    let wake: (() => void) | undefined
    onInterrupt(() => {
      interrupted = true
      wake?.()
    })
    const view = await this.watchRenderer(client.address, allPartitions)
    while (!interrupted) {
      try {
        view.update(clusterStatusOf(await client.clusterStatus()))
      } catch (error) {
        if (!(error instanceof LignumError)) throw error
        view.error(error)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, WATCH_INTERVAL_MS)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    await view.close()
    // Interrupted is how a watch ends, not a failure; returning would print a final document.
    process.exit(0)
  }

  /** How --watch shows each answer: an ink view on a terminal, lines in a pipe or with --json. */
  private async watchRenderer(address: string, allPartitions: boolean): Promise<{update(status: ClusterStatus): void; error(error: LignumError): void; close(): Promise<void>}> {
    if (this.jsonEnabled() || !process.stdout.isTTY) {
      return {
        // Straight to stdout: oclif's log() is silent under --json.
        update: (status) => process.stdout.write((this.jsonEnabled() ? JSON.stringify(status) : renderClusterStatusText(status) + '\n') + '\n'),
        error: (error) => writeError(error, this.jsonEnabled()),
        close: async () => {},
      }
    }
    const [{render}, {ClusterStatusView}] = await Promise.all([import('ink'), import('../../ui/cluster-status-view.js')])
    let last: ClusterStatus | undefined
    const instance: Instance = render(React.createElement(ClusterStatusView, {watching: true, allPartitions}))
    return {
      update(status) {
        last = status
        instance.rerender(React.createElement(ClusterStatusView, {status, watching: true, allPartitions}))
      },
      error(error) {
        const {message} = error
        // The last answer stays on screen, but not its "up" for the node that stopped answering.
        const stale = last && answererUnreachable(last, message)
        const line = last ? `no answer from ${address}; showing its last answer: ${message}` : message
        instance.rerender(React.createElement(ClusterStatusView, {status: stale, error: line, watching: true, allPartitions}))
      },
      async close() {
        instance.unmount()
        await instance.waitUntilExit()
      },
    }
  }
}

/** `status` as its answering node last said it, that node now marked unreachable for `reason`. */
function answererUnreachable(status: ClusterStatus, reason: string): ClusterStatus {
  return {
    ...status,
    nodes: status.nodes.map((node) => (node.id === status.node && node.status === 'up' ? {...node, status: 'unreachable'} : node)),
    unreachable: [...status.unreachable.filter((entry) => entry.node !== status.node), {node: status.node, reason}],
  }
}

/** `promise`, or TIMEOUT after `timeoutMs`. */
function withinMs<T>(promise: Promise<T>, timeoutMs: number, address: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LignumError('TIMEOUT', `the node at ${address} did not answer within ${timeoutMs} ms`)), timeoutMs)
  })
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(timer))
}
