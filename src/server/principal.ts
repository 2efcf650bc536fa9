/**
 * Who a call comes from: with mutual TLS, the subject's common name (CN) of the certificate the
 * client presented and the CA verified; undefined for a plaintext or anonymous TLS call.
 * grpc-js keeps the verified peer certificate on each call's auth context (it leaves it out when
 * verification failed), so the principal is read from the call, where an authorization check
 * will read it, and the interceptor only makes it visible in debug logs.
 */
import {ServerInterceptingCall, type ServerInterceptor} from '@grpc/grpc-js'
import type {AuthContext} from '@grpc/grpc-js/build/src/auth-context.js'
import type {Logger} from '../logger.js'
import {commonNameOf} from '../tls/pem-files.js'

interface CallWithAuthContext {
  getAuthContext(): AuthContext
}

export function principalOf(call: CallWithAuthContext): string | undefined {
  return commonNameOf(call.getAuthContext().sslPeerCertificate?.subject)
}

/** Logs each call's principal at debug level: who did what is not for info logs by default. */
export function logPrincipals(logger: Logger): ServerInterceptor {
  return (method, call) => {
    const principal = principalOf(call)
    if (principal !== undefined) logger.debug('call', {method: method.path, principal})
    return new ServerInterceptingCall(call)
  }
}
