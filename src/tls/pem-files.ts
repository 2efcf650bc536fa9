/**
 * Reading and checking the PEM files TLS is configured with, before any of them is used: each
 * certificate parses, the private key parses and belongs to the first certificate, the CA file
 * holds at least one certificate. A bad file is a one-line CONFIG error naming the file and
 * the setting, never a stack from OpenSSL at the first handshake.
 *
 * Invariant: what `checkIdentity` returns is usable as a secure context (node:tls accepts it).
 */
import {createPrivateKey, X509Certificate} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {createSecureContext} from 'node:tls'
import {LignumError} from '../errors.js'

/** The PEM bytes of an identity (certificate chain and key) and the CA to trust peers by. */
export interface PemMaterial {
  cert?: Buffer
  key?: Buffer
  ca?: Buffer
}

/** Where each piece came from, named as the user named it (a setting or a flag), for messages. */
export interface PemSources {
  cert?: string
  key?: string
  ca?: string
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

export async function readPem(file: string, source: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? String(error))
    throw new LignumError('CONFIG', `cannot read ${source} ${file}: ${reason}; give the path of a PEM file`, {cause: error})
  }
}

/** The certificates of a PEM file, first (the leaf, in a chain) first. */
export function certificatesOf(pem: Buffer, source: string): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? []
  if (blocks.length === 0) throw new LignumError('CONFIG', `${source} holds no PEM certificate ("-----BEGIN CERTIFICATE-----"); give a PEM certificate file`)
  return blocks.map((block) => {
    try {
      return new X509Certificate(block)
    } catch (error) {
      throw new LignumError('CONFIG', `${source} holds a certificate that does not parse (${(error as Error).message}); give a PEM certificate file`, {cause: error})
    }
  })
}

/** Checks that the material is a usable identity and CA; throws a CONFIG error naming what is wrong. */
export function checkPem(material: PemMaterial, sources: PemSources): void {
  if (material.ca) certificatesOf(material.ca, sources.ca ?? 'the CA file')
  if ((material.cert === undefined) !== (material.key === undefined)) {
    throw new LignumError('CONFIG', `a certificate needs its private key and a key its certificate: give both ${sources.cert ?? 'the certificate'} and ${sources.key ?? 'the key'}`)
  }
  if (!material.cert || !material.key) return
  const [leaf] = certificatesOf(material.cert, sources.cert ?? 'the certificate file')
  let key
  try {
    key = createPrivateKey(material.key)
  } catch (error) {
    throw new LignumError('CONFIG', `${sources.key ?? 'the key file'} holds no private key that parses (${(error as Error).message}); give the PEM private key of the certificate`, {cause: error})
  }
  if (!leaf!.checkPrivateKey(key)) {
    throw new LignumError('CONFIG', `${sources.key ?? 'the key file'} is not the private key of the certificate in ${sources.cert ?? 'the certificate file'}; give the key the certificate was issued for`)
  }
  // What OpenSSL itself refuses (an unsupported key type, say) is found here, not at a handshake.
  try {
    createSecureContext({cert: material.cert, key: material.key, ca: material.ca})
  } catch (error) {
    throw new LignumError('CONFIG', `${sources.cert ?? 'the certificate'} and its key cannot be used for TLS (${(error as Error).message})`, {cause: error})
  }
}

/** The subject's common name of a certificate (the principal of a mutual TLS peer). */
export function commonNameOf(subject: string | Record<string, string | string[] | undefined> | undefined): string | undefined {
  if (subject === undefined) return undefined
  if (typeof subject !== 'string') {
    const name = subject.CN
    return Array.isArray(name) ? name[0] : name
  }
  return /(?:^|\n)CN=([^\n]*)/.exec(subject)?.[1]
}
