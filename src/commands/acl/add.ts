import {ClientCommand} from '../../cli/client-command.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import {aclRuleFlags, asRule, ruleOfFlags} from '../../cli/acl-flags.js'
import {describeRule} from '../../acl/acl-rule.js'
import type {AclRule} from '../../generated/lignum/v1/lignum.js'

export default class AclAdd extends ClientCommand {
  static override summary = 'Add an authorization rule.'
  static override description = 'Effective on the node at once and, with the rules in Consul (acl.store consul), on every node within a moment. Adding a rule that is there already changes nothing and exits 0. Needs alter on the cluster (or a super user).'
  static override examples = [
    '<%= config.bin %> acl add --allow --principal alice --operation produce --topic orders',
    '<%= config.bin %> acl add --allow --principal analytics --operation consume --topic orders- --prefix',
    '<%= config.bin %> acl add --allow --principal analytics --operation consume --group analytics',
    '<%= config.bin %> acl add --deny --principal mallory --operation consume --topic \'*\'',
  ]
  static override enableJsonFlag = true
  static override flags = {...aclRuleFlags, ...LignumCommand.brokersFlag, ...LignumCommand.configFlag}

  async run(): Promise<{added: boolean; rule: AclRule; store: string}> {
    const {flags} = await this.parse(AclAdd)
    const rule = ruleOfFlags(flags)
    const client = await this.connect(flags)
    const answer = await client.addAcl(rule)
    if (!this.jsonEnabled()) this.log(answer.changed ? `Added: ${describeRule(asRule(rule))} (${answer.store}).` : `Already there: ${describeRule(asRule(rule))}; nothing changed.`)
    return {added: answer.changed, rule, store: answer.store}
  }
}
