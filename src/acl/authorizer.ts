/**
 * Decides whether a principal may do an operation on a resource: Kafka's ACL authorizer, with
 * casbin (the engine proglog uses) evaluating the rules against the model below. Super users
 * are allowed everything before any rule is read, deny rules included, as Kafka's super.users.
 *
 * Invariants: a decision reads one complete rule set: a new set is loaded into a new casbin
 * enforcer and swapped in whole, so no call sees half of an update. With no matching allow
 * rule the answer is deny; a matching deny rule wins over any allow rule.
 */
import {newEnforcer, newModelFromString, type Enforcer} from 'casbin'
import {assert} from '../assert.js'
import {EVERY_PRINCIPAL, type AclRule, type Operation, type Resource} from './acl-rule.js'

/**
 * The casbin model. A request is (principal, resource type, resource name, operation); a
 * policy line is one AclRule, prefix rules stored with a trailing `*` for keyMatch.
 */
export const ACL_MODEL = `
[request_definition]
# Who asks, for what kind of resource, of which name, to do what: the four parts of Kafka's check.
r = sub, type, name, act

[policy_definition]
# One AclRule per line: pattern says how name matches (literal or prefixed), eft is allow or deny.
p = sub, type, pattern, name, act, eft

[role_definition]
# Operations that imply others (produce implies describe, as Kafka's WRITE implies DESCRIBE).
g = _, _

[policy_effect]
# Deny wins: allowed only when some allow rule matches and no deny rule does; no rule is a deny.
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
# The rule's principal is the caller or * (everyone, ANONYMOUS too); the types are the same; a literal name is equal or the wildcard *; a prefix (stored as prefix*) starts the name; the operation is the same, or an allow of one that implies it (a deny denies only its own operation, as in Kafka).
m = (p.sub == r.sub || p.sub == "*") && p.type == r.type && ((p.pattern == "literal" && (p.name == r.name || p.name == "*")) || (p.pattern == "prefixed" && keyMatch(r.name, p.name))) && (p.act == r.act || (p.eft == "allow" && g(p.act, r.act)))
`

/** Kafka's implied operations: allowed to produce, consume, delete or alter a resource is allowed to describe it. */
const IMPLIED_OPERATIONS: [Operation, Operation][] = [
  ['produce', 'describe'],
  ['consume', 'describe'],
  ['delete', 'describe'],
  ['alter', 'describe'],
]

export class Authorizer {
  private constructor(
    private readonly enforcer: Enforcer,
    readonly rules: readonly AclRule[],
    private readonly superUsers: ReadonlySet<string>,
  ) {}

  static async create(rules: readonly AclRule[], superUsers: readonly string[]): Promise<Authorizer> {
    const enforcer = await newEnforcer(newModelFromString(ACL_MODEL))
    if (rules.length > 0) await enforcer.addPolicies(rules.map(policyOf))
    await enforcer.addGroupingPolicies(IMPLIED_OPERATIONS)
    // addPolicies skips a rule equal to one already there: two equal rules in a file are one.
    assert((await enforcer.getPolicy()).length <= rules.length, 'casbin holds more policies than rules were given')
    return new Authorizer(enforcer, rules, new Set(superUsers))
  }

  /** The same super users with another rule set (a reload). */
  withRules(rules: readonly AclRule[]): Promise<Authorizer> {
    return Authorizer.create(rules, [...this.superUsers])
  }

  isSuperUser(principal: string): boolean {
    return this.superUsers.has(principal)
  }

  allows(principal: string, operation: Operation, resource: Resource): boolean {
    if (this.superUsers.has(principal)) return true
    return this.enforcer.enforceSync(principal, resource.type, resource.name, operation)
  }

  /**
   * Whether some allow rule lets `principal` do `operation` on some resource of `type`: Kafka
   * 3's rule for InitProducerId, which an idempotent producer may ask for when it may write to
   * any topic. A deny on one topic does not take that away; each produce is still checked.
   */
  allowsSomewhere(principal: string, operation: Operation, type: Resource['type']): boolean {
    if (this.superUsers.has(principal)) return true
    return this.rules.some((rule) => rule.permission === 'allow' && rule.operation === operation && rule.resourceType === type && (rule.principal === principal || rule.principal === EVERY_PRINCIPAL))
  }
}

function policyOf(rule: AclRule): string[] {
  const name = rule.patternType === 'prefixed' ? `${rule.resourceName}*` : rule.resourceName
  return [rule.principal, rule.resourceType, rule.patternType, name, rule.operation, rule.permission]
}
