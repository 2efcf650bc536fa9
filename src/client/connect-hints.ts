/**
 * How to fix what reaching a node can fail on, in the caller's words. The client's errors say
 * what went wrong; these hints say how to fix it. A program gets them in the terms of the
 * client's options (LIBRARY_CONNECT_HINTS); the CLI passes its own, which name its flags.
 */
export interface ConnectHints {
  /** `brokers` named no address. */
  noBrokers: string
  /** No node answered at an address. */
  unreachable: string
  /** The node's certificate is not signed by a CA the client trusts. */
  untrustedNode: string
  /** The client asked for TLS and the node answered in plaintext. */
  plaintextNode: string
  /** The node serves TLS and the client connected in plaintext. */
  tlsNode: string
  /** The node requires a client certificate and none was given. */
  clientCertificateMissing: string
  /** The node refused the client's certificate. */
  clientCertificateRefused: string
  /** What answered is not a node's gRPC port (an HTTP port, another server). */
  notGrpc: string
}

export const LIBRARY_CONNECT_HINTS: ConnectHints = {
  noBrokers: 'give brokers as host:port[,host:port]',
  unreachable: 'check that "lignum serve" runs there and that brokers names it as host:port',
  untrustedNode: "give tls.ca or tls.caFile: the CA that signed the nodes' certificates",
  plaintextNode: 'connect without the tls option, or turn TLS on at the node',
  tlsNode: 'give the tls option with the CA file (and a client certificate and key if the node requires one)',
  clientCertificateMissing: 'give tls.cert and tls.key (or tls.certFile and tls.keyFile)',
  clientCertificateRefused: 'give tls.cert and tls.key with a certificate signed by its CA',
  notGrpc: 'give brokers a node\'s gRPC port (default 50051; its "node started" log line names it as "grpc")',
}
