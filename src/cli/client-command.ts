/**
 * Plumbing for commands that talk to a node: resolve --brokers through the configuration,
 * connect, and always close the connection so the process can exit.
 */
import {LignumClient} from '../client/index.js'
import {LignumCommand} from './lignum-command.js'

export abstract class ClientCommand extends LignumCommand {
  private client: LignumClient | undefined

  protected async connect(flags: {brokers?: string; config?: string}): Promise<LignumClient> {
    const config = await this.resolveConfig({brokers: flags.brokers}, flags.config)
    this.client = await LignumClient.connect({brokers: config.brokers})
    return this.client
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    this.client?.close()
    return super.finally(error)
  }
}
