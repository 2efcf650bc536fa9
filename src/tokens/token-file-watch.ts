/**
 * The tokens of `http.tokensFile`, read at start and read again every TOKEN_FILE_POLL_MS, so
 * tokens are added and revoked without a restart. A change is parsed whole before it replaces
 * anything: a bad or half-written file keeps the current tokens, logs one line (naming the
 * line number, never the line), and is tried again at the next poll.
 *
 * Lookups hash the presented token and compare it with every entry's hash in constant time
 * (timingSafeEqual), without stopping at the first match: the time of a lookup says nothing
 * of how much of a hash matched, nor which entry did.
 *
 * Invariant: `entries` only ever holds what parseTokenFile accepted.
 */
import {readFile} from 'node:fs/promises'
import {timingSafeEqual} from 'node:crypto'
import {errorLine, LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {bearerTokenHash} from './bearer-token.js'
import {parseTokenFile, type TokenEntry} from './token-file.js'

// Polling, as for certificates (tls/certificate-watch.ts): secret stores replace files by
// rename, which a watch on the old file misses; one small read a second costs nothing.
export const TOKEN_FILE_POLL_MS = 1000

/** Who a bearer token belongs to: what the HTTP API needs of the tokens. */
export interface BearerTokens {
  principalOf(token: string): string | undefined
}

export class TokenFileWatch implements BearerTokens {
  private entries: TokenEntry[] = []
  private lastText: string | undefined
  private lastRefused: string | undefined
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined

  constructor(
    readonly file: string,
    private readonly logger: Logger,
  ) {}

  /** Reads and parses the file once (a bad file stops the start), then keeps polling. */
  async start(): Promise<void> {
    const text = await this.read()
    this.entries = parseTokenFile(text, this.source)
    this.lastText = text
    this.timer = setInterval(() => void this.poll(), TOKEN_FILE_POLL_MS)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  get size(): number {
    return this.entries.length
  }

  principalOf(token: string): string | undefined {
    const hash = bearerTokenHash(token)
    let principal: string | undefined
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.hash, hash) && principal === undefined) principal = entry.principal
    }
    return principal
  }

  private get source(): string {
    return `http.tokensFile ${this.file}`
  }

  private async read(): Promise<string> {
    try {
      return await readFile(this.file, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? String(error))
      throw new LignumError('CONFIG', `cannot read ${this.source}: ${reason}`, {cause: error, hint: 'give the path of a tokens file (make entries with lignum http-token create)'})
    }
  }

  private poll(): Promise<void> {
    // One read at a time: a slow disk must not stack reads up.
    this.polling ??= this.reload().finally(() => (this.polling = undefined))
    return this.polling
  }

  private async reload(): Promise<void> {
    let text
    let entries
    try {
      text = await this.read()
      if (text === this.lastText) {
        this.lastRefused = undefined
        return
      }
      entries = parseTokenFile(text, this.source)
    } catch (error) {
      const reason = error instanceof LignumError ? errorLine(error) : String(error)
      // One line per distinct refusal, not one a second while the bad file stays.
      if (reason !== this.lastRefused) this.logger.warn('HTTP tokens file changed but was refused; still using the previous tokens', {reason})
      this.lastRefused = reason
      return
    }
    this.lastRefused = undefined
    this.lastText = text
    this.entries = entries
    this.logger.info('HTTP tokens reloaded', {file: this.file, entries: entries.length})
  }
}
