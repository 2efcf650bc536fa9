/**
 * Plumbing for commands that talk to a node: resolve --brokers through the configuration,
 * connect, and always close the connection so the process can exit.
 */
import {LignumClient} from '../client/index.js'
import {createLogger} from '../logger.js'
import {LignumCommand} from './lignum-command.js'

export abstract class ClientCommand extends LignumCommand {
  private client: LignumClient | undefined

  protected async connect(flags: {brokers?: string; config?: string}): Promise<LignumClient> {
    const config = await this.resolveConfig({brokers: flags.brokers}, flags.config)
    // The CLI owns its process: it takes the faster framing, and hears if it is unavailable.
    this.client = await LignumClient.connect({brokers: config.brokers, zeroCopy: true, logger: createLogger({level: config.logLevel})})
    return this.client
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    this.client?.close()
    return super.finally(error)
  }
}
