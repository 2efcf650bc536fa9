/**
 * One real Consul for a describe block, the hooks every cluster suite used to write by hand:
 * a `before` that finds the binary (building it if need be, with the build's timeout), starts
 * the agent and gives the start its own timeout; an `after` that stops what the suite asks
 * first (nodes that deregister from Consul as they shut down) and then destroys the agent.
 *
 * Call it at the top of the describe, before hooks that use the agent: mocha runs a suite's
 * hooks in the order they were registered, so the agent is up for every later `before`. For
 * the same reason a later `after` runs once the agent is gone: teardown that needs Consul
 * goes in `stopFirst`.
 */
import {CONSUL_START_TIMEOUT_MS_MAX, ConsulAgent, requireConsulBinary} from './consul.js'

export interface ConsulSuiteOptions {
  /** `persistent` keeps state across the agent's restarts; `dev` (the default) keeps it in memory. */
  kind?: 'dev' | 'persistent'
  /** Runs in the suite's `after`, before the agent stops: whatever still talks to Consul. */
  stopFirst?: () => unknown
}

/** Registers the suite's Consul hooks; the getter returns the agent from the first `before` on. */
export function useConsul(options: ConsulSuiteOptions = {}): () => ConsulAgent {
  let agent: ConsulAgent | undefined
  before(async function () {
    const binary = await requireConsulBinary(this)
    this.timeout(CONSUL_START_TIMEOUT_MS_MAX)
    agent = await ConsulAgent.start(binary, options.kind ?? 'dev')
  })
  after(async function () {
    try {
      await options.stopFirst?.()
    } finally {
      await agent?.destroy()
      agent = undefined
    }
  })
  return () => {
    if (!agent) throw new Error('the suite\'s Consul is not running: call useConsul() at the top of the describe, and use it from a hook or test')
    return agent
  }
}
