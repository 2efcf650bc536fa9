import {ClientCommand} from '../../cli/client-command.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import {aclRuleFlags, asRule, ruleOfFlags} from '../../cli/acl-flags.js'
import {describeRule} from '../../acl/acl-rule.js'
import {LignumError} from '../../errors.js'
import type {AclRule} from '../../generated/lignum/v1/lignum.js'

export default class AclRemove extends ClientCommand {
  static override summary = 'Remove an authorization rule.'
  static override description = 'The flags name the rule exactly as it was added (see lignum acl list). No such rule: one line and exit 3, so a script notices a rule it thought it removed. Needs alter on the cluster (or a super user).'
  static override examples = ['<%= config.bin %> acl remove --allow --principal alice --operation produce --topic orders']
  static override enableJsonFlag = true
  static override flags = {...aclRuleFlags, ...LignumCommand.brokersFlag, ...LignumCommand.configFlag}

  async run(): Promise<{removed: boolean; rule: AclRule; store: string}> {
    const {flags} = await this.parse(AclRemove)
    const rule = ruleOfFlags(flags)
    const client = await this.connect(flags)
    const answer = await client.removeAcl(rule)
    if (!answer.changed) throw new LignumError('NOT_FOUND', `no rule ${describeRule(asRule(rule))} in the ${answer.store}; nothing removed (see lignum acl list for the rules as they are)`)
    if (!this.jsonEnabled()) this.log(`Removed: ${describeRule(asRule(rule))} (${answer.store}).`)
    return {removed: true, rule, store: answer.store}
  }
}
