/**
 * What `lignum tail`'s live view shows, kept by the consuming loop: how many records came (and
 * how many of them are the backlog asked for with -n), the recent rate of new ones, each
 * partition's newest offset, and the newest records by time.
 *
 * The backlog is the records stamped before tail started: they were there already, and counting
 * them in the rate would show a burst nobody produced. (A producer's clock skew moves records
 * across that line only for the length of the skew around the start.)
 *
 * Invariants: `newest` is sorted by (timestamp, partition, offset), holds at most
 * TAIL_RECORDS_KEPT_MAX records, and keeps only a bounded copy of each key and value (never a
 * view of the fetched buffer); rateSamples are in time order.
 */

export interface TailRecord {
  partition: number
  offset: number
  timestamp: number
  /** The key's and value's first TAIL_BYTES_KEPT_MAX + 1 bytes (copied: one more tells a cut one); null when the record has none. */
  key: Buffer | null
  value: Buffer | null
}

export interface TailState {
  topic: string
  startedMs: number
  recordsSeen: number
  /** Of recordsSeen, those stamped before startedMs. */
  backlogSeen: number
  /** (time, new records seen) at each redraw within the last RATE_WINDOW_MS, oldest first. */
  rateSamples: {atMs: number; newSeen: number}[]
  newestOffsets: Map<number, number>
  newest: TailRecord[]
}

// Records kept for the view, more than any terminal has rows; older ones scroll away.
export const TAIL_RECORDS_KEPT_MAX = 200
// Bytes of a key or value kept for display: a line shows a terminal's width of it, and escaping
// shows each byte as up to 4 columns, so this covers the widest terminals with room to spare.
export const TAIL_BYTES_KEPT_MAX = 1024
// The rate shown is over this much recent time: an average since start would show a backlog
// as a rate and keep showing one long after records stopped.
export const RATE_WINDOW_MS = 5000

export function createTailState(topic: string, startedMs = Date.now()): TailState {
  return {topic, startedMs, recordsSeen: 0, backlogSeen: 0, rateSamples: [{atMs: startedMs, newSeen: 0}], newestOffsets: new Map(), newest: []}
}

export interface TailInput {
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
}

export function recordIntoTailState(state: TailState, partition: number, record: TailInput): void {
  state.recordsSeen++
  if (record.timestamp < state.startedMs) state.backlogSeen++
  const newest = state.newestOffsets.get(partition)
  if (newest === undefined || record.offset > newest) state.newestOffsets.set(partition, record.offset)
  const kept: TailRecord = {
    partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: boundedCopy(record.key),
    value: boundedCopy(record.value),
  }
  state.newest.splice(insertionIndex(state.newest, kept), 0, kept)
  if (state.newest.length > TAIL_RECORDS_KEPT_MAX) state.newest.shift()
}

/** Records per second over the last RATE_WINDOW_MS, backlog aside, sampling the state at `nowMs`. */
export function recentRate(state: TailState, nowMs: number): number {
  const newSeen = state.recordsSeen - state.backlogSeen
  state.rateSamples.push({atMs: nowMs, newSeen})
  while (state.rateSamples.length > 2 && nowMs - state.rateSamples[1]!.atMs >= RATE_WINDOW_MS) state.rateSamples.shift()
  const oldest = state.rateSamples[0]!
  const seconds = Math.max((nowMs - oldest.atMs) / 1000, 0.001)
  return (newSeen - oldest.newSeen) / seconds
}

/** "1 record", "12 records (10 from before)": what the view's first line counts. */
export function recordsCounted(state: TailState): string {
  const records = state.recordsSeen === 1 ? '1 record' : `${state.recordsSeen} records`
  return state.backlogSeen > 0 ? `${records} (${state.backlogSeen} from before)` : records
}

function boundedCopy(bytes: Buffer | null): Buffer | null {
  if (bytes === null) return null
  // A copy: a view would keep the whole fetched response alive.
  return Buffer.from(bytes.subarray(0, TAIL_BYTES_KEPT_MAX + 1))
}

function comesBefore(a: TailRecord, b: TailRecord): boolean {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp
  if (a.partition !== b.partition) return a.partition < b.partition
  return a.offset < b.offset
}

/** Where `record` goes in the sorted list: after every record that does not come after it. */
function insertionIndex(records: TailRecord[], record: TailRecord): number {
  let low = 0
  let high = records.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (comesBefore(record, records[middle]!)) high = middle
    else low = middle + 1
  }
  return low
}
