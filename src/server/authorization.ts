/**
 * The servers' side of authorization: who a gRPC call comes from, and the check each handler
 * makes before it acts. A refusal is PERMISSION_DENIED naming the principal, the operation and
 * the resource, and the `lignum acl add` an operator would run to allow it. With authorization
 * off (no AccessControl) every check passes, as before authorization existed.
 *
 * Which handler needs what is listed once, in the README's "Securing a cluster", and follows
 * Kafka's table: produce on the topic to produce, consume to read, describe to see, create on
 * the cluster or the topic to create it, delete to delete, consume on a group to commit or read
 * its offsets, describe on the cluster for its status, alter and describe on the cluster to
 * manage rules, admin on the cluster (Kafka's ClusterAction) for node-to-node calls.
 */
import {LignumError} from '../errors.js'
import type {AccessControl} from '../acl/access-control.js'
import {ANONYMOUS_PRINCIPAL, clusterResource, describeResource, ruleFlags, type Operation, type Resource} from '../acl/acl-rule.js'
import type {PrincipalMapping} from '../tls/principal-mapping.js'
import {principalOf} from './principal.js'
import type {ServingContext} from './serving-context.js'

/** Who a call comes from: its certificate's principal, or ANONYMOUS (plaintext, or TLS without a certificate); UNAUTHENTICATED for a certificate no rule maps. */
export function callPrincipal(call: {getAuthContext: Parameters<typeof principalOf>[0]['getAuthContext']}, mapping?: PrincipalMapping): string {
  return principalOf(call, mapping) ?? ANONYMOUS_PRINCIPAL
}

// How a refusal reads: "alice may not produce to topic orders".
const PREPOSITIONS: Record<Operation, string> = {produce: ' to', consume: ' from', describe: '', create: '', delete: '', alter: '', admin: ' on'}

export function topicResource(name: string): Resource {
  return {type: 'topic', name}
}

export function groupResource(name: string): Resource {
  return {type: 'group', name}
}

/** Throws PERMISSION_DENIED unless `principal` may do `operation` on `resource`. */
export function requireAllowed(access: AccessControl | undefined, principal: string, operation: Operation, resource: Resource): void {
  if (!access || access.allows(principal, operation, resource)) return
  throw permissionDenied(principal, operation, resource)
}

/** Create a topic: allowed on the cluster (any topic) or on the topic (its name or a prefix of it), as Kafka. */
export function mayCreateTopic(access: AccessControl | undefined, principal: string, name: string): boolean {
  return !access || access.allows(principal, 'create', clusterResource()) || access.allows(principal, 'create', topicResource(name))
}

export function requireCreateTopic(access: AccessControl | undefined, principal: string, name: string): void {
  if (!mayCreateTopic(access, principal, name)) throw permissionDenied(principal, 'create', topicResource(name))
}

/** Produce on the topic; standalone, a produce to a missing topic creates it, which needs create too. */
export function requireProduce(context: ServingContext, principal: string, topic: string): void {
  requireAllowed(context.access, principal, 'produce', topicResource(topic))
  if (context.access && !context.clusterTopics && !context.broker.hasTopic(topic)) requireCreateTopic(context.access, principal, topic)
}

export function permissionDenied(principal: string, operation: Operation, resource: Resource): LignumError {
  const named = describeResource(resource.type, resource.name)
  const flags = ruleFlags({permission: 'allow', principal: quoteForShell(principal), operation, resourceType: resource.type, resourceName: resource.name, patternType: 'literal'})
  return new LignumError('PERMISSION_DENIED', `${principal} may not ${operation}${PREPOSITIONS[operation]} ${named}`, {hint: `an operator can allow it with: lignum acl add ${flags}`})
}

/** InitProducerId's refusal: the producer has not named its topic yet, so the hint leaves it for the operator to fill in. */
export function mayProduceNowhere(principal: string): LignumError {
  return new LignumError('PERMISSION_DENIED', `${principal} may not produce to any topic`, {hint: `an operator can allow it with: lignum acl add --allow --principal ${quoteForShell(principal)} --operation produce --topic <topic>`})
}

function quoteForShell(text: string): string {
  return /^[A-Za-z0-9._@:=-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`
}
