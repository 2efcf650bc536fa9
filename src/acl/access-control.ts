/**
 * The node's authorization while it runs: the rule store the configuration names, and the
 * Authorizer built from its rules now, rebuilt whole at every change. What the servers ask:
 * may this principal do this (`allows`), and the rule operations of `lignum acl`.
 *
 * Invariant: `authorizer` always reflects a complete rule set the store accepted; a change
 * another one overtook while it was built is dropped (the newer one wins).
 */
import type {Logger} from '../logger.js'
import {describeRule, type AclRule, type Operation, type Resource} from './acl-rule.js'
import {Authorizer} from './authorizer.js'
import type {AclRuleStore, AddOutcome, RemoveOutcome} from './rule-store.js'

export class AccessControl {
  private generation = 0

  private constructor(
    private current: Authorizer,
    private readonly store: AclRuleStore,
    private readonly logger: Logger,
  ) {}

  static async start(store: AclRuleStore, superUsers: readonly string[], logger: Logger): Promise<AccessControl> {
    const rules = await store.start()
    const control = new AccessControl(await Authorizer.create(rules, superUsers), store, logger)
    store.onChange((next) => void control.replace(next))
    return control
  }

  get where(): string {
    return this.store.where
  }

  get rules(): readonly AclRule[] {
    return this.current.rules
  }

  allows(principal: string, operation: Operation, resource: Resource): boolean {
    return this.current.allows(principal, operation, resource)
  }

  allowsSomewhere(principal: string, operation: Operation, type: Resource['type']): boolean {
    return this.current.allowsSomewhere(principal, operation, type)
  }

  /** Effective on this node when it resolves (the store called back before it returned). */
  async add(rule: AclRule, by: string): Promise<AddOutcome> {
    const outcome = await this.store.add(rule)
    await this.settled()
    if (outcome === 'added') this.logger.info('authorization rule added', {rule: describeRule(rule), by})
    return outcome
  }

  async remove(rule: AclRule, by: string): Promise<RemoveOutcome> {
    const outcome = await this.store.remove(rule)
    await this.settled()
    if (outcome === 'removed') this.logger.info('authorization rule removed', {rule: describeRule(rule), by})
    return outcome
  }

  stop(): Promise<void> {
    return this.store.stop()
  }

  private building: Promise<void> = Promise.resolve()

  private replace(rules: AclRule[]): Promise<void> {
    const generation = ++this.generation
    this.building = this.current.withRules(rules).then(
      (next) => {
        if (generation === this.generation) this.current = next
      },
      (error) => this.logger.error('building the authorization rules failed; the previous rules stay in force', {error}),
    )
    return this.building
  }

  /** Waits for the rule set the store last announced to be in force. */
  private async settled(): Promise<void> {
    let seen: Promise<void>
    do {
      seen = this.building
      await seen
    } while (seen !== this.building)
  }
}
