/**
 * Where authorization rules are kept, as the node needs it: the rules now, a call when they
 * change (another writer, an operator's edit), and adding or removing one rule so that the
 * change is effective on this node when the call returns. A file (file-rule-store.ts) or one
 * Consul key shared by the cluster (consul-rule-store.ts).
 *
 * Invariant: listeners only ever see a whole, valid rule list; a bad file or value keeps the
 * rules in force.
 */
import {sameRule, type AclRule} from './acl-rule.js'

export type AddOutcome = 'added' | 'exists'
export type RemoveOutcome = 'removed' | 'absent'

export interface AclRuleStore {
  /** Where the rules live, for messages ("rules file /etc/lignum/acl.json"). */
  readonly where: string
  /** Reads the rules once (a bad store stops the start), then follows changes. */
  start(): Promise<AclRule[]>
  onChange(listener: (rules: AclRule[]) => void): void
  add(rule: AclRule): Promise<AddOutcome>
  remove(rule: AclRule): Promise<RemoveOutcome>
  stop(): Promise<void>
}

/** A rule list as stored: a JSON array, one rule per line so a diff shows one rule per change. */
export function serializeRules(rules: readonly AclRule[]): string {
  if (rules.length === 0) return '[]\n'
  return `[\n${rules.map((rule) => `  ${JSON.stringify(rule)}`).join(',\n')}\n]\n`
}

/** The list with `rule` added; undefined when it holds the rule already (nothing to write). */
export function withRuleAdded(rules: readonly AclRule[], rule: AclRule): AclRule[] | undefined {
  return rules.some((existing) => sameRule(existing, rule)) ? undefined : [...rules, rule]
}

/** The list without `rule`; undefined when it does not hold the rule (nothing to write). */
export function withRuleRemoved(rules: readonly AclRule[], rule: AclRule): AclRule[] | undefined {
  return rules.some((existing) => sameRule(existing, rule)) ? rules.filter((existing) => !sameRule(existing, rule)) : undefined
}
