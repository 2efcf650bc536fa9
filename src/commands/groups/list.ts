import {ClientCommand} from '../../cli/client-command.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import type {GroupSummary} from '../../client/index.js'
import {renderGroupList} from '../../ui/group-table.js'

export default class GroupsList extends ClientCommand {
  static override summary = 'List consumer groups: every group with committed offsets or live members, with its state.'
  static override description = 'In a cluster every coordinator is asked (the leader of each partition of __consumer_offsets).'
  static override examples = ['<%= config.bin %> groups list', '<%= config.bin %> groups list --json']
  static override enableJsonFlag = true
  static override flags = {...LignumCommand.brokersFlag, ...LignumCommand.configFlag}

  async run(): Promise<{groups: GroupSummary[]}> {
    const {flags} = await this.parse(GroupsList)
    const client = await this.connect(flags)
    const groups = await client.listGroups()
    if (!this.jsonEnabled()) this.log(renderGroupList(groups))
    return {groups}
  }
}
