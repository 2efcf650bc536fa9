/**
 * The live view of `lignum tail` on a terminal: a line with the topic, the records counted and
 * the rate of new ones; a line with each partition's newest offset; then the newest records by
 * time, each with its partition, offset, time, key and value. It reads a TailState the
 * consuming loop updates (tail-state.ts), redrawing a few times a second, so the loop never
 * waits on rendering.
 *
 * Invariants: the view is never taller than the terminal less one row (a taller frame scrolls,
 * and ink can then only clear the screen and draw it again below), every line is cut to the
 * terminal's width, and record bytes are drawn only through terminalSafeText.
 */
import React, {useEffect, useState} from 'react'
import {Box, Text, useStdout} from 'ink'
import {TAIL_BYTES_KEPT_MAX, recentRate, recordsCounted, type TailRecord, type TailState} from './tail-state.js'
import {terminalSafeText} from './terminal-safe-text.js'

const REDRAW_MS = 250
// What a terminal that does not say its size (rows 0) is taken to have: the VT100's.
const TERMINAL_ROWS_DEFAULT = 24
// The rate line and the partitions line, above the records.
const HEADER_LINES = 2

export function TailView({state}: {state: TailState}): React.ReactElement {
  const [, setTick] = useState(0)
  const {stdout} = useStdout()
  useEffect(() => {
    const timer = setInterval(() => setTick((tick) => tick + 1), REDRAW_MS)
    return () => clearInterval(timer)
  }, [])
  const linesMax = viewLinesMax(stdout.rows)
  const rate = recentRate(state, Date.now())
  const partitions = [...state.newestOffsets].sort((a, b) => a[0] - b[0])
  const lines = [
    <Text key="rate" wrap="truncate">
      <Text bold>{state.topic}</Text> {recordsCounted(state)}, {rate.toFixed(1)}/s <Text dimColor>(Ctrl-C to stop)</Text>
    </Text>,
    <Text key="partitions" dimColor wrap="truncate">
      {partitions.map(([partition, offset]) => `p${partition}@${offset}`).join('  ') || 'waiting for records…'}
    </Text>,
    ...state.newest.slice(-Math.max(0, linesMax - HEADER_LINES)).map((record) => <RecordLine key={`${record.partition}:${record.offset}`} record={record} />),
  ]
  return <Box flexDirection="column">{lines.slice(0, linesMax)}</Box>
}

/** Lines the view may take on a terminal of `rows` rows: all but the one the cursor waits on. */
export function viewLinesMax(rows: number | undefined): number {
  return Math.max(1, (rows || TERMINAL_ROWS_DEFAULT) - 1)
}

function RecordLine({record}: {record: TailRecord}): React.ReactElement {
  return (
    <Text wrap="truncate">
      <Text color="cyan">{`${record.partition}:${record.offset}`}</Text> <Text dimColor>{timeOfDay(record.timestamp)}</Text>
      {record.key === null ? null : <Text color="yellow">{` [${terminalSafeText(record.key, TAIL_BYTES_KEPT_MAX)}]`}</Text>}{' '}
      {record.value === null ? <Text dimColor>(null)</Text> : terminalSafeText(record.value, TAIL_BYTES_KEPT_MAX)}
    </Text>
  )
}

function timeOfDay(timestamp: number): string {
  const date = new Date(timestamp)
  return Number.isNaN(date.getTime()) ? '--:--:--.---' : date.toISOString().slice(11, 23)
}
