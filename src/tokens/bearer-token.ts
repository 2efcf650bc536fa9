/**
 * Bearer tokens for the HTTP API: how one is made and how it is hashed. A token is
 * `lgn_` and 32 random bytes in base64url (256 bits: nobody guesses one, so an unsalted SHA-256
 * is enough to make the stored hash useless to a reader; a salt or a slow hash is for
 * passwords people choose). The prefix lets secret scanners and people tell a Lignum token
 * from other strings.
 *
 * Invariant: a token is never logged, printed (but once, by `lignum http-token create`) or
 * stored; only its hash is.
 */
import {createHash, randomBytes} from 'node:crypto'

export const BEARER_TOKEN_PREFIX = 'lgn_'
// 256 bits, as an AES-256 key: brute force is out of reach.
const TOKEN_RANDOM_BYTES = 32
// A presented token longer than this is refused before it is hashed: the tokens made here are
// 47 characters, and hashing whatever a header holds (up to Node's 16 KiB) buys nothing.
export const BEARER_TOKEN_LENGTH_MAX = 512
// RFC 6750's b64token: what may follow "Bearer " in an Authorization header.
const BEARER_TOKEN_SYNTAX = /^[A-Za-z0-9\-._~+/]+=*$/

export const TOKEN_HASH_BYTES = 32

export function newBearerToken(): string {
  return BEARER_TOKEN_PREFIX + randomBytes(TOKEN_RANDOM_BYTES).toString('base64url')
}

export function bearerTokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/** Whether `token` can be a bearer token at all (syntax and length); says nothing of whether it is known. */
export function isWellFormedBearerToken(token: string): boolean {
  return token.length <= BEARER_TOKEN_LENGTH_MAX && BEARER_TOKEN_SYNTAX.test(token)
}
