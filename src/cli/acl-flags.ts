/**
 * The flags `lignum acl add` and `lignum acl remove` state a rule with, in the shape of
 * kafka-acls and rpk acl: --allow or --deny, --principal, --operation, one of --topic NAME,
 * --group NAME or --cluster, and --prefix for a prefix of names.
 */
import {Flags} from '@oclif/core'
import {OPERATIONS, type AclRule as Rule} from '../acl/acl-rule.js'
import type {AclRule} from '../generated/lignum/v1/lignum.js'
import {LignumError} from '../errors.js'

const RESOURCE_FLAGS = ['topic', 'group', 'cluster']

export const aclRuleFlags = {
  allow: Flags.boolean({description: 'the rule allows the operation', exclusive: ['deny'], helpGroup: 'RULE'}),
  deny: Flags.boolean({description: 'the rule denies it (a deny wins over any allow)', exclusive: ['allow'], helpGroup: 'RULE'}),
  principal: Flags.string({description: 'whom the rule is for: a certificate\'s CN, ANONYMOUS, or * for everyone', required: true, helpGroup: 'RULE'}),
  operation: Flags.string({description: 'what it allows or denies', options: [...OPERATIONS], required: true, helpGroup: 'RULE'}),
  topic: Flags.string({description: 'on this topic (* for every topic)', exactlyOne: RESOURCE_FLAGS, helpGroup: 'RULE'}),
  group: Flags.string({description: 'on this consumer group (* for every group)', exactlyOne: RESOURCE_FLAGS, helpGroup: 'RULE'}),
  cluster: Flags.boolean({description: 'on the cluster (creating topics, its status, managing rules, node-to-node calls)', exactlyOne: RESOURCE_FLAGS, helpGroup: 'RULE'}),
  prefix: Flags.boolean({description: 'the --topic or --group name is a prefix: every name starting with it', helpGroup: 'RULE'}),
}

interface RuleFlagValues {
  allow?: boolean
  deny?: boolean
  principal: string
  operation: string
  topic?: string
  group?: string
  cluster?: boolean
  prefix?: boolean
}

/** The rule the flags state; the node checks it whole (acl-rule.ts). */
export function ruleOfFlags(flags: RuleFlagValues): AclRule {
  if (!flags.allow && !flags.deny) throw new LignumError('INVALID_ARGUMENT', 'say whether the rule allows or denies: pass --allow or --deny')
  if (flags.prefix && flags.cluster) throw new LignumError('INVALID_ARGUMENT', '--prefix applies to --topic or --group names; the cluster has one name')
  const resourceType = flags.topic !== undefined ? 'topic' : flags.group !== undefined ? 'group' : 'cluster'
  return {
    principal: flags.principal,
    permission: flags.deny ? 'deny' : 'allow',
    operation: flags.operation,
    resourceType,
    resourceName: flags.topic ?? flags.group ?? '',
    patternType: flags.prefix ? 'prefixed' : 'literal',
  }
}

/** The wire rule as the one-line description messages use ("allow alice produce on topic orders"). */
export function asRule(rule: AclRule): Rule {
  return rule as Rule
}
