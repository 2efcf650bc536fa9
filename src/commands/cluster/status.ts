import {Flags} from '@oclif/core'
import type {Instance} from 'ink'
import React from 'react'
import {ClientCommand} from '../../cli/client-command.js'
import {onInterrupt} from '../../cli/interrupt.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import type {LignumClient} from '../../client/index.js'
import {LignumError} from '../../errors.js'
import {clusterStatusOf, renderClusterStatusText, type ClusterStatus} from '../../ui/cluster-status-table.js'

// How often --watch asks again: cluster state changes on the scale of session TTLs (seconds).
const WATCH_INTERVAL_MS = 1000

export default class ClusterStatusCommand extends ClientCommand {
  static override summary = 'Show the cluster: its controller and epoch, and every node with its address, status and version.'

  static override description = `Asks any node (--brokers); every node answers with the same view of the cluster, taken from Consul. A standalone node answers with itself as the only node and the controller. Exits with a non-zero code when the cluster has no controller.

On a terminal the status is a table; --json prints one document; --watch refreshes every second until Ctrl-C (with --json, one document per line).`

  static override examples = [
    '<%= config.bin %> cluster status',
    '<%= config.bin %> cluster status --brokers 10.0.0.5:50051 --json',
    '<%= config.bin %> cluster status --watch',
  ]

  static override enableJsonFlag = true

  static override flags = {
    ...LignumCommand.brokersFlag,
    ...LignumCommand.configFlag,
    watch: Flags.boolean({char: 'w', description: 'refresh every second until interrupted'}),
  }

  async run(): Promise<ClusterStatus> {
    const {flags} = await this.parse(ClusterStatusCommand)
    const client = await this.connect(flags)
    if (flags.watch) return this.watch(client)
    const status = clusterStatusOf(await client.clusterStatus())
    if (!this.jsonEnabled()) await this.show(status)
    if (status.controller === null) this.failWithoutController(status)
    return status
  }

  private async show(status: ClusterStatus): Promise<void> {
    if (!process.stdout.isTTY) {
      this.log(renderClusterStatusText(status))
      return
    }
    const [{render}, {ClusterStatusView}] = await Promise.all([import('ink'), import('../../ui/cluster-status-view.js')])
    const view = render(React.createElement(ClusterStatusView, {status}))
    view.unmount()
    await view.waitUntilExit()
  }

  /** Prints the document anyway (scripts want it), then exits non-zero with a one-line reason. */
  private failWithoutController(status: ClusterStatus): never {
    if (this.jsonEnabled()) this.logJson(status)
    const reachable = status.consulReachable ? '' : `; node ${status.node} cannot reach Consul`
    throw new LignumError('UNAVAILABLE', `cluster ${status.cluster} has no controller${reachable}: check that Consul is up and that nodes are running`)
  }

  private async watch(client: LignumClient): Promise<never> {
    let interrupted = false
    let wake: (() => void) | undefined
    onInterrupt(() => {
      interrupted = true
      wake?.()
    })
    const view = await this.watchRenderer()
    while (!interrupted) {
      try {
        view.update(clusterStatusOf(await client.clusterStatus()))
      } catch (error) {
        if (!(error instanceof LignumError)) throw error
        view.error(error.message)
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
  private async watchRenderer(): Promise<{update(status: ClusterStatus): void; error(message: string): void; close(): Promise<void>}> {
    if (this.jsonEnabled() || !process.stdout.isTTY) {
      return {
        // Straight to stdout: oclif's log() is silent under --json.
        update: (status) => process.stdout.write((this.jsonEnabled() ? JSON.stringify(status) : renderClusterStatusText(status) + '\n') + '\n'),
        error: (message) => process.stderr.write(`Error: ${message}\n`),
        close: async () => {},
      }
    }
    const [{render}, {ClusterStatusView}] = await Promise.all([import('ink'), import('../../ui/cluster-status-view.js')])
    let last: ClusterStatus | undefined
    const instance: Instance = render(React.createElement(ClusterStatusView, {watching: true}))
    return {
      update(status) {
        last = status
        instance.rerender(React.createElement(ClusterStatusView, {status, watching: true}))
      },
      error(message) {
        instance.rerender(React.createElement(ClusterStatusView, {status: last, error: message, watching: true}))
      },
      async close() {
        instance.unmount()
        await instance.waitUntilExit()
      },
    }
  }
}
