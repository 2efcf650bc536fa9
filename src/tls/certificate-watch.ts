/**
 * A node's TLS identity (certificate chain, private key) and CA, read from files and read
 * again every CERTIFICATE_POLL_MS so that certificates rotate without a restart. A change
 * is checked whole (pem-files.ts) before it replaces anything: a half-written or mismatched
 * file keeps the current material, logs one line, and is tried again at the next poll.
 *
 * It is a grpc-js CertificateProvider (the gRPC server and the node's own channels to other
 * nodes take updates from it) and tells other listeners (the HTTPS server) the same.
 *
 * Invariant: listeners only ever see material checkPem accepted; `current` is never undefined
 * after start() resolved.
 */
import type {experimental} from '@grpc/grpc-js'
import {errorLine, LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {checkPem, readPem, type PemMaterial} from './pem-files.js'

type CertificateProvider = experimental.CertificateProvider
type CaListener = experimental.CaCertificateUpdateListener
type IdentityListener = experimental.IdentityCertificateUpdateListener

// Polling, not fs.watch: secret stores swap files by rename (a Kubernetes secret moves a
// symlink), which inotify watches on the old file miss. Reading three small files a second costs nothing.
export const CERTIFICATE_POLL_MS = 1000

export interface CertificateFiles {
  certFile: string
  keyFile: string
  caFile?: string
}

export class CertificateWatch implements CertificateProvider {
  private material: Required<Pick<PemMaterial, 'cert' | 'key'>> & PemMaterial = {cert: Buffer.alloc(0), key: Buffer.alloc(0)}
  private lastRefused: string | undefined
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined
  private readonly caListeners = new Set<CaListener>()
  private readonly identityListeners = new Set<IdentityListener>()
  private readonly changeListeners = new Set<(material: PemMaterial) => void>()

  constructor(
    readonly files: CertificateFiles,
    private readonly logger: Logger,
  ) {}

  /** Reads and checks the files once (a bad file stops the start), then keeps polling. */
  async start(): Promise<void> {
    this.material = await this.read()
    this.timer = setInterval(() => void this.poll(), CERTIFICATE_POLL_MS)
    this.timer.unref()
  }

  get current(): PemMaterial {
    return this.material
  }

  /** Called with every accepted change (not with the material start() read). */
  onChange(listener: (material: PemMaterial) => void): void {
    this.changeListeners.add(listener)
  }

  stop(): void {
    clearInterval(this.timer)
    this.caListeners.clear()
    this.identityListeners.clear()
    this.changeListeners.clear()
  }

  private async read(): Promise<{cert: Buffer; key: Buffer; ca?: Buffer}> {
    const {certFile, keyFile, caFile} = this.files
    const [cert, key, ca] = await Promise.all([readPem(certFile, 'tls.certFile'), readPem(keyFile, 'tls.keyFile'), caFile === undefined ? undefined : readPem(caFile, 'tls.caFile')])
    checkPem({cert, key, ca}, {cert: `tls.certFile ${certFile}`, key: `tls.keyFile ${keyFile}`, ca: `tls.caFile ${caFile}`})
    return {cert, key, ca}
  }

  private poll(): Promise<void> {
    // One read at a time: a slow disk must not stack reads up.
    this.polling ??= this.reload().finally(() => (this.polling = undefined))
    return this.polling
  }

  private async reload(): Promise<void> {
    let next
    try {
      next = await this.read()
    } catch (error) {
      const reason = error instanceof LignumError ? errorLine(error) : String(error)
      // One line per distinct refusal, not one a second while the bad file stays.
      if (reason !== this.lastRefused) this.logger.warn('TLS files changed but were refused; still serving the previous certificate', {reason})
      this.lastRefused = reason
      return
    }
    this.lastRefused = undefined
    if (sameMaterial(next, this.material)) return
    this.material = next
    this.logger.info('TLS certificate reloaded', {certFile: this.files.certFile})
    for (const listener of this.identityListeners) listener({certificate: next.cert, privateKey: next.key})
    if (next.ca) for (const listener of this.caListeners) listener({caCertificate: next.ca})
    for (const listener of this.changeListeners) listener(next)
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener)
    const {ca} = this.material
    if (ca) process.nextTick(listener, {caCertificate: ca})
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener)
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener)
    process.nextTick(listener, {certificate: this.material.cert, privateKey: this.material.key})
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener)
  }
}

function sameMaterial(a: PemMaterial, b: PemMaterial): boolean {
  const same = (x: Buffer | undefined, y: Buffer | undefined) => (x === undefined ? y === undefined : y !== undefined && x.equals(y))
  return same(a.cert, b.cert) && same(a.key, b.key) && same(a.ca, b.ca)
}
