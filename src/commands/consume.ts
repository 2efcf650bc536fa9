import {Flags} from '@oclif/core'
import {ClientCommand} from '../cli/client-command.js'
import {LignumCommand} from '../cli/lignum-command.js'
import {RecordPrinter} from '../cli/record-printer.js'
import {replicaFlag} from '../cli/replica-flag.js'
import type {ReplicaChoice} from '../client/index.js'
import {LignumError} from '../errors.js'
import type {AssignorName} from '../client/assignors/index.js'
import {parseDurationMs} from '../cli/duration.js'
import {consumeRangeOf, OFFSET_FORMS, parseOffsetSpec, type ConsumeRange} from '../cli/offset-spec.js'
import {parseDelimiter} from '../cli/delimiter.js'
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
    '<%= config.bin %> consume -t orders -o @-1h:30m -K "\\t"',
    '<%= config.bin %> consume -t orders -o s@1767225600000 -D "|"',
    '<%= config.bin %> consume -t orders --group billing',
    '<%= config.bin %> consume -t orders -G billing --assignor cooperative-sticky --commit sync --session-timeout 6s',
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
    from: Flags.string({char: 'o', description: `where to start (and stop): ${OFFSET_FORMS} [default: beginning]`}),
    to: Flags.integer({description: 'stop before this offset (exclusive)', min: 0}),
    'from-time': Flags.string({description: 'start at the first record at or after this ISO-8601 time', exclusive: ['from']}),
    exit: Flags.boolean({char: 'e', description: 'exit at the end offsets seen at start instead of following'}),
    count: Flags.integer({char: 'c', description: 'exit after this many records', min: 1}),
    group: Flags.string({char: 'G', description: 'consumer group: the members split the partitions, start at the committed offsets and commit as records are read'}),
    assignor: Flags.string({description: 'how the group\'s leader splits the partitions (every member must use the same) [default: range]', options: ['range', 'cooperative-sticky'], dependsOn: ['group']}),
    commit: Flags.string({description: 'auto: commit every few seconds; sync: commit after the records are printed [default: auto]', options: ['auto', 'sync'], dependsOn: ['group']}),
    'session-timeout': Flags.string({description: 'the group drops this member after this long without a heartbeat, e.g. 10s [default: 10s]', dependsOn: ['group']}),
    reset: Flags.boolean({description: 'with --group: start at --from / --from-time instead of the group\'s committed offsets', dependsOn: ['group']}),
    format: Flags.string({char: 'f', description: 'output template, e.g. "%k=%s\\n"', exclusive: ['json']}),
    json: Flags.boolean({description: 'one JSON object per record: topic, partition, offset, timestamp, key, value, headers'}),
    replica: replicaFlag({exclusive: ['data-dir']}),
    // kcat's delimiters for the default output (value per record).
    delimiter: Flags.string({char: 'D', description: 'print this after each record instead of a newline, e.g. -D "|" or -D "\\0"', exclusive: ['format', 'json']}),
    'key-delimiter': Flags.string({char: 'K', description: 'print each key, this delimiter, then the value, e.g. -K "\\t"', exclusive: ['format', 'json']}),
  }

  private readsNode = false

  /** The reader's hint for a start out of range names its option; here the flag says where to start. */
  protected override hintFor(error: LignumError): string | undefined {
    if (error.code === 'OFFSET_OUT_OF_RANGE') return this.readsNode ? 'use --from end to wait for new records' : 'pass a --from in that range'
    return super.hintFor(error)
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Consume)
    const fromTimeMs = flags['from-time'] === undefined ? undefined : parseTime(flags['from-time'])
    const range = consumeRangeOf(parseOffsetSpec(flags.from ?? 'beginning'), {group: flags.group, toOffset: flags.to, fromText: flags.from})
    range.fromTimeMs ??= fromTimeMs
    const delimiters = delimitersOf(flags)
    if (flags['data-dir'] !== undefined) return this.consumeDataDir(flags['data-dir'], {...flags, ...delimiters}, range)
    this.readsNode = true
    const client = await this.connect(flags)
    const stop = new AbortController()
    process.once('SIGINT', () => stop.abort())
    process.once('SIGTERM', () => stop.abort())
    const printer = new RecordPrinter({json: flags.json, format: flags.format, ...delimiters})
    if (flags.group !== undefined && (flags.from !== undefined || fromTimeMs !== undefined) && flags.from !== 'stored' && !flags.reset) await warnCommittedOffsetsWin(client, flags.group, flags.topic, flags.from === undefined ? '--from-time' : '-o')
    const chunks = client.consumeChunks({
      topic: flags.topic,
      partitions: flags.partition === undefined ? undefined : [flags.partition],
      ...range,
      onWarning: (message) => process.stderr.write(`Warning: ${message}\n`),
      stopAtEnd: flags.exit,
      group: flags.group,
      assignor: flags.assignor as AssignorName | undefined,
      commit: flags.commit as 'auto' | 'sync' | undefined,
      sessionTimeoutMs: flags['session-timeout'] === undefined ? undefined : parseDurationMs(flags['session-timeout'], '--session-timeout'),
      resetOffsets: flags.reset,
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
  private async consumeDataDir(dataDir: string, flags: {topic: string; partition?: number; from?: string; json: boolean; format?: string; count?: number} & Delimiters, range: ConsumeRange): Promise<void> {
    const {from, toOffset, fromTimeMs} = range
    if ((from !== undefined && typeof from !== 'number' && from !== 'beginning') || (typeof from === 'number' && (from < 0 || Object.is(from, -0))) || range.toTimeMs !== undefined) {
      throw new LignumError('INVALID_ARGUMENT', `--from ${flags.from} needs a server; with --data-dir give an offset N, N:M, "beginning", @T or s@T`)
    }
    const printer = new RecordPrinter({json: flags.json, format: flags.format, keyDelimiter: flags.keyDelimiter, recordDelimiter: flags.recordDelimiter})
    // Loaded here, not at start-up: the log engine is only for --data-dir, and consuming from a node should not pay for it.
    const {readDataDirBatches} = await import('../log/log-reader.js')
    const reads = readDataDirBatches(dataDir, {
      topic: flags.topic,
      partition: flags.partition,
      from: typeof from === 'number' ? from : undefined,
      to: toOffset,
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

interface Delimiters {
  keyDelimiter?: Buffer
  recordDelimiter?: Buffer
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

/** `-o` with a group that has committed offsets is silently overruled in Kafka's tools; here it says so, once. */
async function warnCommittedOffsetsWin(client: {fetchOffsets(group: string, topic?: string): Promise<unknown[]>}, group: string, topic: string, flag: string): Promise<void> {
  const committed = await client.fetchOffsets(group, topic)
  if (committed.length === 0) return
  process.stderr.write(`Warning: group ${group} has committed offsets for ${topic}, and they win over ${flag}; add --reset to start at ${flag} instead, or move the group with lignum groups seek\n`)
}

function delimitersOf(flags: {delimiter?: string; 'key-delimiter'?: string}): Delimiters {
  return {
    keyDelimiter: flags['key-delimiter'] === undefined ? undefined : parseDelimiter(flags['key-delimiter'], '-K'),
    recordDelimiter: flags.delimiter === undefined ? undefined : parseDelimiter(flags.delimiter, '-D'),
  }
}

export function parseTime(text: string): number {
  const timeMs = Date.parse(text)
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(timeMs)) {
    throw new LignumError('INVALID_ARGUMENT', `--from-time "${text}" is not an ISO-8601 time; write e.g. 2026-01-31T12:00:00Z`)
  }
  return timeMs
}
