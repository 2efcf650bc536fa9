import {Flags} from '@oclif/core'
import {ClientCommand} from '../cli/client-command.js'
import {LignumCommand} from '../cli/lignum-command.js'
import {RecordPrinter} from '../cli/record-printer.js'
import {replicaFlag} from '../cli/replica-flag.js'
import type {ReplicaChoice, StartPosition} from '../client/index.js'
import {LignumError} from '../errors.js'
import {chunkOfBatch} from '../client/consumer.js'
import {batchPositions} from '../format/record-batch.js'
import type {PartitionBatches} from '../log/log-reader.js'

export default class Consume extends ClientCommand {
  static override summary = 'Print records of a topic to stdout, from a node or straight from a data directory.'
  static override description =
    'From a node (--brokers) it follows the topic unless -e, -c or --to says where to stop; with --group it starts where the group committed and commits as it reads (and on Ctrl-C). ' +
    'With --data-dir, reads the segment files directly with no server (read-only: a live server may be writing them). Each value on its own line by default; --format for a kcat-style template; --json for JSON lines. --to is exclusive.\n\n' +
    'Template fields: %s value, %k key, %o offset, %p partition, %t topic, %T timestamp (ms), %h headers (k=v,...), %K / %S key / value length, %% percent; escapes \\n \\t \\r \\\\.'
  static override examples = [
    '<%= config.bin %> consume -t orders -e',
    '<%= config.bin %> consume -t orders -o -10 -e --json',
    '<%= config.bin %> consume -t orders --group billing',
    '<%= config.bin %> consume -t orders -e --replica any --brokers node-2:50051',
    '<%= config.bin %> consume -t orders -e | head -n 5',
    '<%= config.bin %> consume --data-dir ./data --topic orders --partition 0 --from 100 --to 200 --json',
    '<%= config.bin %> consume --data-dir ./data --topic orders --from-time 2026-01-01T00:00:00Z --format "%o\\t%k\\t%s\\n"',
  ]
  static override flags = {
    ...LignumCommand.brokersFlag,
    ...LignumCommand.configFlag,
    'data-dir': Flags.string({char: 'd', description: 'read this data directory directly, with no server', exclusive: ['brokers', 'group']}),
    topic: Flags.string({char: 't', description: 'topic to read', required: true}),
    partition: Flags.integer({char: 'p', description: 'only this partition [default: all]', min: 0}),
    from: Flags.string({char: 'o', description: 'where to start: beginning, end, an offset N, or -N (N before the end) [default: beginning]'}),
    to: Flags.integer({description: 'stop before this offset (exclusive)', min: 0}),
    'from-time': Flags.string({description: 'start at the first record at or after this ISO-8601 time', exclusive: ['from']}),
    exit: Flags.boolean({char: 'e', description: 'exit at the end offsets seen at start instead of following'}),
    count: Flags.integer({char: 'c', description: 'exit after this many records', min: 1}),
    group: Flags.string({char: 'G', description: 'consumer group: start at its committed offsets and commit as records are read'}),
    format: Flags.string({char: 'f', description: 'output template, e.g. "%k=%s\\n"', exclusive: ['json']}),
    json: Flags.boolean({description: 'one JSON object per record: topic, partition, offset, timestamp, key, value, headers'}),
    replica: replicaFlag({exclusive: ['data-dir']}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Consume)
    const fromTimeMs = flags['from-time'] === undefined ? undefined : parseTime(flags['from-time'])
    refuseEmptyRange(parseStart(flags.from), flags.to)
    if (flags['data-dir'] !== undefined) return this.consumeDataDir(flags['data-dir'], flags, fromTimeMs)
    const client = await this.connect(flags)
    const stop = new AbortController()
    process.once('SIGINT', () => stop.abort())
    process.once('SIGTERM', () => stop.abort())
    const printer = new RecordPrinter({json: flags.json, format: flags.format})
    const chunks = client.consumeChunks({
      topic: flags.topic,
      partitions: flags.partition === undefined ? undefined : [flags.partition],
      from: parseStart(flags.from),
      fromTimeMs,
      toOffset: flags.to,
      stopAtEnd: flags.exit,
      group: flags.group,
      replica: flags.replica as ReplicaChoice,
      signal: stop.signal,
    })
    let remaining = flags.count ?? Number.POSITIVE_INFINITY
    for await (const chunk of chunks) {
      const printed = await printer.printChunk(chunk, remaining)
      remaining -= printed
      if (printed < chunk.count) chunk.consumedUpTo(printed)
      // Printing copied the values out: the buffer they came in can take the next response.
      chunk.release()
      if (printer.closed || remaining <= 0) break
      // A fetched batch is a natural unit of output: a follower sees records as they come.
      await printer.flush()
    }
    await printer.flush()
  }

