/**
 * What went wrong between a node and Consul, in words a user can act on: an ACL refusal
 * parsed from Consul's own message (which names the permission and the resource), and the
 * TLS failures of an https:// address (an untrusted certificate, a refused client
 * certificate, HTTPS spoken to an HTTP port and the reverse) told apart from Consul simply
 * being down. Messages never hold the token: Consul's name only its AccessorID.
 */

export interface PermissionDenial {
  /** Consul's resource: key, service, session, node, agent… */
  resource: string
  access: string
  segment: string
  /** The policy rule that would allow it, e.g. `key_prefix write`. */
  rule: string
  /** The token itself is unknown to Consul ("ACL not found"): no rule helps. */
  unknownToken: boolean
}

// The rule of a policy that grants a resource; the _prefix forms are what the README policy uses.
const RULE_OF_RESOURCE: Record<string, string> = {key: 'key_prefix', session: 'session_prefix', node: 'node_prefix', agent: 'agent_prefix', service: 'service'}

// Consul 1.12+: `Permission denied: token with AccessorID '…' lacks permission 'key:write' on "lignum/x"`.
const DETAILED_DENIAL = /lacks permission '([a-z_]+):([a-z]+)' on "([^"]*)"/

/** The denial a Consul error text describes, or undefined when it is no ACL refusal. */
export function permissionDenial(text: string): PermissionDenial | undefined {
  if (/ACL not found/i.test(text)) return {resource: 'token', access: 'use', segment: '', rule: 'a valid token', unknownToken: true}
  if (!/Permission denied/i.test(text)) return undefined
  const detailed = DETAILED_DENIAL.exec(text)
  if (!detailed) return {resource: 'the request', access: '', segment: '', rule: 'a permission Consul did not name', unknownToken: false}
  const [, resource, access, segment] = detailed as unknown as [string, string, string, string]
  return {resource, access, segment, rule: `${RULE_OF_RESOURCE[resource] ?? resource} ${access}`, unknownToken: false}
}

/** What to do about a refusal: the README's policy, and the token settings when none was given. */
export function tokenFix(hasToken: boolean): string {
  return hasToken
    ? 'give the token the policy in the README ("Securing a cluster")'
    : 'no token was given: set consulToken, consulTokenFile or CONSUL_HTTP_TOKEN to a token with the policy in the README ("Securing a cluster")'
}

// Node's codes for a server certificate it cannot verify against the trusted CAs.
const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
])

/**
 * The setup mistake a failed call shows, as a sentence with its fix, or undefined when the
 * failure is Consul being down, slow or restarting (which waiting heals).
 */
export function consulSetupMistake(consulUrl: string, error: unknown): string | undefined {
  const {code, message = ''} = (error ?? {}) as {code?: string; message?: string}
  const response = (error as {response?: {statusCode?: number; body?: unknown}} | undefined)?.response
  if (code !== undefined && UNTRUSTED_CERTIFICATE_CODES.has(code)) {
    return `Consul's certificate at ${consulUrl} is not trusted (${code}); set consulCaFile (CONSUL_CACERT) to the CA that signed it`
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `Consul's certificate is not for the host of ${consulUrl} (${message}); use a name or address its certificate holds`
  }
  if (code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(message)) {
    return `Consul at ${consulUrl} does not speak HTTPS on that port (plain HTTP?); use its http:// address, or its HTTPS port (ports { https = … })`
  }
  if (code !== undefined && /^ERR_SSL_.*ALERT/.test(code)) {
    return `Consul at ${consulUrl} refused this node's client certificate (${code}); set consulCertFile and consulKeyFile (CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY) to a certificate signed by a CA Consul trusts`
  }
  if (response?.statusCode === 400 && /HTTP request to an HTTPS server/i.test(bodyText(response.body))) {
    return `Consul at ${consulUrl} speaks HTTPS on that port; use its https:// address, with consulCaFile (CONSUL_CACERT)`
  }
  return undefined
}

/** The message of a failed call: the setup mistake when there is one, else what the client said. */
export function consulFailureMessage(consulUrl: string, name: string, error: unknown): string {
  return consulSetupMistake(consulUrl, error) ?? `Consul at ${consulUrl} failed ${name}: ${(error as Error).message}`
}

function bodyText(body: unknown): string {
  if (Buffer.isBuffer(body)) return body.toString('utf8')
  return typeof body === 'string' ? body : ''
}
