/**
 * TLS on the Kafka listener, from the node's one TLS setup (server/tls-listeners.ts): the same
 * certificate, key and CA, the same tls.clientAuth, the same polled reload (every change the
 * CertificateWatch accepts becomes the listener's secure context, as for HTTPS), and the same
 * tls.principalMappingRules, so a client certificate names the same principal over Kafka as
 * over gRPC and HTTPS and the same ACLs apply. Kafka's SSL listener, not its SASL ones: SASL is
 * not served.
 *
 * A connection's principal, once its handshake is done:
 *   - no client certificate (clientAuth none, or requested and none sent): ANONYMOUS, what gRPC
 *     gives a call without one;
 *   - a certificate the CA did not verify (clientAuth requested): refused, as gRPC and HTTPS
 *     refuse it (refuseUntrustedCertificates);
 *   - a verified certificate: what the mapping rules give it (ANONYMOUS for DEFAULT and no CN,
 *     as on gRPC); one no rule maps is refused, as Kafka fails such an authentication.
 * clientAuth required refuses a client without a verified certificate in the handshake itself.
 */
import type {TlsOptions, TLSSocket} from 'node:tls'
import {ANONYMOUS_PRINCIPAL} from '../acl/acl-rule.js'
import {httpsOptionsOf, secureContextOf, type ListenerTls} from '../server/tls-listeners.js'
import {principalOfPeerCertificate, UNMAPPED_CERTIFICATE} from '../tls/principal-mapping.js'

export type ConnectionPrincipal = {principal: string; refusal?: undefined} | {refusal: string}

export interface KafkaListenerTls {
  /** node:tls server options: the secure context now, and whether to ask for (and insist on) client certificates. */
  serverOptions: TlsOptions
  /** Calls `apply` with every secure context the node's certificate files change to. */
  onSecureContextChange(apply: (options: TlsOptions) => void): void
  /** Who a connection whose handshake finished is, or why it is refused. */
  principalOf(socket: TLSSocket): ConnectionPrincipal
}

export function kafkaListenerTlsOf(tls: ListenerTls): KafkaListenerTls {
  return {
    serverOptions: httpsOptionsOf(tls),
    onSecureContextChange: (apply) => tls.watch.onChange((material) => apply(secureContextOf(material))),
    principalOf: (socket) => connectionPrincipalOf(tls, socket),
  }
}

function connectionPrincipalOf(tls: ListenerTls, socket: TLSSocket): ConnectionPrincipal {
  const peer = socket.getPeerCertificate()
  if (!peer?.raw) return {principal: ANONYMOUS_PRINCIPAL}
  if (!socket.authorized) return {refusal: `the client certificate was not verified by the CA (${String(socket.authorizationError)}); present one the node's tls.caFile signed`}
  const mapped = principalOfPeerCertificate(tls.principalMapping, peer)
  if (!mapped) return {refusal: UNMAPPED_CERTIFICATE}
  return {principal: mapped.principal ?? ANONYMOUS_PRINCIPAL}
}
