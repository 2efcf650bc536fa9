/**
 * The live view of `lignum tail` on a terminal: the rate, each partition's newest offset, and
 * the newest records. It reads a TailState the consuming loop updates, redrawing a few times a
 * second, so the loop never waits on rendering.
 */
import React, {useEffect, useState} from 'react'
import {Box, Text} from 'ink'

export interface TailState {
  topic: string
  startedMs: number
  recordsSeen: number
  /** (time, recordsSeen) at each redraw within the last RATE_WINDOW_MS, oldest first. */
  rateSamples: {atMs: number; recordsSeen: number}[]
  newestOffsets: Map<number, number>
  newest: {partition: number; offset: number; timestamp: number; text: string}[]
}

// Records kept on screen; older ones scroll away.
export const TAIL_VIEW_RECORDS_MAX = 15
const REDRAW_MS = 250
const RECORD_TEXT_WIDTH_MAX = 120
// The rate shown is over this much recent time: an average since start would show a backlog
// as a rate and keep showing one long after records stopped.
export const RATE_WINDOW_MS = 5000

export function createTailState(topic: string): TailState {
  const startedMs = Date.now()
  return {topic, startedMs, recordsSeen: 0, rateSamples: [{atMs: startedMs, recordsSeen: 0}], newestOffsets: new Map(), newest: []}
}

export function recordIntoTailState(state: TailState, partition: number, offset: number, timestamp: number, text: string): void {
  state.recordsSeen++
  state.newestOffsets.set(partition, offset)
  state.newest.push({partition, offset, timestamp, text: text.length > RECORD_TEXT_WIDTH_MAX ? text.slice(0, RECORD_TEXT_WIDTH_MAX - 1) + '…' : text})
  if (state.newest.length > TAIL_VIEW_RECORDS_MAX) state.newest.shift()
}

/** Records per second over the last RATE_WINDOW_MS, sampling the state at `nowMs`. */
export function recentRate(state: TailState, nowMs: number): number {
  state.rateSamples.push({atMs: nowMs, recordsSeen: state.recordsSeen})
  while (state.rateSamples.length > 2 && nowMs - state.rateSamples[1].atMs >= RATE_WINDOW_MS) state.rateSamples.shift()
  const oldest = state.rateSamples[0]
  const seconds = Math.max((nowMs - oldest.atMs) / 1000, 0.001)
  return (state.recordsSeen - oldest.recordsSeen) / seconds
}

export function TailView({state}: {state: TailState}): React.ReactElement {
  const [, setTick] = useState(0)
  useEffect(() => {
    const timer = setInterval(() => setTick((tick) => tick + 1), REDRAW_MS)
    return () => clearInterval(timer)
  }, [])
  const rate = recentRate(state, Date.now())
  const partitions = [...state.newestOffsets].sort((a, b) => a[0] - b[0])
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>{state.topic}</Text>  {state.recordsSeen} records, {rate.toFixed(1)}/s  <Text dimColor>(Ctrl-C to stop)</Text>
      </Text>
      <Text dimColor>{partitions.map(([partition, offset]) => `p${partition}@${offset}`).join('  ') || 'waiting for records…'}</Text>
      {state.newest.map((record) => (
        <Text key={`${record.partition}:${record.offset}`} wrap="truncate">
          <Text color="cyan">{`${record.partition}:${record.offset}`}</Text> <Text dimColor>{new Date(record.timestamp).toISOString().slice(11, 23)}</Text> {record.text}
        </Text>
      ))}
    </Box>
  )
}
