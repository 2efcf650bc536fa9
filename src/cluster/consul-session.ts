/**
 * This node's Consul session: tied to the agent's gossip check and to the node's own TTL
 * check, so it ends when the node stops renewing; with a short lock-delay, which keeps a lock
 * the session held from being taken for that long after it ends (a margin for a node that
 * has not noticed yet, never the mechanism). Locks are released, not deleted, when it ends.
 */
import type {ConsulApi} from './consul-api.js'

// The agent's own health check: the session also ends when the agent's node fails.
const SERF_HEALTH_CHECK_ID = 'serfHealth'

export class ConsulSession {
  private sessionId: string | undefined

  constructor(
    private readonly api: ConsulApi,
    private readonly name: string,
    private readonly checkId: string,
    private readonly lockDelayMs: number,
  ) {}

  get id(): string | undefined {
    return this.sessionId
  }

  /** Creates the session if there is none; resolves with its id. */
  async ensure(): Promise<string> {
    if (this.sessionId) return this.sessionId
    this.sessionId = await this.api.createSession({
      name: this.name,
      checkIds: [SERF_HEALTH_CHECK_ID, this.checkId],
      lockDelayMs: this.lockDelayMs,
    })
    return this.sessionId
  }

  /** Asks Consul whether the session still exists; forgets it when it does not. */
  async stillValid(): Promise<boolean> {
    if (!this.sessionId) return false
    const valid = await this.api.sessionExists(this.sessionId)
    if (!valid) this.sessionId = undefined
    return valid
  }

  /** Forgets the session without telling Consul (it has already ended). */
  forget(): void {
    this.sessionId = undefined
  }

  async destroy(): Promise<void> {
    const sessionId = this.sessionId
    this.sessionId = undefined
    if (sessionId) await this.api.destroySession(sessionId)
  }
}
