import {Flags} from '@oclif/core'
import {writeError} from '../../cli/error-output.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import {LignumError} from '../../errors.js'
import {inspectDataDir, type InspectReport} from '../../log/log-inspector.js'
import {createProgress, type Progress} from '../../ui/progress.js'
import {OutputWriter} from '../../ui/output-writer.js'
import {writeDump} from '../../ui/segment-dump.js'
import {renderFault, renderInspectReport} from '../../ui/segment-report.js'

export default class SegmentsInspect extends LignumCommand {
  static override summary = 'List, verify and dump the segment files of a data directory, offline.'
  static override description =
    'Reads the files only (never changes them), so it can look at a directory a live server is writing. --verify checks every batch (length, CRC-32C, and every record in it as the broker checks a produce: parsing, offset deltas, count, timestamps, bounded decompression), that offsets are dense and increasing, and every index entry; it exits non-zero on any fault and names the file, the position and the offset.'
  static override examples = [
    '<%= config.bin %> segments inspect --data-dir ./data',
    '<%= config.bin %> segments inspect --data-dir ./data --topic orders --verify',
    '<%= config.bin %> segments inspect --data-dir ./data --topic orders --partition 0 --dump --records',
    '<%= config.bin %> segments inspect --data-dir ./data --json | jq ".partitions[].segments[].recordCount"',
  ]
  static override enableJsonFlag = true
  static override flags = {
    'data-dir': Flags.string({char: 'd', description: 'the data directory a server wrote', required: true}),
    topic: Flags.string({char: 't', description: 'only this topic'}),
    partition: Flags.integer({char: 'p', description: 'only this partition', min: 0}),
    verify: Flags.boolean({description: 'check every batch, record and index entry; exit non-zero on any fault'}),
    dump: Flags.boolean({description: 'print every batch header'}),
    records: Flags.boolean({description: 'with --dump, print every record too', dependsOn: ['dump']}),
  }

  /** The inspector's hint for a selection that matches nothing, in this command's flags. */
  protected override hintFor(error: LignumError): string | undefined {
    if (error.code === 'NOT_FOUND') return 'run without --topic/--partition to list what it holds'
    return super.hintFor(error)
  }

  async run(): Promise<InspectReport | undefined> {
    const {flags} = await this.parse(SegmentsInspect)
    let progress: Progress | undefined
    // The summary first (one pass, no batch kept); a dump then reads the segments again, streaming.
    const report = await inspectDataDir(flags['data-dir'], {
      topic: flags.topic,
      partition: flags.partition,
      verify: flags.verify,
      onProgress: (done, total) => {
        progress ??= createProgress({label: 'inspect', total, unit: 'bytes'})
        progress.update(done)
      },
    })
    progress?.done()
    refuseWithoutSegments(flags['data-dir'], report)
    if (flags.dump) await writeDump(report, {records: flags.records, json: this.jsonEnabled()}, new OutputWriter(process.stdout))
    else if (!this.jsonEnabled()) this.log(renderInspectReport(report))
    if (flags.verify && !report.verified) {
      const first = report.faults[0]
      const error = new LignumError('CORRUPT_RECORD', `verify found ${report.faults.length} fault(s); first: ${renderFault(first)}`)
      writeError(error, this.jsonEnabled())
      process.exitCode = error.exitCode
    }
    // A dump wrote its own document; returning nothing keeps oclif from printing another.
    return flags.dump ? undefined : report
  }
}

/**
 * A node always keeps an active segment in each partition, so directories that merely look like
 * `<topic>-<partition>` with no segment in any of them (a mistyped --data-dir such as /tmp) are
 * not a data directory, and an empty report would hide the mistake.
 */
function refuseWithoutSegments(dataDir: string, report: InspectReport): void {
  if (report.partitions.length === 0 || report.partitions.some((partition) => partition.segments.length > 0)) return
  throw new LignumError('DATA_DIR', `${dataDir} has no segment files (<base offset>.log) in any of its ${report.partitions.length} <topic>-<partition> directories, so it is not a Lignum data directory; give the --data-dir a server wrote to`)
}
