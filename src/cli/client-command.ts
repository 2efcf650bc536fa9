/**
 * Plumbing for commands that talk to a node: resolve --brokers through the configuration,
 * connect (through the client layer beneath the public LignumClient: the CLI also reads the
 * cluster's status and rules, in the wire's types), and always close the connection so the process can exit.
 */
import {WireClient, type ClientTlsOptions} from '../client/index.js'
import type {LignumConfig} from '../config/schema.js'
import {createLogger} from '../logger.js'
import {CLI_CONNECT_HINTS} from './connect-hints.js'
import {LignumCommand} from './lignum-command.js'

/** TLS when any of the client's TLS settings is given (a certificate alone trusts the system's roots). */
function tlsOptionsOf(config: LignumConfig): ClientTlsOptions | undefined {
  if (config.tlsCa === undefined && config.tlsCert === undefined && config.tlsKey === undefined) return undefined
  return {caFile: config.tlsCa, certFile: config.tlsCert, keyFile: config.tlsKey}
}

export abstract class ClientCommand extends LignumCommand {
  private client: WireClient | undefined

  protected async connect(flags: {brokers?: string; config?: string; 'tls-ca'?: string; 'tls-cert'?: string; 'tls-key'?: string}): Promise<WireClient> {
    const config = await this.resolveConfig({brokers: flags.brokers, tlsCa: flags['tls-ca'], tlsCert: flags['tls-cert'], tlsKey: flags['tls-key']}, flags.config)
    // The CLI owns its process: it takes the faster framing, and hears if it is unavailable.
    this.client = await WireClient.connect({brokers: config.brokers, tls: tlsOptionsOf(config), zeroCopy: true, logger: createLogger({level: config.logLevel}), hints: CLI_CONNECT_HINTS})
    return this.client
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    this.client?.close()
    return super.finally(error)
  }
}
