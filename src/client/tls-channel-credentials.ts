/**
 * TLS channel credentials that send no IP address as the TLS server name. grpc-js's own
 * (`credentials.createSsl`) always set `servername` to the target's host, so connecting to
 * `127.0.0.1:50051` puts an IP address into SNI, which RFC 6066 forbids, and Node warns
 * (DEP0123) in every program using the client. Here, as Node's https module does, the server
 * name is the host only when it is a DNS name; for an IP address none is sent.
 *
 * Invariant: the node's certificate is verified exactly as before, against the target's host —
 * node:tls checks the host (the IP against the certificate's IP SANs) when no server name is
 * given — and the chain against the CA; an unverified peer never becomes a connection.
 *
 * This is grpc-js's secure connector (channel-credentials.ts of 1.14.7, the pinned version)
 * with that one change: it implements the `_createSecureConnector` hook and reads the target
 * the way grpc-js does, through its resolver and URI parser.
 */
import {CallCredentials, ChannelCredentials, type ChannelOptions, type experimental} from '@grpc/grpc-js'
import {getDefaultAuthority} from '@grpc/grpc-js/build/src/resolver.js'
import {CIPHER_SUITES, getDefaultRootsData} from '@grpc/grpc-js/build/src/tls-helpers.js'
import {parseUri, splitHostPort, type GrpcUri} from '@grpc/grpc-js/build/src/uri-parser.js'
import {isIP, type Socket} from 'node:net'
import {connect, createSecureContext, type ConnectionOptions, type SecureContext} from 'node:tls'
import type {PemMaterial} from '../tls/pem-files.js'

// gRPC over TLS is HTTP/2, negotiated by ALPN.
const ALPN_PROTOCOLS = ['h2']
// Set by grpc-js when it connects through an HTTP CONNECT proxy: the target behind the proxy.
const HTTP_CONNECT_TARGET_OPTION = 'grpc.http_connect_target'
// A user's override of the name the certificate must carry (as grpc-js honours it).
const TARGET_NAME_OVERRIDE_OPTION = 'grpc.ssl_target_name_override'

export class TlsChannelCredentials extends ChannelCredentials {
  private readonly secureContext: SecureContext

  /** Trusts `material.ca` (the system's roots without one) and presents its certificate, if any. */
  constructor(material: PemMaterial) {
    super()
    this.secureContext = createSecureContext({
      ca: material.ca ?? getDefaultRootsData() ?? undefined,
      cert: material.cert,
      key: material.key,
      ciphers: CIPHER_SUITES,
    })
  }

  _isSecure(): boolean {
    return true
  }

  // Channels share a connection only when they share this object (a client creates one).
  _equals(other: ChannelCredentials): boolean {
    return other === this
  }

  _createSecureConnector(channelTarget: GrpcUri, options: ChannelOptions, callCredentials?: CallCredentials): experimental.SecureConnector {
    const connectionOptions = connectionOptionsFor(this.secureContext, channelTarget, options)
    const calls = callCredentials ?? CallCredentials.createEmpty()
    return {
      connect: (socket) => secureConnect(socket, connectionOptions),
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => calls,
      destroy: () => undefined,
    }
  }
}

/** The name the certificate must carry: the override, else the host of the target (behind a proxy, the proxied one). */
export function expectedServerName(channelTarget: GrpcUri, options: ChannelOptions): string {
  const override = options[TARGET_NAME_OVERRIDE_OPTION]
  if (typeof override === 'string' && override) return override
  const proxied = options[HTTP_CONNECT_TARGET_OPTION]
  const target = (typeof proxied === 'string' && parseUri(proxied)) || channelTarget
  const authority = getDefaultAuthority(target)
  return splitHostPort(authority)?.host ?? authority
}

function connectionOptionsFor(secureContext: SecureContext, channelTarget: GrpcUri, options: ChannelOptions): ConnectionOptions {
  const name = expectedServerName(channelTarget, options)
  // Without `servername`, node:tls verifies the certificate against `host` (an IP against its IP SANs).
  return {secureContext, host: name, ALPNProtocols: ALPN_PROTOCOLS, ...(isIP(name) ? {} : {servername: name})}
}

function secureConnect(socket: Socket, options: ConnectionOptions): Promise<experimental.SecureConnectResult> {
  return new Promise((resolve, reject) => {
    const tlsSocket = connect({...options, socket}, () => {
      // rejectUnauthorized (the default) already fails the handshake; this is the invariant's guard.
      if (!tlsSocket.authorized) {
        reject(tlsSocket.authorizationError)
        return
      }
      resolve({socket: tlsSocket, secure: true})
    })
    tlsSocket.on('error', reject)
  })
}
