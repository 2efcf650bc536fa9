/**
 * Text rendering of `lignum segments inspect`: a table of segments per partition, faults with
 * file, position and offset, and with --dump the batch (and record) lines in the shape of
 * Kafka's kafka-dump-log, binary shown safely (UTF-8 text, else base64 marked as such). A dump
 * is rendered a batch at a time (the command streams it), the rest as whole strings.
 */
import {isUtf8} from 'node:buffer'
import type {BatchDump, Fault, InspectReport, Note, PartitionReport, SegmentReport} from '../log/log-inspector.js'
import type {LogRecord} from '../format/record-batch.js'
import {renderTable} from './topic-table.js'

function time(timestamp: number): string {
  return timestamp < 0 ? '-' : new Date(timestamp).toISOString()
}

export function renderPartition(partition: PartitionReport): string {
  const title = `${partition.topic}-${partition.partition}  offsets ${partition.logStartOffset} to ${partition.logEndOffset - 1}  ${partition.recordCount} records  ${partition.segments.length} segments  ${partition.sizeBytes} bytes`
  const rows = partition.segments.map((segment) => [segment.baseOffset, segment.lastOffset, segment.recordCount, segment.batchCount, segment.sizeBytes, time(segment.firstTimestamp), time(segment.lastTimestamp), segment.indexEntries, segment.timeIndexEntries])
  const table = renderTable(['BASE OFFSET', 'LAST OFFSET', 'RECORDS', 'BATCHES', 'BYTES', 'FIRST TIMESTAMP', 'LAST TIMESTAMP', 'INDEX', 'TIME INDEX'], rows)
  return `${title}\n${indent(table)}`
}

export function renderFault(fault: Fault): string {
  return `${fault.file}: position ${fault.position}, offset ${fault.offset}: ${fault.reason}`
}

export function renderNote(note: Note): string {
  return `${note.file}: position ${note.position}: ${note.reason}`
}

function safeText(bytes: Buffer | null): string {
  if (bytes === null) return 'null'
  return isUtf8(bytes) ? JSON.stringify(bytes.toString('utf8')) : `base64:${bytes.toString('base64')}`
}

export function renderBatch(batch: BatchDump): string {
  const timeName = batch.timestampType === 'create' ? 'CreateTime' : 'LogAppendTime'
  return (
    `baseOffset: ${batch.baseOffset} lastOffset: ${batch.lastOffset} count: ${batch.count} baseSequence: ${batch.baseSequence} producerId: ${batch.producerId} producerEpoch: ${batch.producerEpoch} ` +
    `partitionLeaderEpoch: ${batch.partitionLeaderEpoch} isTransactional: ${batch.isTransactional} isControl: ${batch.isControl} position: ${batch.position} ` +
    `${timeName}: ${batch.maxTimestamp} baseTimestamp: ${batch.baseTimestamp} size: ${batch.sizeBytes} magic: ${batch.magic} compresscodec: ${batch.compression} crc: ${batch.crc} isvalid: ${batch.crcValid}`
  )
}

/** Kafka's control record key: version int16 | type int16; an end-transaction value: version int16 | coordinatorEpoch int32. */
const CONTROL_TYPES: Record<number, string> = {0: 'ABORT', 1: 'COMMIT'}

/** A control batch's record, as Kafka's kafka-dump-log prints a transaction marker. */
function renderControlRecord(record: LogRecord): string {
  const type = record.key !== null && record.key.length >= 4 ? record.key.readInt16BE(2) : -1
  const name = CONTROL_TYPES[type]
  const marker = name !== undefined && record.value !== null && record.value.length >= 6 ? `endTxnMarker: ${name} coordinatorEpoch: ${record.value.readInt32BE(2)}` : `controlType: ${type}`
  return `| offset: ${record.offset} timestamp: ${record.timestamp} keySize: ${record.key?.length ?? -1} valueSize: ${record.value?.length ?? -1} ${marker}`
}

export function renderRecord(record: LogRecord, isControl = false): string {
  if (isControl) return renderControlRecord(record)
  const headers = record.headers.map((header) => `${header.key}=${safeText(header.value)}`).join(',')
  return `| offset: ${record.offset} timestamp: ${record.timestamp} keySize: ${record.key?.length ?? -1} valueSize: ${record.value?.length ?? -1} headers: [${headers}] key: ${safeText(record.key)} payload: ${safeText(record.value)}`
}

/** A batch's line and, when the dump has them, its records' lines (no trailing newline). */
export function renderBatchLines(batch: BatchDump): string {
  const lines = [renderBatch(batch)]
  for (const record of batch.records ?? []) lines.push(renderRecord(record, batch.isControl))
  if (batch.recordsError) lines.push(`| records not readable: ${batch.recordsError}`)
  return lines.join('\n')
}

/** The lines that open a segment's dump, as kafka-dump-log prints them. */
export function renderSegmentDumpHeading(segment: SegmentReport): string {
  return `Dumping ${segment.file}\nLog starting offset: ${segment.baseOffset}`
}

/** What follows the partitions: notes, and the verdict of --verify or a warning of faults seen (blocks separated by a blank line). */
export function renderReportEnd(report: InspectReport): string {
  const blocks: string[] = []
  if (report.notes.length > 0) blocks.push(`${report.notes.length} note(s), not faults:\n${report.notes.map((note) => indent(renderNote(note))).join('\n')}`)
  if (report.verified !== undefined) {
    blocks.push(report.verified ? 'verify: no faults found' : `verify: ${report.faults.length} fault(s):\n${report.faults.map((fault) => indent(renderFault(fault))).join('\n')}`)
  } else if (report.faults.length > 0) {
    blocks.push(`warning: ${report.faults.length} fault(s), run with --verify for a full check:\n${report.faults.map((fault) => indent(renderFault(fault))).join('\n')}`)
  }
  return blocks.join('\n\n')
}

/** The report without a dump: each partition's table, then the end. */
export function renderInspectReport(report: InspectReport): string {
  const end = renderReportEnd(report)
  return [...report.partitions.map(renderPartition), ...(end === '' ? [] : [end])].join('\n\n')
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n')
}
