/**
 * Produce latency at a fixed rate, open loop: record i is due at start + i / rate, whether or
 * not earlier ones were acknowledged, and its latency runs from when it was due (not from when
 * the timer got round to sending it) to its acknowledgement. So a stalled producer or broker
 * shows up in the percentiles instead of silently lowering the rate (coordinated omission).
 */
import {setTimeout as sleep} from 'node:timers/promises'

/** Timer granularity: records due within the same millisecond go out together. */
const tickMs = 1
/** Sends still unacknowledged beyond this mean the system cannot keep the rate; stop there. */
const maxOutstandingRecords = 200_000

export interface FixedRateResult {
  records: number
  seconds: number
  p50Ms: number
  p99Ms: number
}

export function percentile(sortedValues: Float64Array, fraction: number): number {
  if (sortedValues.length === 0) return Number.NaN
  const index = Math.min(sortedValues.length - 1, Math.ceil(fraction * sortedValues.length) - 1)
  return sortedValues[Math.max(0, index)]!
}

export async function measureFixedRate(send: (index: number) => Promise<unknown>, records: number, ratePerSecond: number): Promise<FixedRateResult> {
  const latenciesMs = new Float64Array(records)
  const startMs = performance.now()
  const acknowledgements: Promise<unknown>[] = []
  let outstanding = 0
  let next = 0
  while (next < records) {
    const dueCount = Math.min(records, Math.floor(((performance.now() - startMs) * ratePerSecond) / 1000) + 1)
    for (; next < dueCount; next++) {
      const index = next
      const dueMs = startMs + (index * 1000) / ratePerSecond
      outstanding++
      acknowledgements.push(send(index).then(() => {
        latenciesMs[index] = performance.now() - dueMs
        outstanding--
      }))
    }
    if (outstanding > maxOutstandingRecords) throw new Error(`more than ${maxOutstandingRecords} records unacknowledged: the system does not keep up with ${ratePerSecond} records/s`)
    await sleep(tickMs)
  }
  await Promise.all(acknowledgements)
  const seconds = (performance.now() - startMs) / 1000
  latenciesMs.sort()
  return {records, seconds, p50Ms: percentile(latenciesMs, 0.5), p99Ms: percentile(latenciesMs, 0.99)}
}
