/** The hints of the client's connect errors in the CLI's words: the flags that fix them. */
import type {ConnectHints} from '../client/connect-hints.js'

export const CLI_CONNECT_HINTS: ConnectHints = {
  noBrokers: 'pass --brokers host:port[,host:port]',
  unreachable: 'check that "lignum serve" runs there, or pass --brokers host:port',
  untrustedNode: "pass --tls-ca with the CA that signed the nodes' certificates",
  plaintextNode: 'drop --tls-ca, --tls-cert and --tls-key, or turn TLS on at the node',
  tlsNode: 'pass --tls-ca <CA file> (and --tls-cert, --tls-key if it requires a client certificate)',
  clientCertificateMissing: 'pass --tls-cert and --tls-key',
  clientCertificateRefused: 'pass --tls-cert and --tls-key with such a certificate',
  notGrpc: 'pass --brokers host:port with a node\'s gRPC port (lignum serve --grpc-port, default 50051; its "node started" log line names it as "grpc")',
}
