/**
 * Retries an operation while it fails with a retriable LignumError, backing off exponentially
 * with jitter, until a deadline. Anything not retriable is thrown at once. For a partition's
 * requests, `retryRouted` says whether a failure is worth another try once the client's
 * metadata is refreshed (the leader moved, a replica fell out of the ISR, a node has not yet
 * applied a topic just created).
 */
import {LignumError, type ErrorCode} from '../errors.js'
import type {ClusterRoutes} from './cluster-routes.js'

export interface RetryOptions {
  deadlineMs: number
  backoffMsInitial?: number
  backoffMsMax?: number
  signal?: AbortSignal
  /** Decides (and prepares) another try; default: the error's `retriable`. */
  shouldRetry?: (error: unknown) => boolean | Promise<boolean>
}

// Kafka's retry.backoff.ms and retry.backoff.max.ms defaults.
export const BACKOFF_MS_INITIAL = 100
export const BACKOFF_MS_MAX = 1000
// Each wait is the backoff times a factor in [1 - JITTER, 1 + JITTER], so clients that failed
// together (a leader that stopped) do not all come back in the same millisecond.
const JITTER = 0.2

/** Errors of a partition's request that a new leader, a refreshed ISR or a moment's wait can cure. */
export const ROUTING_RETRIABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'NOT_LEADER',
  'UNAVAILABLE',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'REQUEST_TIMED_OUT',
  'TIMEOUT',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
])

export async function withRetry<T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> {
  const giveUpAt = Date.now() + options.deadlineMs
  let backoffMs = options.backoffMsInitial ?? BACKOFF_MS_INITIAL
  for (;;) {
    try {
      return await operation()
    } catch (error) {
      if (Date.now() + backoffMs > giveUpAt || options.signal?.aborted) throw error
      const retry = options.shouldRetry ? await options.shouldRetry(error) : error instanceof LignumError && error.retriable
      if (!retry) throw error
      await sleep(jittered(backoffMs))
      backoffMs = Math.min(backoffMs * 2, options.backoffMsMax ?? BACKOFF_MS_MAX)
    }
  }
}

/** The wait before attempt `attempt + 1` (attempt counts from 1): exponential, capped, jittered. */
export function retryBackoffMs(attempt: number): number {
  return jittered(Math.min(BACKOFF_MS_INITIAL * 2 ** Math.max(0, attempt - 1), BACKOFF_MS_MAX))
}

function jittered(ms: number): number {
  return ms * (1 - JITTER + Math.random() * 2 * JITTER)
}

/**
 * Whether a partition's failed request should be tried again, after refreshing what the
 * client knows of `topic`. UNKNOWN_TOPIC counts only while the cluster still lists the topic
 * (a node that has not applied it yet); `codes` are the others worth a retry.
 */
export async function retryRouted(error: unknown, routes: ClusterRoutes, topic: string, codes: ReadonlySet<ErrorCode> | 'any-retriable'): Promise<boolean> {
  if (!(error instanceof LignumError)) return false
  const unknownTopic = error.code === 'UNKNOWN_TOPIC'
  if (!unknownTopic && !(codes === 'any-retriable' ? error.retriable : codes.has(error.code))) return false
  // A refresh that fails (the bootstrap node is down too) leaves the old picture: still worth a retry.
  await routes.refresh(topic).catch(() => {})
  return !unknownTopic || routes.knowsTopic(topic)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
