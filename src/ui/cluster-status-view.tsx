/**
 * `lignum cluster status` on a terminal: the cluster line (the same words as in a pipe), a table
 * of its nodes (up in green; down and unreachable in red, with why a node is unreachable; the
 * controller marked), the partitions summarised in a line (or, with --partitions, every
 * partition and replica in tables), and the health line (green when healthy, red otherwise).
 * With --watch the command re-renders it with each new answer (or the error of the last attempt).
 *
 * Invariant: without --partitions the view fits the terminal less one row, so the cluster line
 * and the node table stay on screen through every redraw: nodes beyond what fits are counted
 * in a line rather than drawn.
 */
import React from 'react'
import {Box, Text, useStdout} from 'ink'
import {clusterHeadline, healthLine, NODE_HEADER, renderClusterPartitions, renderReplicaProgress, unreachableLines, type ClusterStatus, type ClusterStatusNode} from './cluster-status-table.js'
import {partitionSummaryLine} from './partition-summary.js'
import {renderDamagedPartitions, renderPartitionTable} from './topic-table.js'

const COLUMN_WIDTHS = {id: 20, address: 24, status: 13, version: 12}
// What a terminal that does not say its size (rows 0) is taken to have: the VT100's.
const TERMINAL_ROWS_DEFAULT = 24
// Unreachable nodes explained one per line, at most; the table marks the others anyway.
const UNREACHABLE_LINES_MAX = 3
const STATUS_COLORS: Record<ClusterStatusNode['status'], string> = {up: 'green', down: 'red', unreachable: 'red'}

export interface ClusterStatusViewProps {
  status?: ClusterStatus
  error?: string
  watching?: boolean
  /** Draw every partition and replica (--partitions) instead of a summary line. */
  allPartitions?: boolean
}

export function ClusterStatusView({status, error, watching, allPartitions}: ClusterStatusViewProps): React.ReactElement {
  const {stdout} = useStdout()
  if (!status) return <Footer error={error} watching={watching} />
  const unreachable = unreachableLines(status)
  const shownUnreachable = unreachable.length > UNREACHABLE_LINES_MAX ? [...unreachable.slice(0, UNREACHABLE_LINES_MAX - 1), `and ${unreachable.length - UNREACHABLE_LINES_MAX + 1} more unreachable`] : unreachable
  const warning = status.mode === 'cluster' && !status.consulReachable
  // Every line but the node rows: headline, warning, gap, header, reasons, gap, partitions (1 or 2), gap, health, error, footer.
  const otherLines = 1 + (warning ? 1 : 0) + 2 + shownUnreachable.length + 1 + 2 + 1 + 1 + (error ? 1 : 0) + (watching ? 1 : 0)
  const nodeRowsMax = allPartitions ? Number.POSITIVE_INFINITY : Math.max(1, (stdout.rows || TERMINAL_ROWS_DEFAULT) - 1 - otherLines)
  return (
    <Box flexDirection="column">
      <Text bold color={status.controller === null ? 'red' : undefined} wrap="truncate">
        {clusterHeadline(status)}
      </Text>
      {warning ? (
        <Text color="yellow" wrap="truncate">
          warning: node {status.node} cannot reach Consul; this view may be stale
        </Text>
      ) : null}
      <NodeTable status={status} rowsMax={nodeRowsMax} />
      {shownUnreachable.map((line) => (
        <Text key={line} color="red" wrap="truncate">
          {line}
        </Text>
      ))}
      {allPartitions ? <PartitionTables status={status} /> : <PartitionSummary status={status} />}
      <Box marginTop={1}>
        <Text color={status.health.healthy ? 'green' : 'red'} wrap={allPartitions ? 'wrap' : 'truncate'}>
          {healthLine(status.health)}
        </Text>
      </Box>
      <Footer error={error} watching={watching} />
    </Box>
  )
}

function Footer({error, watching}: {error?: string; watching?: boolean}): React.ReactElement {
  return (
    <>
      {error ? (
        <Text color="red" wrap="truncate">
          {error}
        </Text>
      ) : null}
      {watching ? <Text dimColor>refreshing every second (Ctrl-C to stop)</Text> : null}
    </>
  )
}

function PartitionSummary({status}: {status: ClusterStatus}): React.ReactElement {
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text wrap="truncate">{partitionSummaryLine(status)}</Text>
      <Text dimColor wrap="truncate">
        every partition and replica: lignum cluster status --partitions
      </Text>
    </Box>
  )
}

function PartitionTables({status}: {status: ClusterStatus}): React.ReactElement {
  return (
    <>
      {status.topics.length > 0 ? (
        <Box marginTop={1}>
          <Text>{renderPartitionTable(...status.topics)}</Text>
        </Box>
      ) : null}
      {status.damagedPartitions.length > 0 ? (
        <Box marginTop={1}>
          <Text color="red">{renderDamagedPartitions(status.damagedPartitions)}</Text>
        </Box>
      ) : null}
      {status.partitions.length > 0 ? (
        <Box flexDirection="column" marginTop={1}>
          <Text>{renderClusterPartitions(status.partitions)}</Text>
          <Box marginTop={1}>
            <Text>{renderReplicaProgress(status.partitions)}</Text>
          </Box>
        </Box>
      ) : null}
    </>
  )
}

function NodeTable({status, rowsMax}: {status: ClusterStatus; rowsMax: number}): React.ReactElement {
  const hidden = status.nodes.length > rowsMax ? status.nodes.slice(rowsMax - 1) : []
  const shown = hidden.length > 0 ? status.nodes.slice(0, rowsMax - 1) : status.nodes
  const [id, address, state, version, role] = NODE_HEADER
  return (
    <Box flexDirection="column" marginTop={1}>
      <Box>
        <Cell width={COLUMN_WIDTHS.id} bold text={id!} />
        <Cell width={COLUMN_WIDTHS.address} bold text={address!} />
        <Cell width={COLUMN_WIDTHS.status} bold text={state!} />
        <Cell width={COLUMN_WIDTHS.version} bold text={version!} />
        <Text bold>{role}</Text>
      </Box>
      {shown.map((node) => (
        <Box key={node.id}>
          <Cell width={COLUMN_WIDTHS.id} text={node.id} />
          <Cell width={COLUMN_WIDTHS.address} text={node.address} />
          <Cell width={COLUMN_WIDTHS.status} text={node.status} color={STATUS_COLORS[node.status]} />
          <Cell width={COLUMN_WIDTHS.version} text={node.version} />
          <Text color="cyan">{node.id === status.controller ? 'controller' : ''}</Text>
        </Box>
      ))}
      {hidden.length > 0 ? (
        <Text dimColor>
          and {hidden.length} more nodes ({hidden.filter((node) => node.status === 'up').length} up)
        </Text>
      ) : null}
    </Box>
  )
}

function Cell({width, text, bold, color}: {width: number; text: string; bold?: boolean; color?: string}): React.ReactElement {
  return (
    <Box width={width}>
      <Text bold={bold} color={color} wrap="truncate">
        {text}
      </Text>
    </Box>
  )
}
