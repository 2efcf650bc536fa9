/**
 * One authorization rule, Kafka's ACL binding: a principal may (allow) or may not (deny) do an
 * operation on a resource (a topic, a consumer group, or the cluster), the resource named
 * literally or by a prefix. Rules are data: the JSON of a rules file entry, of the Consul key,
 * and of the admin RPC alike; parseRule checks one whole and says what is wrong in one line.
 *
 * Invariants of a parsed rule: every field is set; a cluster rule names CLUSTER_RESOURCE_NAME
 * literally; a prefix holds no `*` (the rule engine's prefix match stops at the first one).
 */
import {LignumError} from '../errors.js'

export const OPERATIONS = ['produce', 'consume', 'describe', 'create', 'delete', 'alter', 'admin'] as const
export type Operation = (typeof OPERATIONS)[number]

export const RESOURCE_TYPES = ['topic', 'group', 'cluster'] as const
export type ResourceType = (typeof RESOURCE_TYPES)[number]

/** literal: the name itself (`*` for every name of the type, as Kafka's wildcard); prefixed: every name starting with it. */
export const PATTERN_TYPES = ['literal', 'prefixed'] as const
export type PatternType = (typeof PATTERN_TYPES)[number]

export const PERMISSIONS = ['allow', 'deny'] as const
export type Permission = (typeof PERMISSIONS)[number]

/** Who a call comes from when it brings no certificate (plaintext, or TLS without one), as Kafka names it. */
export const ANONYMOUS_PRINCIPAL = 'ANONYMOUS'
/** A rule for the principal `*` applies to every principal, ANONYMOUS included (Kafka's User:*). */
export const EVERY_PRINCIPAL = '*'
/** The one cluster resource's name (Kafka's kafka-cluster). */
export const CLUSTER_RESOURCE_NAME = 'cluster'

// Names longer than any topic (249) or group (255) name are a mistake, not a rule.
const NAME_LENGTH_MAX = 255

export interface Resource {
  type: ResourceType
  name: string
}

export interface AclRule {
  principal: string
  permission: Permission
  operation: Operation
  resourceType: ResourceType
  resourceName: string
  patternType: PatternType
}

export function clusterResource(): Resource {
  return {type: 'cluster', name: CLUSTER_RESOURCE_NAME}
}

/** A rule from untrusted JSON; `where` names its source in the error ("rules file x, entry 3"). */
export function parseRule(raw: unknown, where: string): AclRule {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(where, 'is not an object such as {"principal":"alice","permission":"allow","operation":"produce","resourceType":"topic","resourceName":"orders"}')
  const entry = raw as Record<string, unknown>
  const known = new Set(['principal', 'permission', 'operation', 'resourceType', 'resourceName', 'patternType'])
  const unknown = Object.keys(entry).find((key) => !known.has(key))
  if (unknown !== undefined) throw invalid(where, `has an unknown field "${unknown}"; the fields are ${[...known].join(', ')}`)
  const principal = nameField(entry, 'principal', where)
  const permission = oneOf(entry.permission, PERMISSIONS, 'permission', where)
  const operation = oneOf(entry.operation, OPERATIONS, 'operation', where)
  const resourceType = oneOf(entry.resourceType, RESOURCE_TYPES, 'resourceType', where)
  const patternType = entry.patternType === undefined ? 'literal' : oneOf(entry.patternType, PATTERN_TYPES, 'patternType', where)
  if (resourceType === 'cluster') {
    if (patternType !== 'literal' || (entry.resourceName !== undefined && entry.resourceName !== CLUSTER_RESOURCE_NAME)) throw invalid(where, `names the cluster, which has one name ("${CLUSTER_RESOURCE_NAME}") and no prefix`)
    return {principal, permission, operation, resourceType, resourceName: CLUSTER_RESOURCE_NAME, patternType}
  }
  const resourceName = nameField(entry, 'resourceName', where)
  if (patternType === 'prefixed' && resourceName.includes('*')) throw invalid(where, `has a prefix holding "*" ("${resourceName}"); a prefix is plain text`)
  return {principal, permission, operation, resourceType, resourceName, patternType}
}

export function sameRule(a: AclRule, b: AclRule): boolean {
  return a.principal === b.principal && a.permission === b.permission && a.operation === b.operation && a.resourceType === b.resourceType && a.resourceName === b.resourceName && a.patternType === b.patternType
}

/** "topic orders", "topics starting with orders-", "the cluster": how messages name a rule's resource. */
export function describeResource(type: ResourceType, name: string, patternType: PatternType = 'literal'): string {
  if (type === 'cluster') return 'the cluster'
  if (patternType === 'prefixed') return `${type}s starting with ${name}`
  if (name === '*') return `every ${type}`
  return `${type} ${name}`
}

/** One line: "allow alice produce on topic orders". */
export function describeRule(rule: AclRule): string {
  return `${rule.permission} ${rule.principal} ${rule.operation} on ${describeResource(rule.resourceType, rule.resourceName, rule.patternType)}`
}

/** The `lignum acl` flags that state this rule, for messages that tell an operator what to run. */
export function ruleFlags(rule: Pick<AclRule, 'permission' | 'principal' | 'operation' | 'resourceType' | 'resourceName' | 'patternType'>): string {
  const resource = rule.resourceType === 'cluster' ? '--cluster' : `--${rule.resourceType} ${rule.resourceName}`
  return `--${rule.permission} --principal ${rule.principal} --operation ${rule.operation} ${resource}${rule.patternType === 'prefixed' ? ' --prefix' : ''}`
}

function nameField(entry: Record<string, unknown>, field: string, where: string): string {
  const value = entry[field]
  // A certificate's CN may hold spaces ("Alice Smith"); not at its ends, nor control characters.
  if (typeof value !== 'string' || value.length === 0 || value.length > NAME_LENGTH_MAX || value.trim() !== value || /[\x00-\x1f\x7f]/.test(value)) {
    throw invalid(where, `needs "${field}": 1 to ${NAME_LENGTH_MAX} printable characters, no space at either end, not ${JSON.stringify(value)}`)
  }
  return value
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string, where: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T
  throw invalid(where, `has ${field} ${JSON.stringify(value)}; use one of ${allowed.join(', ')}`)
}

function invalid(where: string, what: string): LignumError {
  return new LignumError('INVALID_ARGUMENT', `${where} ${what}`)
}

/** A list of rules from untrusted JSON (a rules file, the Consul key): an array, one rule per entry. */
export function parseRules(raw: unknown, where: string): AclRule[] {
  if (!Array.isArray(raw)) throw new LignumError('INVALID_ARGUMENT', `${where} must hold a JSON array of rules, one per entry (or [] for none)`)
  return raw.map((entry, index) => parseRule(entry, `${where}, entry ${index + 1},`))
}
