/**
 * Who a call comes from: with mutual TLS, the principal tls.principalMappingRules give the
 * certificate the client presented and the CA verified (by default its subject's CN); undefined
 * for a plaintext or anonymous TLS call. A certificate no rule maps is refused (UNAUTHENTICATED),
 * as Kafka fails such an authentication.
 * grpc-js keeps the verified peer certificate on each call's auth context (it leaves it out when
 * verification failed), so the principal is read from the call, where an authorization check
 * will read it, and the interceptor only makes it visible in debug logs.
 */
import {ServerInterceptingCall, type ServerInterceptor} from '@grpc/grpc-js'
import type {AuthContext} from '@grpc/grpc-js/build/src/auth-context.js'
import type {Logger} from '../logger.js'
import {LignumError} from '../errors.js'
import {DEFAULT_PRINCIPAL_MAPPING, principalOfPeerCertificate, UNMAPPED_CERTIFICATE, type PrincipalMapping} from '../tls/principal-mapping.js'

interface CallWithAuthContext {
  getAuthContext(): AuthContext
}

export function principalOf(call: CallWithAuthContext, mapping: PrincipalMapping = DEFAULT_PRINCIPAL_MAPPING): string | undefined {
  const peer = call.getAuthContext().sslPeerCertificate
  if (!peer) return undefined
  const mapped = principalOfPeerCertificate(mapping, peer)
  if (!mapped) throw new LignumError('UNAUTHENTICATED', UNMAPPED_CERTIFICATE)
  return mapped.principal
}

/** Logs each call's principal at debug level: who did what is not for info logs by default. */
export function logPrincipals(logger: Logger, mapping: PrincipalMapping = DEFAULT_PRINCIPAL_MAPPING): ServerInterceptor {
  return (method, call) => {
    // A certificate no rule maps is refused by the handler; logging it is not this one's job.
    let principal: string | undefined
    try {
      principal = principalOf(call, mapping)
    } catch {
      principal = undefined
    }
    if (principal !== undefined) logger.debug('call', {method: method.path, principal})
    return new ServerInterceptingCall(call)
  }
}
