/**
 * Whether a follower is catching up, and how many bytes it asks for in its next fetch, from
 * where its last answer ended against the leader's log end. Pure: the fetcher keeps the state.
 *
 * Catching up means the last answer was full (the leader cut it at the size asked for, so it
 * did not hold all the leader had when it read) and at least as much again still waits on the
 * leader. Only then does the leader's bookkeeping lose nothing by the next fetch reporting the
 * follower's log end before that answer is appended: a follower whose answer was cut short
 * does not count as caught up at that fetch either way (broker/in-sync-replicas.ts), while one
 * keeping pace, with answers smaller than asked, never pipelines and is counted as before.
 * Otherwise the follower is following, not catching up: it appends before it
 * fetches again, so that fetch tells the leader its new log end at once (acks=all waits on
 * it), and asks for `fetchMaxBytes` (Kafka's replica.fetch.max.bytes): its answers hold what
 * was appended since the last poll, and a larger size would only let one burst pin more memory.
 * Catching up, each answer doubles the next request, up to `catchUpFetchMaxBytes`: every fetch
 * costs a round trip, a log read and a gRPC call on both sides whatever its size, so a follower
 * with a lot to copy copies it in fewer, larger answers (and pipelines them: replica-fetcher.ts).
 *
 * Invariant: fetchMaxBytes <= the size asked for <= catchUpFetchMaxBytes.
 */

export interface FetchSizeLimits {
  fetchMaxBytes: number
  catchUpFetchMaxBytes: number
}

// The leader answers whole batches up to the size asked for; one cut at that size falls short
// of it by less than a batch, and producer batches are far below half of a fetch (256 KiB
// against 1 MiB by default), so an answer of half the size asked or more counts as cut.
const FULL_ANSWER_FRACTION = 0.5

export interface FetchAnswerExtent {
  fetchOffset: number
  /** One past the answer's last offset. */
  answerEndOffset: number
  answerBytes: number
  askedBytes: number
  /** -1: the leader did not say, so never catching up. */
  leaderLogEndOffset: number
}

export function isCatchingUp(extent: FetchAnswerExtent): boolean {
  const {fetchOffset, answerEndOffset, answerBytes, askedBytes, leaderLogEndOffset} = extent
  if (leaderLogEndOffset < 0 || answerEndOffset <= fetchOffset) return false
  if (answerBytes < askedBytes * FULL_ANSWER_FRACTION) return false
  return leaderLogEndOffset - answerEndOffset >= answerEndOffset - fetchOffset
}

export function nextFetchBytes(currentBytes: number, catchingUp: boolean, limits: FetchSizeLimits): number {
  const {fetchMaxBytes, catchUpFetchMaxBytes} = limits
  if (!catchingUp || catchUpFetchMaxBytes <= fetchMaxBytes) return fetchMaxBytes
  return Math.min(catchUpFetchMaxBytes, Math.max(fetchMaxBytes, currentBytes * 2))
}
