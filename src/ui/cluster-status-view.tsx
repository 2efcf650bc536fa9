/**
 * `lignum cluster status` on a terminal: the cluster's headline and a table of its nodes,
 * up in green, down in red, the controller marked; then every partition with its replicas'
 * progress, and the health line (green when healthy, red otherwise). With --watch the
 * command re-renders it with each new answer (or the error of the last attempt).
 */
import React from 'react'
import {Box, Text} from 'ink'
import {healthLine, renderClusterPartitions, renderReplicaProgress, type ClusterStatus} from './cluster-status-table.js'
import {renderDamagedPartitions, renderPartitionTable} from './topic-table.js'

const COLUMN_WIDTHS = {id: 20, address: 24, status: 8, version: 12}

export function ClusterStatusView({status, error, watching}: {status?: ClusterStatus; error?: string; watching?: boolean}): React.ReactElement {
  return (
    <Box flexDirection="column">
      {status ? <Headline status={status} /> : null}
      {status?.mode === 'cluster' && !status.consulReachable ? (
        <Text color="yellow">node {status.node} cannot reach Consul; this view may be stale</Text>
      ) : null}
      {status ? <NodeTable status={status} /> : null}
      {status && status.topics.length > 0 ? (
        <Box marginTop={1}>
          <Text>{renderPartitionTable(...status.topics)}</Text>
        </Box>
      ) : null}
      {status && status.damagedPartitions.length > 0 ? (
        <Box marginTop={1}>
          <Text color="red">{renderDamagedPartitions(status.damagedPartitions)}</Text>
        </Box>
      ) : null}
      {status && status.partitions.length > 0 ? (
        <Box flexDirection="column" marginTop={1}>
          <Text>{renderClusterPartitions(status.partitions)}</Text>
          <Box marginTop={1}>
            <Text>{renderReplicaProgress(status.partitions)}</Text>
          </Box>
        </Box>
      ) : null}
      {status ? (
        <Box marginTop={1}>
          <Text color={status.health.healthy ? 'green' : 'red'}>{healthLine(status.health)}</Text>
        </Box>
      ) : null}
      {error ? <Text color="red">{error}</Text> : null}
      {watching ? <Text dimColor>refreshing every second (Ctrl-C to stop)</Text> : null}
    </Box>
  )
}

function Headline({status}: {status: ClusterStatus}): React.ReactElement {
  const up = status.nodes.filter((node) => node.status === 'up').length
  return (
    <Text>
      <Text bold>{status.cluster}</Text> <Text dimColor>({status.mode})</Text>{'  '}
      {status.controller === null ? (
        <Text color="red">no controller</Text>
      ) : (
        <Text>
          controller <Text bold>{status.controller}</Text> epoch {status.controllerEpoch}
        </Text>
      )}
      {'  '}
      {up}/{status.nodes.length} up <Text dimColor>answered by {status.node}</Text>
    </Text>
  )
}

function NodeTable({status}: {status: ClusterStatus}): React.ReactElement {
  return (
    <Box flexDirection="column" marginTop={1}>
      <Box>
        <Cell width={COLUMN_WIDTHS.id} bold text="NODE" />
        <Cell width={COLUMN_WIDTHS.address} bold text="ADDRESS" />
        <Cell width={COLUMN_WIDTHS.status} bold text="STATUS" />
        <Cell width={COLUMN_WIDTHS.version} bold text="VERSION" />
        <Text bold>ROLE</Text>
      </Box>
      {status.nodes.map((node) => (
        <Box key={node.id}>
          <Cell width={COLUMN_WIDTHS.id} text={node.id} />
          <Cell width={COLUMN_WIDTHS.address} text={node.address} />
          <Cell width={COLUMN_WIDTHS.status} text={node.status} color={node.status === 'up' ? 'green' : 'red'} />
          <Cell width={COLUMN_WIDTHS.version} text={node.version} />
          <Text color="cyan">{node.id === status.controller ? 'controller' : ''}</Text>
        </Box>
      ))}
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
