/**
 * Who an HTTP API request comes from: the CN of the client certificate the CA verified on its
 * HTTPS connection, or ANONYMOUS (plaintext, no certificate, or one not verified). The one
 * place the HTTP API learns a principal, so other ways of proving one can be added here alone.
 */
import type {IncomingMessage} from 'node:http'
import type {TLSSocket} from 'node:tls'
import {ANONYMOUS_PRINCIPAL} from '../acl/acl-rule.js'
import {commonNameOf} from '../tls/pem-files.js'

export function principalOfRequest(request: IncomingMessage): string {
  const socket = request.socket as Partial<TLSSocket>
  // `authorized` is set only on TLS sockets whose peer certificate the CA signed.
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return ANONYMOUS_PRINCIPAL
  return commonNameOf(socket.getPeerCertificate().subject) ?? ANONYMOUS_PRINCIPAL
}
