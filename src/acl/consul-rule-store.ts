/**
 * Rules kept in one Consul key of the cluster (ClusterKeys.aclRules), so every node enforces
 * the same: each node follows the key with a blocking query (cluster/blocking-watch.ts) and
 * takes a new value within one answer of Consul. A change is a read, an edit and a
 * check-and-set write at the index read, retried when another node wrote in between: two
 * operators adding rules at once both land, neither overwrites the other.
 *
 * A value that does not parse (an edit by hand) keeps the rules in force and logs one line;
 * no key is no rules.
 */
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {BlockingWatch} from '../cluster/blocking-watch.js'
import {encodeValue, type ConsulApi, type KvEntry} from '../cluster/consul-api.js'
import {parseRules, type AclRule} from './acl-rule.js'
import {serializeRules, withRuleAdded, withRuleRemoved, type AclRuleStore, type AddOutcome, type RemoveOutcome} from './rule-store.js'

// Operators change rules by hand and rarely; past this many lost races in a row something keeps rewriting the key.
const CHANGE_ATTEMPTS_MAX = 20

export class ConsulRuleStore implements AclRuleStore {
  private readonly watch: BlockingWatch<KvEntry[]>
  private lastValue: string | null | undefined
  private lastRefused: string | undefined
  private readonly listeners = new Set<(rules: AclRule[]) => void>()

  constructor(
    private readonly api: Pick<ConsulApi, 'kvGet' | 'kvTree' | 'transaction'>,
    readonly key: string,
    private readonly logger: Logger,
  ) {
    this.watch = new BlockingWatch({
      fetch: (index, waitMs, signal) => api.kvTree(key, index, waitMs, signal),
      onData: (entries) => this.take(entries.find((entry) => entry.key === key)?.value ?? null),
      onError: (error) => this.logger.debug('watching the authorization rules in Consul failed; retrying', {error}),
    })
  }

  get where(): string {
    return `Consul key ${this.key}`
  }

  async start(): Promise<AclRule[]> {
    const entry = await this.api.kvGet(this.key)
    const rules = this.parse(entry?.value ?? null)
    this.lastValue = entry?.value ?? null
    this.watch.start()
    return rules
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
    this.listeners.clear()
    await this.watch.stop()
  }

  private async change<Done, Unchanged>(edit: (rules: AclRule[]) => AclRule[] | undefined, done: Done, unchanged: Unchanged): Promise<Done | Unchanged> {
    for (let attempt = 0; attempt < CHANGE_ATTEMPTS_MAX; attempt++) {
      const entry = await this.api.kvGet(this.key)
      let current: AclRule[]
      try {
        current = this.parse(entry?.value ?? null)
      } catch (error) {
        throw new LignumError('CONFIG', (error as Error).message, {cause: error, hint: `correct the key's value before changing rules through lignum acl`})
      }
      const edited = edit(current)
      if (edited === undefined) return unchanged
      const value = serializeRules(edited)
      // Index 0 writes only if the key is still absent; otherwise only if nobody wrote since the read.
      const result = await this.api.transaction([{KV: {Verb: 'cas', Key: this.key, Value: encodeValue(value), Index: entry?.modifyIndex ?? 0}}])
      if (result.ok) {
        this.take(value)
        return done
      }
    }
    throw new LignumError('UNAVAILABLE', `could not change the authorization rules at ${this.where} after ${CHANGE_ATTEMPTS_MAX} tries: other writers kept changing it; retry`)
  }

  /** A value seen (written here or watched): taken when it is new and parses. */
  private take(value: string | null): void {
    if (value === this.lastValue) return
    let rules: AclRule[]
    try {
      rules = this.parse(value)
    } catch (error) {
      const reason = (error as Error).message
      if (reason !== this.lastRefused) this.logger.warn('authorization rules in Consul changed but were refused; the previous rules stay in force', {reason})
      this.lastRefused = reason
      return
    }
    this.lastValue = value
    this.lastRefused = undefined
    this.logger.info('authorization rules reloaded', {key: this.key, rules: rules.length})
    for (const listener of this.listeners) listener(rules)
  }

  private parse(value: string | null): AclRule[] {
    if (value === null || value === '') return []
    let raw: unknown
    try {
      raw = JSON.parse(value)
    } catch (error) {
      throw new LignumError('CONFIG', `the ${this.where} does not hold JSON (${(error as Error).message})`)
    }
    return parseRules(raw, `the ${this.where}`)
  }
}
