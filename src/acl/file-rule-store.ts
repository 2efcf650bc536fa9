/**
 * Rules kept in a JSON file of the node's (acl.rulesFile), read again every RULES_POLL_MS so an
 * edit or a copied file takes effect without a restart, as TLS certificates do
 * (tls/certificate-watch.ts). A file that does not parse keeps the rules in force and logs one
 * line per distinct reason. `lignum acl add|remove` rewrite it atomically (log/atomic-file.ts):
 * a crash leaves the old rules or the new, never half a file.
 *
 * A missing file is no rules (everything denied but to super users): the first `acl add`
 * creates it.
 */
import {readFile} from 'node:fs/promises'
import {errorLine, LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {replaceFileAtomically} from '../log/atomic-file.js'
import {parseRules, type AclRule} from './acl-rule.js'
import {serializeRules, withRuleAdded, withRuleRemoved, type AclRuleStore, type AddOutcome, type RemoveOutcome} from './rule-store.js'

// Polling, for the reason certificate-watch.ts gives (renames and symlink swaps); a small file a second costs nothing.
export const RULES_POLL_MS = 1000

export class FileRuleStore implements AclRuleStore {
  private rules: AclRule[] = []
  private lastText: string | undefined
  /** Rule lists taken so far (polls and changes): a poll whose read overlapped a change drops what it read. */
  private acceptedCount = 0
  private lastRefused: string | undefined
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined
  /** Changes run one after another: two adds at once must not both start from the same file. */
  private changing: Promise<unknown> = Promise.resolve()
  private readonly listeners = new Set<(rules: AclRule[]) => void>()

  constructor(
    readonly file: string,
    private readonly logger: Logger,
  ) {}

  get where(): string {
    return `rules file ${this.file}`
  }

  async start(): Promise<AclRule[]> {
    const text = await this.readText()
    this.rules = this.parse(text)
    this.lastText = text
    if (text === undefined) this.logger.info('no authorization rules file yet: nothing is allowed but to super users; lignum acl add creates it', {file: this.file})
    this.timer = setInterval(() => void this.poll(), RULES_POLL_MS)
    this.timer.unref()
    return this.rules
  }

  onChange(listener: (rules: AclRule[]) => void): void {
    this.listeners.add(listener)
  }

  add(rule: AclRule): Promise<AddOutcome> {
    return this.change((rules) => withRuleAdded(rules, rule), 'added', 'exists')
  }

  remove(rule: AclRule): Promise<RemoveOutcome> {
    return this.change((rules) => withRuleRemoved(rules, rule), 'removed', 'absent')
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.listeners.clear()
    await this.polling
  }

  /** Applies `edit` to the file as it is now (undefined: nothing to change), writes it, and takes it at once. */
  private change<Done, Unchanged>(edit: (rules: AclRule[]) => AclRule[] | undefined, done: Done, unchanged: Unchanged): Promise<Done | Unchanged> {
    const next = this.changing.catch(() => {}).then(async () => {
      const text = await this.readText()
      const edited = edit(this.parseForChange(text))
      if (edited === undefined) return unchanged
      const written = serializeRules(edited)
      await replaceFileAtomically(this.file, written).catch((error: NodeJS.ErrnoException) => {
        throw new LignumError('UNAVAILABLE', `cannot write the ${this.where}: ${error.code ?? error.message}; make it writable by the node`, {cause: error})
      })
      this.accept(edited, written)
      return done
    })
    this.changing = next
    return next
  }

  /** A change starts from the file, not from memory: an operator's edit since the last poll is kept. */
  private parseForChange(text: string | undefined): AclRule[] {
    try {
      return this.parse(text)
    } catch (error) {
      throw new LignumError('CONFIG', (error as Error).message, {cause: error, hint: `correct the file before changing rules through lignum acl`})
    }
  }

  private poll(): Promise<void> {
    this.polling ??= this.reload().finally(() => (this.polling = undefined))
    return this.polling
  }

  private async reload(): Promise<void> {
    let text: string | undefined
    let rules: AclRule[]
    // A change accepted while this read was under way is newer than what it read: taking the
    // read would put the old rules back until the next poll.
    const acceptedBefore = this.acceptedCount
    try {
      text = await this.readText()
      if (text === this.lastText || this.acceptedCount !== acceptedBefore) return
      rules = this.parse(text)
    } catch (error) {
      const reason = error instanceof LignumError ? errorLine(error) : String(error)
      if (reason !== this.lastRefused) this.logger.warn('authorization rules file changed but was refused; the previous rules stay in force', {reason})
      this.lastRefused = reason
      return
    }
    this.logger.info('authorization rules reloaded', {file: this.file, rules: rules.length})
    this.accept(rules, text)
  }

  private accept(rules: AclRule[], text: string | undefined): void {
    this.acceptedCount++
    this.rules = rules
    this.lastText = text
    this.lastRefused = undefined
    for (const listener of this.listeners) listener(rules)
  }

  private parse(text: string | undefined): AclRule[] {
    if (text === undefined) return []
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (error) {
      throw new LignumError('CONFIG', `the ${this.where} is not valid JSON (${(error as Error).message})`)
    }
    try {
      return parseRules(raw, `the ${this.where}`)
    } catch (error) {
      throw new LignumError('CONFIG', (error as Error).message)
    }
  }

  /** The file's text, or undefined when there is no file. */
  private async readText(): Promise<string | undefined> {
    try {
      return await readFile(this.file, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return undefined
      throw new LignumError('CONFIG', `cannot read the ${this.where}: ${code ?? (error as Error).message}; make it readable by the node`, {cause: error})
    }
  }
}
