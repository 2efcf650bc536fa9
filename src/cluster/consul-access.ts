/**
 * How a node reaches Consul besides its address: the ACL token and the TLS material for an
 * https:// address, read once at start from the settings (consulToken or consulTokenFile,
 * consulCaFile, consulCertFile, consulKeyFile, with Consul's own CONSUL_* names honoured in
 * config/schema.ts).
 *
 * Invariants: the token is never logged or shown (it leaves this process only as the
 * X-Consul-Token header); a bad file, or TLS files with a plain http:// address, is a one-line
 * CONFIG error before the node touches its data directory.
 */
import {readFile} from 'node:fs/promises'
import {LignumError} from '../errors.js'
import {checkPem, readPem, type PemMaterial} from '../tls/pem-files.js'
import {parseConsulUrl} from './consul-api.js'

export interface ConsulAccess {
  /** The ACL token; undefined: Consul's anonymous token applies. */
  token?: string
  /** PEM CA, certificate and key for HTTPS (the certificate when Consul verifies incoming). */
  tls?: PemMaterial
}

// Consul's CLI reads the token file the same way: the whole file, surrounding whitespace trimmed.
const TOKEN_FILE_BYTES_MAX = 4096

/** The settings this reads, as the configuration names them (declared here: the cluster layer does not import the configuration's). */
export interface ConsulSettings {
  consul: string | undefined
  consulToken: string | undefined
  consulTokenFile: string | undefined
  consulCaFile: string | undefined
  consulCertFile: string | undefined
  consulKeyFile: string | undefined
}

export async function consulAccessOf(config: ConsulSettings): Promise<ConsulAccess> {
  const url = parseConsulUrl(config.consul ?? '')
  const token = config.consulToken ?? (config.consulTokenFile === undefined ? undefined : await readTokenFile(config.consulTokenFile))
  const tlsFiles = {ca: config.consulCaFile, cert: config.consulCertFile, key: config.consulKeyFile}
  const anyTlsFile = Object.values(tlsFiles).some((file) => file !== undefined)
  if (url.protocol !== 'https:') {
    if (anyTlsFile) {
      throw new LignumError('CONFIG', `consulCaFile, consulCertFile or consulKeyFile is set but the consul address ${config.consul} is http://; use its https:// address (Consul's HTTPS port, 8501 by default) or drop the files`)
    }
    return {token}
  }
  const sources = {ca: 'consulCaFile (CONSUL_CACERT)', cert: 'consulCertFile (CONSUL_CLIENT_CERT)', key: 'consulKeyFile (CONSUL_CLIENT_KEY)'}
  const material: PemMaterial = {
    ca: tlsFiles.ca === undefined ? undefined : await readPem(tlsFiles.ca, sources.ca),
    cert: tlsFiles.cert === undefined ? undefined : await readPem(tlsFiles.cert, sources.cert),
    key: tlsFiles.key === undefined ? undefined : await readPem(tlsFiles.key, sources.key),
  }
  checkPem(material, sources)
  return {token, tls: material}
}

async function readTokenFile(file: string): Promise<string> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? String(error))
    throw new LignumError('CONFIG', `cannot read consulTokenFile (CONSUL_HTTP_TOKEN_FILE) ${file}: ${reason}; give the path of a file holding the Consul ACL token`, {cause: error})
  }
  const token = text.trim()
  if (token === '' || text.length > TOKEN_FILE_BYTES_MAX || /\s/.test(token)) {
    throw new LignumError('CONFIG', `consulTokenFile (CONSUL_HTTP_TOKEN_FILE) ${file} does not hold one token; put only the token's SecretID in it`)
  }
  return token
}
