import {Args} from '@oclif/core'
import {ClientCommand} from '../../cli/client-command.js'
import {LignumCommand} from '../../cli/lignum-command.js'

export default class TopicsDelete extends ClientCommand {
  static override summary = 'Delete a topic and all its data.'
  static override examples = ['<%= config.bin %> topics delete orders']
  static override enableJsonFlag = true
  static override args = {name: Args.string({required: true, description: 'topic name'})}
  static override flags = {...LignumCommand.brokersFlag, ...LignumCommand.configFlag}

  async run(): Promise<{deleted: string}> {
    const {args, flags} = await this.parse(TopicsDelete)
    const client = await this.connect(flags)
    await client.deleteTopic(args.name)
    if (!this.jsonEnabled()) this.log(`Deleted topic ${args.name}.`)
    return {deleted: args.name}
  }
}
