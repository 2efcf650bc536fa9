/**
 * The `cluster` part of `npm run bench` (issue 4): how long a three-node `lignum serve
 * --consul` cluster takes to elect its first controller, to replace a controller killed with
 * -9 (bounded below by the session TTL plus the lock-delay), and to hand over when the
 * controller stops cleanly (no TTL wait). Three runs on a fresh dev Consul; medians.
 * Times are wall clock from the action to every remaining node agreeing on the new controller.
 */
import type {BenchOptions} from './run.js'
import {ConsulAgent, findConsulBinary} from '../test/helpers/consul.js'
import {ServeProcess} from '../test/cluster/serve-process.js'

const RUNS = 3
const SESSION_TTL_MS = 3_000
const LOCK_DELAY_MS = 1_000
const AGREEMENT_TIMEOUT_MS = 60_000
const POLL_MS = 20

interface Sample {
  firstElectionMs: number
  killFailoverMs: number
  cleanHandoverMs: number
}

export async function run(options: BenchOptions): Promise<unknown> {
  const found = await findConsulBinary()
  if (!found.path) return {skipped: found.missingReason}
  const consul = await ConsulAgent.start(found.path, 'dev')
  const samples: Sample[] = []
  try {
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      samples.push(await measureOnce(consul.url, `bench-${runIndex}`))
      options.log(`cluster run ${runIndex + 1}/${RUNS}: ${JSON.stringify(samples.at(-1))}`)
    }
  } finally {
    await consul.destroy()
  }
  return {
    sessionTtlMs: SESSION_TTL_MS,
    lockDelayMs: LOCK_DELAY_MS,
    medians: {
      firstElectionMs: median(samples.map((sample) => sample.firstElectionMs)),
      killFailoverMs: median(samples.map((sample) => sample.killFailoverMs)),
      cleanHandoverMs: median(samples.map((sample) => sample.cleanHandoverMs)),
    },
    samples,
  }
}

async function measureOnce(consulUrl: string, cluster: string): Promise<Sample> {
  const settings = (nodeId: string) => ({consulUrl, cluster, nodeId, sessionTtlMs: SESSION_TTL_MS, lockDelayMs: LOCK_DELAY_MS})
  const startedMs = Date.now()
  const nodes = await Promise.all(['n1', 'n2', 'n3'].map((nodeId) => ServeProcess.start(settings(nodeId))))
  try {
    const first = await agreedController(nodes)
    const firstElectionMs = Date.now() - startedMs
    const killed = nodes.find((node) => node.nodeId === first)!
    const survivors = nodes.filter((node) => node !== killed)
    const killedMs = Date.now()
    await killed.killHard()
    const second = await agreedController(survivors, first)
    const killFailoverMs = Date.now() - killedMs
    const leaving = survivors.find((node) => node.nodeId === second)!
    const last = survivors.filter((node) => node !== leaving)
    const stoppedMs = Date.now()
    await leaving.stop()
    await agreedController(last, second)
    const cleanHandoverMs = Date.now() - stoppedMs
    return {firstElectionMs, killFailoverMs, cleanHandoverMs}
  } finally {
    await Promise.all(nodes.map((node) => node.destroy()))
  }
}

/** Polls until every node names the same controller, other than `previous`; returns its id. */
async function agreedController(nodes: ServeProcess[], previous?: string): Promise<string> {
  const deadline = Date.now() + AGREEMENT_TIMEOUT_MS
  while (Date.now() < deadline) {
    const statuses = await Promise.all(nodes.map((node) => node.status()))
    const controller = statuses[0]!.controller
    if (controller && controller !== previous && statuses.every((status) => status.controller === controller)) return controller
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  throw new Error(`no agreed controller within ${AGREEMENT_TIMEOUT_MS} ms`)
}

function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right)
  return sorted[Math.floor(sorted.length / 2)]!
}
