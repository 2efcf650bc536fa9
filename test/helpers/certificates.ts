/**
 * Certificates made for a test by `openssl` in a temporary directory: a CA, and leaf
 * certificates it (or another CA) signs, valid for 127.0.0.1 and localhost so one certificate
 * serves as a node's server and client identity. Nothing is checked in: every run makes its own
 * keys. EC P-256 keys, as they take milliseconds to make.
 */
import {execFile} from 'node:child_process'
import {mkdtemp, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

const run = promisify(execFile)

export interface CertificateFiles {
  cert: string
  key: string
}

export interface TestCa {
  name: string
  dir: string
  /** The CA's certificate, to trust by. */
  cert: string
  key: string
  /**
   * A certificate with subject CN=`commonName` signed by this CA; `days` below 0 makes it
   * expired; `subjectAltName` (openssl's syntax, e.g. `IP:10.0.0.9`) replaces the loopback names;
   * `subject` (openssl's -subj, e.g. `/C=US/O=Acme/CN=alice`) replaces /CN=`commonName`.
   */
  issue(commonName: string, options?: {days?: number; file?: string; subjectAltName?: string; subject?: string}): Promise<CertificateFiles>
}

const LOOPBACK_NAMES = 'IP:127.0.0.1,DNS:localhost'
const KEY_OPTIONS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

export async function makeCa(name: string, dir?: string): Promise<TestCa> {
  const base = dir ?? (await mkdtemp(path.join(os.tmpdir(), 'lignum-certs-')))
  const cert = path.join(base, `${name}.pem`)
  const key = path.join(base, `${name}-key.pem`)
  await run('openssl', ['req', '-x509', ...KEY_OPTIONS, '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`])
  let serial = 1
  return {
    name,
    dir: base,
    cert,
    key,
    async issue(commonName, options = {}) {
      const stem = path.join(base, options.file ?? `${commonName}-${serial}`)
      const extensions = `${stem}.ext`
      await writeFile(extensions, `subjectAltName=${options.subjectAltName ?? LOOPBACK_NAMES}\nextendedKeyUsage=serverAuth,clientAuth\n`)
      await run('openssl', ['req', ...KEY_OPTIONS, '-keyout', `${stem}-key.pem`, '-out', `${stem}.csr`, '-subj', options.subject ?? `/CN=${commonName}`])
      await run('openssl', ['x509', '-req', '-in', `${stem}.csr`, '-CA', cert, '-CAkey', key, '-set_serial', String(serial++), '-days', String(options.days ?? 2), '-extfile', extensions, '-out', `${stem}.pem`])
      return {cert: `${stem}.pem`, key: `${stem}-key.pem`}
    },
  }
}
