/**
 * Plumbing for commands that talk to a node: resolve --brokers through the configuration,
 * connect, and always close the connection so the process can exit.
 */
import {LignumClient, type ClientTlsOptions} from '../client/index.js'
import type {LignumConfig} from '../config/schema.js'
import {createLogger} from '../logger.js'
import {LignumCommand} from './lignum-command.js'

/** TLS when any of the client's TLS settings is given (a certificate alone trusts the system's roots). */
function tlsOptionsOf(config: LignumConfig): ClientTlsOptions | undefined {
  if (config.tlsCa === undefined && config.tlsCert === undefined && config.tlsKey === undefined) return undefined
  return {caFile: config.tlsCa, certFile: config.tlsCert, keyFile: config.tlsKey}
}

export abstract class ClientCommand extends LignumCommand {
  private client: LignumClient | undefined

  protected async connect(flags: {brokers?: string; config?: string; 'tls-ca'?: string; 'tls-cert'?: string; 'tls-key'?: string}): Promise<LignumClient> {
    const config = await this.resolveConfig({brokers: flags.brokers, tlsCa: flags['tls-ca'], tlsCert: flags['tls-cert'], tlsKey: flags['tls-key']}, flags.config)
    // The CLI owns its process: it takes the faster framing, and hears if it is unavailable.
    this.client = await LignumClient.connect({brokers: config.brokers, tls: tlsOptionsOf(config), zeroCopy: true, logger: createLogger({level: config.logLevel})})
    return this.client
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    this.client?.close()
    return super.finally(error)
  }
}
