/**
 * `lignum segments inspect --dump` written as it is read: each partition's table, then every
 * batch of every segment (and its records), a batch at a time through an OutputWriter, which
 * waits for a slow reader. Memory is one slice of a segment (log-inspector.ts's dumpSegment),
 * whatever the directory's size; a reader that closes the pipe (`| head`) stops the reading.
 *
 * Text is what renderInspectReport would print with the dump in place; --json is one document,
 * the report with each segment's `batches` (records as consume --json prints them), written
 * piece by piece so that it never exists whole.
 */
import {dumpSegment, type BatchDump, type InspectReport, type PartitionReport} from '../log/log-inspector.js'
import type {OutputWriter} from './output-writer.js'
import {recordToJson} from './record-format.js'
import {renderBatchLines, renderPartition, renderReportEnd, renderSegmentDumpHeading} from './segment-report.js'

export interface DumpOptions {
  records: boolean
  json: boolean
}

export async function writeDump(report: InspectReport, options: DumpOptions, output: OutputWriter): Promise<void> {
  if (options.json) await writeJsonDump(report, options.records, output)
  else await writeTextDump(report, options.records, output)
  await output.flush()
  await output.drained()
}

async function writeTextDump(report: InspectReport, withRecords: boolean, output: OutputWriter): Promise<void> {
  for (const [index, partition] of report.partitions.entries()) {
    await output.write(`${index > 0 ? '\n\n' : ''}${renderPartition(partition)}`)
    for (const segment of partition.segments) {
      await output.write(`\n${renderSegmentDumpHeading(segment)}`)
      for await (const batch of dumpSegment(segment, withRecords)) {
        await output.write(`\n${renderBatchLines(batch)}`)
        if (output.closed) return
      }
    }
  }
  const end = renderReportEnd(report)
  await output.write(`${end === '' ? '' : `\n\n${end}`}\n`)
}

async function writeJsonDump(report: InspectReport, withRecords: boolean, output: OutputWriter): Promise<void> {
  const {partitions, ...rest} = report
  await output.write(`{"dataDir":${JSON.stringify(report.dataDir)},"partitions":[`)
  for (const [index, partition] of partitions.entries()) {
    const {segments, ...fields} = partition
    await output.write(`${index > 0 ? ',' : ''}${openObject(fields)},"segments":[`)
    for (const [segmentIndex, segment] of segments.entries()) {
      await output.write(`${segmentIndex > 0 ? ',' : ''}${openObject(segment)},"batches":[`)
      let first = true
      for await (const batch of dumpSegment(segment, withRecords)) {
        await output.write(`${first ? '' : ','}${JSON.stringify(jsonBatch(batch, partition))}`)
        first = false
        if (output.closed) return
      }
      await output.write(']}')
    }
    await output.write(']}')
  }
  const {dataDir: _dataDir, ...end} = rest
  await output.write(`],${JSON.stringify(end).slice(1)}\n`)
}

/** An object's JSON without its closing brace, for fields still to come; never empty here. */
function openObject(fields: object): string {
  return JSON.stringify(fields).slice(0, -1)
}

/** Records carry Buffers: printed as consume --json prints them, without topic and partition (the partition says). */
function jsonBatch(batch: BatchDump, partition: PartitionReport): unknown {
  if (!batch.records) return batch
  return {
    ...batch,
    records: batch.records.map((record) => {
      const {topic: _topic, partition: _partition, ...rest} = recordToJson(record, partition)
      return rest
    }),
  }
}
