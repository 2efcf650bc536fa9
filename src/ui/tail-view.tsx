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
  newestOffsets: Map<number, number>
  newest: {partition: number; offset: number; timestamp: number; text: string}[]
}

// Records kept on screen; older ones scroll away.
export const TAIL_VIEW_RECORDS_MAX = 15
const REDRAW_MS = 250
const RECORD_TEXT_WIDTH_MAX = 120

export function createTailState(topic: string): TailState {
  return {topic, startedMs: Date.now(), recordsSeen: 0, newestOffsets: new Map(), newest: []}
}

export function recordIntoTailState(state: TailState, partition: number, offset: number, timestamp: number, text: string): void {
  state.recordsSeen++
  state.newestOffsets.set(partition, offset)
  state.newest.push({partition, offset, timestamp, text: text.length > RECORD_TEXT_WIDTH_MAX ? text.slice(0, RECORD_TEXT_WIDTH_MAX - 1) + '…' : text})
  if (state.newest.length > TAIL_VIEW_RECORDS_MAX) state.newest.shift()
}

export function TailView({state}: {state: TailState}): React.ReactElement {
  const [, setTick] = useState(0)
  useEffect(() => {
    const timer = setInterval(() => setTick((tick) => tick + 1), REDRAW_MS)
    return () => clearInterval(timer)
  }, [])
  const elapsedSeconds = Math.max((Date.now() - state.startedMs) / 1000, 0.001)
  const partitions = [...state.newestOffsets].sort((a, b) => a[0] - b[0])
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>{state.topic}</Text>  {state.recordsSeen} records, {(state.recordsSeen / elapsedSeconds).toFixed(1)}/s  <Text dimColor>(Ctrl-C to stop)</Text>
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
