import {Flags} from '@oclif/core'
import {ClientCommand} from '../../cli/client-command.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import {describeResource, type PatternType, type ResourceType} from '../../acl/acl-rule.js'
import type {AclRule} from '../../generated/lignum/v1/lignum.js'

export default class AclList extends ClientCommand {
  static override summary = 'List the authorization rules.'
  static override description = 'As the node enforces them now, optionally only those of one principal or resource. Needs describe on the cluster (or a super user).'
  static override examples = ['<%= config.bin %> acl list', '<%= config.bin %> acl list --principal alice --json', '<%= config.bin %> acl list --topic orders']
  static override enableJsonFlag = true
  static override flags = {
    principal: Flags.string({description: 'only rules for this principal'}),
    topic: Flags.string({description: 'only rules on this topic name (or prefix)', exclusive: ['group', 'cluster']}),
    group: Flags.string({description: 'only rules on this group name (or prefix)', exclusive: ['topic', 'cluster']}),
    cluster: Flags.boolean({description: 'only rules on the cluster', exclusive: ['topic', 'group']}),
    ...LignumCommand.brokersFlag,
    ...LignumCommand.configFlag,
  }

  async run(): Promise<{store: string; rules: AclRule[]}> {
    const {flags} = await this.parse(AclList)
    const client = await this.connect(flags)
    const answer = await client.listAcls()
    const rules = answer.rules.filter((rule) => {
      if (flags.principal !== undefined && rule.principal !== flags.principal) return false
      if (flags.topic !== undefined) return rule.resourceType === 'topic' && rule.resourceName === flags.topic
      if (flags.group !== undefined) return rule.resourceType === 'group' && rule.resourceName === flags.group
      if (flags.cluster) return rule.resourceType === 'cluster'
      return true
    })
    if (!this.jsonEnabled()) this.printTable(rules, answer.store)
    return {store: answer.store, rules}
  }

  private printTable(rules: AclRule[], store: string): void {
    if (rules.length === 0) {
      this.log(`No rules (${store}).`)
      return
    }
    const rows = [['PERMISSION', 'PRINCIPAL', 'OPERATION', 'RESOURCE'], ...rules.map((rule) => [rule.permission, rule.principal, rule.operation, describeResource(rule.resourceType as ResourceType, rule.resourceName, rule.patternType as PatternType)])]
    const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)))
    for (const row of rows) this.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd())
  }
}
