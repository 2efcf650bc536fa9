/**
 * The check `lignum serve --consul` makes before it touches its data directory: that it
 * reaches Consul the way it is configured to (HTTPS trusted both ways, or plain HTTP where
 * Consul speaks it) and that its ACL token allows every kind of call the node will make. A
 * mistake stops the start with one line naming the call and the missing rule, instead of a
 * node that starts, retries forever and never joins.
 *
 * The check changes nothing a running cluster sees: key read is a read of the controller key;
 * key write is a check-and-set transaction that cannot apply (its index is never reached);
 * session write creates a session tied to no check, with a TTL, and destroys it; service write
 * and node read, which no harmless call can try, are asked of Consul's authorize endpoint.
 *
 * Consul down is no mistake: the node starts and joins when Consul comes (cluster-member.ts),
 * and a refusal that appears later (a token revoked) is logged there and keeps it unready.
 */
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {ClusterKeys} from './cluster-keys.js'
import type {ConsulAccess} from './consul-access.js'
import {ConsulApi, encodeValue, type AuthorizationCheck} from './consul-api.js'
import {consulSetupMistake, tokenFix} from './consul-failures.js'

// A check is a handful of small calls; a Consul slower than this is treated as down for now.
const CHECK_REQUEST_TIMEOUT_MS = 5_000
// Consul's smallest session TTL: a check session the node could not destroy ends by itself.
const CHECK_SESSION_TTL_MS = 10_000
// Consul's index is a uint64 no cluster reaches; a check-and-set at it never applies.
const UNREACHABLE_MODIFY_INDEX = Number.MAX_SAFE_INTEGER
// The key the check-and-set names; it is never written.
const ACCESS_CHECK_KEY = 'access-check'

export interface ConsulAccessCheckOptions {
  consulUrl: string
  access: ConsulAccess
  cluster: string
  logger: Logger
}

/** Throws a one-line CONFIG or CONSUL_PERMISSION_DENIED error for a mistake; returns when all is allowed or Consul is down. */
export async function checkConsulAccess(options: ConsulAccessCheckOptions): Promise<void> {
  const api = new ConsulApi(options.consulUrl, CHECK_REQUEST_TIMEOUT_MS, options.access)
  try {
    await checkWith(api, new ClusterKeys(options.cluster))
  } catch (error) {
    if (!(error instanceof LignumError) || error.code !== 'UNAVAILABLE') throw error
    const mistake = consulSetupMistake(options.consulUrl, error.cause)
    if (mistake !== undefined) throw new LignumError('CONFIG', mistake, {cause: error})
    options.logger.warn('Consul not reachable at start: its TLS and ACL token are checked when it answers', {consul: options.consulUrl, error: error.message})
  } finally {
    api.close()
  }
}

async function checkWith(api: ConsulApi, keys: ClusterKeys): Promise<void> {
  // Needs no ACL: a failure here is reaching Consul (down, or TLS), not permissions.
  await api.leader()
  await api.kvGet(keys.controller)
  await api.transaction([{KV: {Verb: 'cas', Key: keys.prefix + ACCESS_CHECK_KEY, Value: encodeValue(''), Index: UNREACHABLE_MODIFY_INDEX}}])
  const consulNode = await checkSessionWrite(api, keys)
  await checkAuthorized(api, [
    {check: {Resource: 'service', Segment: keys.serviceName, Access: 'write'}, why: 'to register the node'},
    ...(consulNode === undefined ? [] : [{check: {Resource: 'node', Segment: consulNode, Access: 'read'} as const, why: 'to see the nodes\' health'}]),
  ])
}

/** Creates and destroys a session, as the node does; answers the Consul node it was made on. */
async function checkSessionWrite(api: ConsulApi, keys: ClusterKeys): Promise<string | undefined> {
  const sessionId = await api.createSession({name: `lignum ${keys.cluster} access check`, checkIds: [], lockDelayMs: 0, ttlMs: CHECK_SESSION_TTL_MS})
  try {
    return await api.sessionNode(sessionId)
  } finally {
    await api.destroySession(sessionId)
  }
}

async function checkAuthorized(api: ConsulApi, wanted: {check: AuthorizationCheck; why: string}[]): Promise<void> {
  const answers = await api.authorize(wanted.map((entry) => entry.check))
  if (answers === undefined) return
  wanted.forEach(({check, why}, index) => {
    if (answers[index]) return
    const rule = check.Resource === 'node' ? 'node_prefix read' : `${check.Resource} ${check.Access}`
    throw new LignumError('CONSUL_PERMISSION_DENIED', `Consul refused ${check.Resource} ${check.Access} on ${check.Segment} (${why}): the token lacks ${rule}; ${tokenFix(api.hasToken)}`)
  })
}