  /**
   * Offline, printed as from a node: whole reads of batches cut into chunks (chunkOfBatch, as
   * the client cuts a fetch) and printed by the same RecordPrinter, so values go straight from
   * the read into the output buffer with no object or await per record.
   */
  private async consumeDataDir(dataDir: string, flags: {topic: string; partition?: number; from?: string; to?: number; json: boolean; format?: string; count?: number}, fromTimeMs: number | undefined): Promise<void> {
    const from = parseStart(flags.from)
    if (typeof from !== 'number' && from !== 'beginning' || (typeof from === 'number' && from < 0)) {
      throw new LignumError('INVALID_ARGUMENT', `--from ${flags.from} needs a server; with --data-dir give an offset N or "beginning"`)
    }
    const printer = new RecordPrinter({json: flags.json, format: flags.format})
    // Loaded here, not at start-up: the log engine is only for --data-dir, and consuming from a node should not pay for it.
    const {readDataDirBatches} = await import('../log/log-reader.js')
    const reads = readDataDirBatches(dataDir, {
      topic: flags.topic,
      partition: flags.partition,
      from: typeof from === 'number' ? from : undefined,
      to: flags.to,
      fromTimeMs,
      onWarning: (message) => process.stderr.write(`Warning: ${message}\n`),
    })
    let remaining = flags.count ?? Number.POSITIVE_INFINITY
    try {
      for await (const read of reads) {
        remaining -= await printBatches(printer, read, remaining)
        if (printer.closed || remaining <= 0) break
      }
    } finally {
      // Damage ends the reads with an error: every intact record before it goes out first,
      // to a file or a pipe alike, before the error's exit can cut the output short.
      await printer.flush()
      await printer.drained()
    }
  }
}

/** Prints up to `limit` records of one read's batches in its range; returns how many it printed. */
async function printBatches(printer: RecordPrinter, read: PartitionBatches, limit: number): Promise<number> {
  let printed = 0
  for (const {position, header} of batchPositions(read.batches)) {
    // Transaction markers are not data: a Kafka consumer skips them too.
    if (header.isControl || header.lastOffset < read.from) continue
    if (header.baseOffset >= read.end) break
    const chunk = chunkOfBatch(read.topic, read.partition, read.batches, position, read.from, read.end)
    if (!chunk) continue
    printed += await printer.printChunk(chunk, limit - printed)
    if (printer.closed || printed >= limit) break
  }
  return printed
}

export function parseStart(text: string | undefined): StartPosition {
  if (text === undefined || text === 'beginning') return 'beginning'
  if (text === 'end') return 'end'
  if (/^-?\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text)
  throw new LignumError('INVALID_ARGUMENT', `--from "${text}" is not a start position; use beginning, end, an offset N, or -N for N before the end`)
}

/** `--from 5 --to 3` is a mistake, from a node as offline (where the log reader says the same). */
function refuseEmptyRange(from: StartPosition, toOffset: number | undefined): void {
  if (toOffset === undefined || typeof from !== 'number' || from < 0 || toOffset >= from) return
  throw new LignumError('INVALID_ARGUMENT', `--to ${toOffset} is below --from ${from}; --to is exclusive and must be at least --from`)
}

export function parseTime(text: string): number {
  const timeMs = Date.parse(text)
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(timeMs)) {
    throw new LignumError('INVALID_ARGUMENT', `--from-time "${text}" is not an ISO-8601 time; write e.g. 2026-01-31T12:00:00Z`)
  }
  return timeMs
}
