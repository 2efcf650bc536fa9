import {Args} from '@oclif/core'
import {ClientCommand} from '../../cli/client-command.js'
import {LignumCommand} from '../../cli/lignum-command.js'

export default class GroupsDelete extends ClientCommand {
  static override summary = 'Delete a consumer group\'s committed offsets, durably.'
  static override description = 'Refused while the group has live members (as Kafka\'s NON_EMPTY_GROUP): stop its consumers first.'
  static override examples = ['<%= config.bin %> groups delete readers']
  static override enableJsonFlag = true
  static override args = {group: Args.string({required: true, description: 'consumer group id'})}
  static override flags = {...LignumCommand.brokersFlag, ...LignumCommand.configFlag}

  async run(): Promise<{group: string; deletedOffsets: number}> {
    const {args, flags} = await this.parse(GroupsDelete)
    const client = await this.connect(flags)
    const deletedOffsets = await client.deleteGroup(args.group)
    if (!this.jsonEnabled()) this.log(`Deleted group ${args.group} (${deletedOffsets} committed offset${deletedOffsets === 1 ? '' : 's'}).`)
    return {group: args.group, deletedOffsets}
  }
}
