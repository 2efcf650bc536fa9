/**
 * Why a connection to a node failed, when gRPC cannot say: grpc-js reports a refused client
 * certificate and a plaintext/TLS mismatch alike as "Failed to connect". After such a failure
 * the client makes handshakes of its own with node:tls and reads what the node did:
 *   1. without a client certificate: does the node speak TLS at all, is its certificate
 *      trusted, does it insist on a client certificate;
 *   2. with the client's certificate: does the node hang up on it.
 * TLS 1.2 at most, so that the node's verdict on a certificate comes inside the handshake (TLS
 * 1.3 gives it after the client finished). A node refusing a certificate closes the connection
 * without saying why (node:tls checks after OpenSSL's handshake), so the reason given is what
 * the client sees of its own certificate: expired, or not signed by the CA it trusts.
 * The answer is a LignumError that says what is wrong, with the caller's hint on how to fix it, or
 * undefined when the handshakes show nothing wrong with TLS (the failure was elsewhere).
 */
import {X509Certificate} from 'node:crypto'
import {connect} from 'node:tls'
import {LignumError} from '../errors.js'
import {certificatesOf, type PemMaterial} from '../tls/pem-files.js'
import type {ConnectHints} from './connect-hints.js'

// A node answers a handshake within a round trip; one that says nothing this long is not the TLS question.
const PROBE_TIMEOUT_MS = 3000
// A node refusing a certificate after the handshake (clientAuth requested) hangs up at once.
const HANG_UP_WAIT_MS = 200

type ProbeOutcome =
  | {kind: 'accepted'; authorizationError: string | undefined}
  | {kind: 'hung-up'}
  | {kind: 'alert'; message: string}
  | {kind: 'not-tls'}
  | {kind: 'timeout'}

export async function diagnoseTls(address: string, material: PemMaterial | undefined, hints: ConnectHints): Promise<LignumError | undefined> {
  const anonymous = await probe(address, {ca: material?.ca})
  if (anonymous.kind === 'timeout') return undefined
  if (anonymous.kind === 'not-tls') {
    if (!material) return undefined
    return new LignumError('CONFIG', `the node at ${address} does not serve TLS (it answered in plaintext)`, {hint: hints.plaintextNode})
  }
  if (!material) return new LignumError('CONFIG', `the node at ${address} serves TLS and this client connected in plaintext`, {hint: hints.tlsNode})
  if (anonymous.kind === 'accepted' && anonymous.authorizationError) {
    return new LignumError('UNAUTHENTICATED', `the certificate of the node at ${address} is not trusted (${anonymous.authorizationError})`, {hint: hints.untrustedNode})
  }
  if (!material.cert) {
    if (anonymous.kind === 'accepted') return undefined
    return new LignumError('UNAUTHENTICATED', `the node at ${address} requires a client certificate signed by its CA and none was given`, {hint: hints.clientCertificateMissing})
  }
  const presented = await probe(address, material)
  if (presented.kind === 'accepted' || presented.kind === 'timeout') return undefined
  return new LignumError('UNAUTHENTICATED', `the node at ${address} refused the client certificate${whatIsWrongWith(material)}; it requires one signed by its CA`, {hint: hints.clientCertificateRefused})
}

/** What the client can see wrong with its own certificate, as a clause for the message. */
function whatIsWrongWith(material: PemMaterial): string {
  const [leaf] = certificatesOf(material.cert!, '--tls-cert')
  const subject = leaf!.subject.replaceAll('\n', ', ')
  if (Date.parse(leaf!.validTo) < Date.now()) return ` (${subject}: expired on ${leaf!.validTo})`
  if (Date.parse(leaf!.validFrom) > Date.now()) return ` (${subject}: not valid before ${leaf!.validFrom})`
  const ca = material.ca ? certificatesOf(material.ca, '--tls-ca') : []
  if (ca.length > 0 && !ca.some((authority) => issuedBy(leaf!, authority))) return ` (${subject}: not signed by the CA the client trusts)`
  return ` (${subject})`
}

function issuedBy(certificate: X509Certificate, authority: X509Certificate): boolean {
  return certificate.checkIssued(authority) && certificate.verify(authority.publicKey)
}

function probe(address: string, material: PemMaterial): Promise<ProbeOutcome> {
  const {host, port} = splitAddress(address)
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      ALPNProtocols: ['h2'],
      maxVersion: 'TLSv1.2',
      // The probe asks what the node does; trust in the node is judged from authorizationError.
      rejectUnauthorized: false,
      ca: material.ca,
      cert: material.cert,
      key: material.key,
    })
    let hangUpTimer: NodeJS.Timeout | undefined
    const settle = (outcome: ProbeOutcome) => {
      clearTimeout(timer)
      clearTimeout(hangUpTimer)
      socket.removeAllListeners()
      socket.on('error', () => {})
      socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(() => settle({kind: 'timeout'}), PROBE_TIMEOUT_MS)
    socket.once('secureConnect', () => {
      const authorizationError = socket.authorizationError === undefined || socket.authorizationError === null ? undefined : String(socket.authorizationError)
      hangUpTimer = setTimeout(() => settle({kind: 'accepted', authorizationError}), HANG_UP_WAIT_MS)
      socket.once('close', () => settle({kind: 'hung-up'}))
    })
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (/alert/i.test(error.message)) settle({kind: 'alert', message: error.message})
      // A reset in the middle of a handshake the node began is a refusal; one before any
      // TLS record came back, or a record that is not TLS, means the node speaks plaintext.
      else if (/socket disconnected before secure/i.test(error.message) && material.cert) settle({kind: 'hung-up'})
      else settle({kind: 'not-tls'})
    })
  })
}

function splitAddress(address: string): {host: string; port: number} {
  const index = address.lastIndexOf(':')
  return {host: address.slice(0, index).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(index + 1))}
}
