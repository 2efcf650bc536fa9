/**
 * Plain-text rendering of consumer groups for terminals and pipes (`lignum groups`): aligned
 * rows as kafka-consumer-groups prints them, '-' where a value is unknown.
 */
import type {GroupDescription, GroupOffsetChange, GroupSummary} from '../client/index.js'
import type {GroupPartitionLag} from '../cli/group-lag.js'
import {renderTable} from './topic-table.js'

export function renderGroupList(groups: GroupSummary[]): string {
  if (groups.length === 0) return 'No consumer groups yet.'
  return renderTable(['GROUP', 'STATE', 'MEMBERS', 'COORDINATOR'], groups.map((group) => [group.group, group.state, group.memberCount, group.coordinator]))
}

export function renderGroupDescription(description: GroupDescription, partitions: GroupPartitionLag[]): string {
  const generation = description.members.length > 0 ? ` generation ${description.generationId}${description.protocol ? ` (${description.protocol})` : ''}` : ''
  const lines = [`Group ${description.group}: ${description.state}, ${description.members.length} member(s)${generation}, coordinator ${description.coordinator}`]
  if (partitions.length > 0) {
    lines.push(
      '',
      renderTable(
        ['TOPIC', 'PARTITION', 'COMMITTED', 'LOG-END', 'LAG', 'MEMBER', 'HOST', 'CLIENT'],
        partitions.map((row) => [row.topic, row.partition, dash(row.committedOffset), dash(row.logEndOffset), dash(row.lag), dash(row.memberId), dash(row.host), dash(row.clientId)]),
      ),
    )
  }
  if (description.members.length > 0) {
    lines.push(
      '',
      renderTable(
        ['MEMBER', 'CLIENT', 'HOST', 'ASSIGNMENT'],
        description.members.map((member) => [member.memberId, member.clientId, member.host, member.assignment.map((entry) => `${entry.topic}:${entry.partitions.join(',')}`).join(' ') || '-']),
      ),
    )
  }
  return lines.join('\n')
}

/** One row per partition: where the group was and where it goes, `old → new`. */
export function renderOffsetChanges(changes: GroupOffsetChange[]): string {
  return renderTable(['TOPIC', 'PARTITION', 'OFFSET'], changes.map((change) => [change.topic, change.partition, `${dash(change.previousOffset ?? null)} → ${change.offset}`]))
}

function dash(value: string | number | null): string | number {
  return value === null || value === '' ? '-' : value
}
