/**
 * Who an HTTP request comes from. In order:
 *   - an `Authorization: Bearer <token>` header: the principal the tokens file maps the token
 *     to; a token that is malformed or not known (or any Authorization header the node cannot
 *     check) is a refusal, never a silent fall back to anonymous;
 *   - over HTTPS, the principal tls.principalMappingRules give a client certificate the CA
 *     verified (by default its subject's CN); a certificate no rule maps is a refusal;
 *   - else anonymous (undefined).
 * A refusal's message says what is wrong and how to fix it, and never holds the token.
 */
import type {IncomingMessage} from 'node:http'
import type {TLSSocket} from 'node:tls'
import {DEFAULT_PRINCIPAL_MAPPING, principalOfPeerCertificate, UNMAPPED_CERTIFICATE, type PrincipalMapping} from '../tls/principal-mapping.js'
import {isWellFormedBearerToken} from '../tokens/bearer-token.js'
import type {BearerTokens} from '../tokens/token-file-watch.js'

/** RFC 6750's error codes, for the WWW-Authenticate header of a refusal. */
export type BearerError = 'invalid_request' | 'invalid_token'

export type HttpPrincipal = {principal: string | undefined; refusal?: undefined} | {refusal: {message: string; bearerError?: BearerError}}

const BEARER_SCHEME = /^Bearer +(.*)$/i

export function httpPrincipalOf(request: IncomingMessage, tokens: BearerTokens | undefined, mapping: PrincipalMapping = DEFAULT_PRINCIPAL_MAPPING): HttpPrincipal {
  const authorization = request.headers.authorization
  if (authorization === undefined) {
    const mapped = certificatePrincipalOf(request, mapping)
    // A certificate refusal carries no bearer error: no token was sent.
    return mapped ? {principal: mapped.principal} : {refusal: {message: UNMAPPED_CERTIFICATE}}
  }
  const token = BEARER_SCHEME.exec(authorization.trim())?.[1]?.trim()
  if (token === undefined) return refuse('invalid_request', 'the Authorization header must be "Bearer <token>"; this node takes no other scheme')
  if (!tokens) return refuse('invalid_request', 'this node takes no bearer tokens (http.tokensFile is not set); drop the Authorization header, or set http.tokensFile on the node')
  if (!isWellFormedBearerToken(token)) return refuse('invalid_request', 'the bearer token is malformed; send "Authorization: Bearer <token>" with a token from lignum http-token create')
  const principal = tokens.principalOf(token)
  if (principal === undefined) return refuse('invalid_token', 'the bearer token is not known to this node (revoked, or never in its http.tokensFile); use a token whose hash is in that file')
  return {principal}
}

/**
 * The principal of the client certificate of an HTTPS request, when the CA verified it
 * ({principal: undefined} without one), or undefined when no mapping rule matches it.
 */
export function certificatePrincipalOf(request: IncomingMessage, mapping: PrincipalMapping = DEFAULT_PRINCIPAL_MAPPING): {principal: string | undefined} | undefined {
  const socket = request.socket as Partial<TLSSocket>
  if (socket.encrypted !== true || socket.authorized !== true || !socket.getPeerCertificate) return {principal: undefined}
  return principalOfPeerCertificate(mapping, socket.getPeerCertificate())
}

function refuse(bearerError: BearerError, message: string): HttpPrincipal {
  return {refusal: {message, bearerError}}
}
