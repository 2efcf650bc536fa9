import {Flags} from '@oclif/core'
import {LignumCommand} from '../cli/lignum-command.js'
import {LignumError} from '../errors.js'
import {readDataDirRecords} from '../log/log-reader.js'
import {OutputWriter} from '../ui/output-writer.js'
import {compileTemplate, DEFAULT_TEMPLATE, formatJsonLine, type RecordTemplate} from '../ui/record-format.js'

export default class Consume extends LignumCommand {
  static override summary = 'Print a range of records of a topic to stdout.'
  static override description =
    'With --data-dir, reads the segment files directly with no server (read-only: a live server may be writing them). Each value on its own line by default; --format for a kcat-style template; --json for JSON lines. --to is exclusive.\n\n' +
    'Template fields: %s value, %k key, %o offset, %p partition, %t topic, %T timestamp (ms), %h headers (k=v,...), %K / %S key / value length, %% percent; escapes \\n \\t \\r \\\\.'
  static override examples = [
    '<%= config.bin %> consume --data-dir ./data --topic orders',
    '<%= config.bin %> consume --data-dir ./data --topic orders --partition 0 --from 100 --to 200 --json',
    '<%= config.bin %> consume --data-dir ./data --topic orders --from-time 2026-01-01T00:00:00Z --format "%o\\t%k\\t%s\\n"',
  ]
  static override flags = {
    'data-dir': Flags.string({char: 'd', description: 'read this data directory directly, with no server'}),
    topic: Flags.string({char: 't', description: 'topic to read', required: true}),
    partition: Flags.integer({char: 'p', description: 'only this partition (default: all, one after another)', min: 0}),
    from: Flags.integer({description: 'first offset (default: the start of the log)', min: 0}),
    to: Flags.integer({description: 'stop before this offset (exclusive; default: the end of the log)', min: 0}),
    'from-time': Flags.string({description: 'start at the first record at or after this ISO-8601 time', exclusive: ['from']}),
    format: Flags.string({char: 'f', description: 'output template, e.g. "%k=%s\\n"', exclusive: ['json']}),
    json: Flags.boolean({description: 'one JSON object per record: topic, partition, offset, timestamp, key, value, headers'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Consume)
    if (flags['data-dir'] === undefined) {
      throw new LignumError('INVALID_ARGUMENT', 'consume reads a data directory for now: give --data-dir <dir>')
    }
    const render = flags.json ? (formatJsonLine as (...args: Parameters<RecordTemplate>) => string) : compileTemplate(flags.format ?? DEFAULT_TEMPLATE)
    const output = new OutputWriter()
    const records = readDataDirRecords(flags['data-dir'], {
      topic: flags.topic,
      partition: flags.partition,
      from: flags.from,
      to: flags.to,
      fromTimeMs: flags['from-time'] === undefined ? undefined : parseTime(flags['from-time']),
      onWarning: (message) => process.stderr.write(`Warning: ${message}\n`),
    })
    for await (const {topic, partition, record} of records) {
      await output.write(render(record, {topic, partition}))
      if (output.closed) break
    }
    await output.flush()
  }
}

export function parseTime(text: string): number {
  const timeMs = Date.parse(text)
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(timeMs)) {
    throw new LignumError('INVALID_ARGUMENT', `--from-time "${text}" is not an ISO-8601 time; write e.g. 2026-01-31T12:00:00Z`)
  }
  return timeMs
}
