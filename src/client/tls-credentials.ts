/**
 * The channel credentials of a client: plaintext without TLS options, else TLS trusting the
 * given CA (or the system's roots without one), presenting a certificate when one is given
 * (mutual TLS). Each piece comes as PEM bytes or a file path; files are read and checked once,
 * at connect, so a bad one is a one-line error before any handshake.
 */
import {credentials, type ChannelCredentials} from '@grpc/grpc-js'
import {checkPem, readPem, type PemMaterial} from '../tls/pem-files.js'
import {TlsChannelCredentials} from './tls-channel-credentials.js'

export interface ClientTlsOptions {
  /** PEM of the CA the nodes' certificates are signed by, or `caFile` for its path. */
  ca?: string | Buffer
  caFile?: string
  /** PEM certificate (chain) to present for mutual TLS, or `certFile`; needs its key. */
  cert?: string | Buffer
  certFile?: string
  key?: string | Buffer
  keyFile?: string
}

/** The PEM bytes of the options, read and checked; undefined for a plaintext client. */
export async function readClientTls(tls: ClientTlsOptions | undefined): Promise<PemMaterial | undefined> {
  if (!tls) return undefined
  const [ca, cert, key] = await Promise.all([
    pemOf(tls.ca, tls.caFile, 'the TLS CA file (--tls-ca)'),
    pemOf(tls.cert, tls.certFile, 'the TLS certificate file (--tls-cert)'),
    pemOf(tls.key, tls.keyFile, 'the TLS key file (--tls-key)'),
  ])
  checkPem({ca, cert, key}, {ca: sourceOf('--tls-ca', tls.caFile), cert: sourceOf('--tls-cert', tls.certFile), key: sourceOf('--tls-key', tls.keyFile)})
  return {ca, cert, key}
}

/** Plaintext without material; otherwise TLS that puts no IP address into SNI (tls-channel-credentials.ts). */
export function channelCredentialsOf(material: PemMaterial | undefined): ChannelCredentials {
  if (!material) return credentials.createInsecure()
  return new TlsChannelCredentials(material)
}

async function pemOf(bytes: string | Buffer | undefined, file: string | undefined, source: string): Promise<Buffer | undefined> {
  if (bytes !== undefined) return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes)
  return file === undefined ? undefined : readPem(file, source)
}

function sourceOf(flag: string, file: string | undefined): string {
  return file === undefined ? `the ${flag} PEM` : `${flag} ${file}`
}
