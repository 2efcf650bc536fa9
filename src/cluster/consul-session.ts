/**
 * This node's Consul session: tied to the agent's gossip check and to the node's own TTL
 * check, so it ends when the node stops renewing; with a short lock-delay, which keeps a lock
 * the session held from being taken for that long after it ends (a margin for a node that
 * has not noticed yet, never the mechanism). Locks are released, not deleted, when it ends.
 *
 * Its name is the node's (cluster and node id), so a session of the same name and another id
 * is an earlier process's: one killed and restarted within its TTL leaves a session Consul
 * never ends (the new process renews the very check it is tied to), holding whatever locks it
 * held. The new process ends those (endEarlierSessions).
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
    readonly lockDelayMs: number,
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

  /** Ends every session of this name but this one (an earlier process's); the ids it ended. */
  async endEarlierSessions(): Promise<string[]> {
    const own = this.sessionId
    const earlier = (await this.api.listSessions()).filter((session) => session.name === this.name && session.id !== own)
    for (const session of earlier) await this.api.destroySession(session.id)
    return earlier.map((session) => session.id)
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
