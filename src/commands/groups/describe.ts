import {Args} from '@oclif/core'
import {ClientCommand} from '../../cli/client-command.js'
import {partitionLags, type GroupPartitionLag} from '../../cli/group-lag.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import type {GroupDescription} from '../../client/index.js'
import {renderGroupDescription} from '../../ui/group-table.js'

export default class GroupsDescribe extends ClientCommand {
  static override summary = 'Describe a consumer group: its state, members and assignments, and per partition the committed offset, log end and lag.'
  static override examples = ['<%= config.bin %> groups describe readers', '<%= config.bin %> groups describe readers --json']
  static override enableJsonFlag = true
  static override args = {group: Args.string({required: true, description: 'consumer group id'})}
  static override flags = {...LignumCommand.brokersFlag, ...LignumCommand.configFlag}

  async run(): Promise<GroupDescription & {partitions: GroupPartitionLag[]}> {
    const {args, flags} = await this.parse(GroupsDescribe)
    const client = await this.connect(flags)
    const description = await client.describeGroup(args.group)
    const partitions = await partitionLags(client, description)
    if (!this.jsonEnabled()) this.log(renderGroupDescription(description, partitions))
    return {...description, partitions}
  }
}
