/**
 * The HTTP tokens file (`http.tokensFile`), as an htpasswd file: one principal and the SHA-256
 * of one of its tokens a line, so the file can be read (and kept in a config repository)
 * without giving anything away.
 *
 *     # who:sha256:<64 hex digits of SHA-256(token)>
 *     prometheus:sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
 *     ci:sha256:…
 *
 * `#` starts a comment line; blank lines are ignored; a principal may have several lines (a
 * new token beside the old one while clients move over). Messages about a bad line name the
 * file and the line number, never the line: a line may hold a token pasted by mistake.
 *
 * Invariant: what parseTokenFile returns has no two entries with the same hash, so a token
 * maps to one principal.
 */
import {LignumError} from '../errors.js'
import {BEARER_TOKEN_PREFIX, bearerTokenHash, TOKEN_HASH_BYTES} from './bearer-token.js'

export interface TokenEntry {
  principal: string
  hash: Buffer
}

const HASH_SCHEME = 'sha256'
// A principal is a name (as a certificate's CN, or an ACL rule's subject): no separator, no space.
const PRINCIPAL_SYNTAX = /^[^\s:#]+$/
const LINE_SYNTAX = new RegExp(`^([^\\s:#]+):${HASH_SCHEME}:([0-9a-fA-F]{${TOKEN_HASH_BYTES * 2}})$`)
// Bounds the per-request work: every entry is compared with every presented token. Measured
// on a shared 2-core machine: 0.1 to 0.5 ms per lookup at 1,000 entries, 1.4 ms at 10,000.
export const TOKEN_ENTRIES_MAX = 1000

export function parseTokenFile(text: string, source: string): TokenEntry[] {
  const entries: TokenEntry[] = []
  const lineOfHash = new Map<string, number>()
  const lines = text.split('\n')
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const number = index + 1
    const match = LINE_SYNTAX.exec(line)
    if (!match && line.includes(BEARER_TOKEN_PREFIX)) throw new LignumError('CONFIG', `${source} line ${number} looks like it holds a token itself, not its hash`, {hint: 'remove it, treat that token as leaked, and add an entry made with lignum http-token create'})
    if (!match) throw new LignumError('CONFIG', `${source} line ${number} is not "principal:${HASH_SCHEME}:<64 hex digits>"`, {hint: 'make entries with lignum http-token create'})
    const principal = match[1]!
    const hex = match[2]!.toLowerCase()
    const earlier = lineOfHash.get(hex)
    if (earlier !== undefined) throw new LignumError('CONFIG', `${source} line ${number} repeats the hash of line ${earlier}; a token maps to one principal: remove one of them`)
    lineOfHash.set(hex, number)
    entries.push({principal, hash: Buffer.from(hex, 'hex')})
    if (entries.length > TOKEN_ENTRIES_MAX) throw new LignumError('CONFIG', `${source} holds more than ${TOKEN_ENTRIES_MAX} entries; remove tokens no longer used`)
  }
  return entries
}

/** The line of the tokens file that maps `token` to `principal`. */
export function tokenFileLine(principal: string, token: string): string {
  checkPrincipalName(principal)
  return `${principal}:${HASH_SCHEME}:${bearerTokenHash(token).toString('hex')}`
}

export function checkPrincipalName(principal: string): void {
  if (!PRINCIPAL_SYNTAX.test(principal)) throw new LignumError('INVALID_ARGUMENT', `the principal ${JSON.stringify(principal)} must be a name without spaces, ":" or "#", e.g. prometheus`)
}
