/**
 * Retries an operation while it fails with a retriable LignumError, backing off exponentially
 * with jitter, until a deadline. Anything not retriable is thrown at once.
 */
import {LignumError} from '../errors.js'

export interface RetryOptions {
  deadlineMs: number
  backoffMsInitial?: number
  backoffMsMax?: number
  signal?: AbortSignal
}

// Kafka's retry.backoff.ms and retry.backoff.max.ms defaults.
const BACKOFF_MS_INITIAL = 100
const BACKOFF_MS_MAX = 1000

export async function withRetry<T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> {
  const giveUpAt = Date.now() + options.deadlineMs
  let backoffMs = options.backoffMsInitial ?? BACKOFF_MS_INITIAL
  for (;;) {
    try {
      return await operation()
    } catch (error) {
      const retriable = error instanceof LignumError && error.retriable
      if (!retriable || Date.now() + backoffMs > giveUpAt || options.signal?.aborted) throw error
      await sleep(backoffMs * (0.8 + Math.random() * 0.4))
      backoffMs = Math.min(backoffMs * 2, options.backoffMsMax ?? BACKOFF_MS_MAX)
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
