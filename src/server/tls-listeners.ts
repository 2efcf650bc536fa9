/**
 * TLS for the node's listeners and for its own channels to other nodes, from one
 * CertificateWatch: the gRPC server (grpc-js swaps the secure context of its HTTP/2 servers on
 * every update of the provider), the HTTPS server (setSecureContext on every change), and the
 * channels a node opens to other nodes (replica fetches, forwarded group requests, cluster
 * status), which present the node's own certificate and trust the same CA.
 *
 * clientAuth: `none` asks for no certificate; `requested` asks and accepts a client without one,
 * but refuses one whose certificate the CA did not sign (as Java's wantClientAuth); `required`
 * refuses, in the handshake, any client without a certificate the CA signed.
 * tls.principalMappingRules says how a verified certificate names its principal (principal-mapping.ts);
 * they are parsed here, so a bad rule stops the start before the data directory is touched.
 */
import {credentials, experimental, ServerCredentials, type ChannelCredentials} from '@grpc/grpc-js'
import type {Http2Server} from 'node:http2'
import type {TLSSocket} from 'node:tls'
import type {ClientAuthSetting, LignumConfig} from '../config/schema.js'
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {CertificateWatch} from '../tls/certificate-watch.js'
import type {PemMaterial} from '../tls/pem-files.js'
import {parsePrincipalMapping, type PrincipalMapping} from '../tls/principal-mapping.js'

export interface ListenerTls {
  watch: CertificateWatch
  clientAuth: ClientAuthSetting
  principalMapping: PrincipalMapping
}

/** The node's TLS, or undefined when it serves plaintext; a setting missing its partner is a CONFIG error. */
export async function listenerTlsOf(config: LignumConfig, logger: Logger): Promise<ListenerTls | undefined> {
  const {tlsCertFile: certFile, tlsKeyFile: keyFile, tlsCaFile: caFile, tlsClientAuth: clientAuth} = config
  const principalMapping = parsePrincipalMapping(config.tlsPrincipalMappingRules)
  if (config.tlsPrincipalMappingRules.length > 0 && (clientAuth === 'none' || certFile === undefined)) {
    throw new LignumError('CONFIG', 'tls.principalMappingRules map client certificates, which a node only reads with TLS on and tls.clientAuth requested or required', {hint: 'set those (--tls-client-auth) or drop the rules'})
  }
  if (certFile === undefined && keyFile === undefined) {
    if (caFile !== undefined || clientAuth !== 'none') throw new LignumError('CONFIG', 'tls.caFile and tls.clientAuth need TLS on', {hint: 'set tls.certFile and tls.keyFile (--tls-cert-file, --tls-key-file) too'})
    return undefined
  }
  if (certFile === undefined || keyFile === undefined) throw new LignumError('CONFIG', 'TLS needs both tls.certFile and tls.keyFile', {hint: 'set both (--tls-cert-file, --tls-key-file)'})
  if (clientAuth !== 'none' && caFile === undefined) throw new LignumError('CONFIG', `tls.clientAuth ${clientAuth} needs tls.caFile: the CA client certificates must be signed by`, {hint: 'set it (--tls-ca-file)'})
  const watch = new CertificateWatch({certFile, keyFile, caFile}, logger.child({component: 'tls'}))
  await watch.start()
  return {watch, clientAuth, principalMapping}
}

export function grpcServerCredentialsOf(tls: ListenerTls | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure()
  const askForCertificates = tls.clientAuth !== 'none'
  // grpc-js names the first parameter caCertificateProvider but hands it on as the identity
  // provider (server-credentials.js in 1.14): the identity comes first, the CA second.
  return experimental.createCertificateProviderServerCredentials(tls.watch, askForCertificates ? tls.watch : null, tls.clientAuth === 'required')
}

/** What the node's channels to other nodes use: its own identity, trusting the cluster's CA. */
export function peerChannelCredentialsOf(tls: ListenerTls | undefined): ChannelCredentials | undefined {
  if (!tls) return undefined
  // Without a CA file other nodes are trusted by the system's roots (a public CA's certificates).
  if (!tls.watch.current.ca) return credentials.createSsl(null, tls.watch.current.key, tls.watch.current.cert)
  return experimental.createCertificateProviderChannelCredentials(tls.watch, tls.watch)
}

/** node:https options: the secure context and whether to ask for (and insist on) client certificates. */
export function httpsOptionsOf(tls: ListenerTls): {cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; rejectUnauthorized: boolean} {
  return {...secureContextOf(tls.watch.current), requestCert: tls.clientAuth !== 'none', rejectUnauthorized: tls.clientAuth === 'required'}
}

export function secureContextOf(material: PemMaterial): {cert: Buffer; key: Buffer; ca?: Buffer} {
  return {cert: material.cert!, key: material.key!, ...(material.ca ? {ca: material.ca} : {})}
}

/**
 * `requested`: node:tls completes a handshake with an unverified certificate when it does not
 * insist on one (rejectUnauthorized false); a client that presented one the CA did not sign is
 * cut here, as soon as the handshake ends.
 */
export function refuseUntrustedCertificates(server: {on(event: 'secureConnection', listener: (socket: TLSSocket) => void): unknown}, logger: Logger): void {
  server.on('secureConnection', (socket) => {
    if (socket.authorized || !socket.getPeerCertificate()?.raw) return
    logger.debug('refused a client certificate the CA did not sign', {reason: String(socket.authorizationError), remote: socket.remoteAddress})
    socket.destroy()
  })
}

/** grpc-js's HTTP/2 servers of `server` (internal; empty when grpc-js changed where it keeps them). */
export function http2ServersOf(server: object): Http2Server[] {
  const http2Servers = (server as {http2Servers?: Map<Http2Server, unknown>}).http2Servers
  return http2Servers instanceof Map ? [...http2Servers.keys()] : []
}
