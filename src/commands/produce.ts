import {createReadStream} from 'node:fs'
import {stat} from 'node:fs/promises'
import type {Readable} from 'node:stream'
import {Flags} from '@oclif/core'
import {ClientCommand} from '../cli/client-command.js'
import {parseDelimiter} from '../cli/delimiter.js'
import {readInputRecords, type InputOptions} from '../cli/input-records.js'
import {INTERRUPTED_EXIT_CODE, onInterrupt} from '../cli/interrupt.js'
import {LignumCommand} from '../cli/lignum-command.js'
import {producedOffsetsPrinter} from '../cli/produced-offsets.js'
import {assert} from '../assert.js'
import {LignumError} from '../errors.js'
import {REQUEST_TIMEOUT_MS_DEFAULT, type AcksSetting, type Producer} from '../client/index.js'
import type {ProducerStats} from '../client/producer.js'
import {CODEC_NAMES, type CompressionCodec} from '../format/compression.js'
import {createProgress, type Progress} from '../ui/progress.js'

interface ProduceSummary {
  topic: string
  recordsSent: number
  recordsAcknowledged: number
  recordsFailed: number
  bytes: number
  elapsedMs: number
  recordsPerSecond: number
  interrupted?: boolean
}

const INPUT_CHUNK_BYTES = 256 * 1024

/** What reading the input came to: counts, and why it stopped early if it did. */
interface SendOutcome {
  recordsSent: number
  bytes: number
  /** Input that goes wrong part way: the records before it were still sent. */
  inputError?: LignumError
  /** Records of a --file left unsent once retries were spent. */
  recordsUnsent: number
  retriesSpent: boolean
}

export default class Produce extends ClientCommand {
  static override summary = 'Produce records from stdin or a file: one per line (or -D), JSON lines, a -f template, or length-prefixed binary.'

  static override description = `Batched and pipelined with bounded memory. Silent by default; --stats prints a summary on stderr, --print-offsets where each record was stored. Exits non-zero, saying in one line how many, if any record was not acknowledged: with the exit code of the cause, 5 when the cluster could not take them within --delivery-timeout-ms (no leader, too few in-sync replicas, no answer). Across a leader failover the unanswered batches are resent to the new leader with the same producer id and sequences, so each record is stored once. Ctrl-C stops reading, waits for the records in flight, prints what was acknowledged and exits 130.

--format json reads the lines consume --json writes (key, value, headers, partition, timestamp; base64 where they say so), so consume --json | produce --format json copies a topic. An input template (-f) lays out each record with %k key, %v value, %p partition, %T timestamp (ms) and literal text between them, e.g. '%k %v'. Delimiters and templates take the escapes \\n \\t \\r \\0 \\xNN.`

  static override examples = [
    'seq 1 100000 | <%= config.bin %> produce -t numbers',
    'echo "user-42:signed in" | <%= config.bin %> produce -t events -K :',
    '<%= config.bin %> produce -t events --file events.txt --acks 1 --stats',
    '<%= config.bin %> produce -t blobs --binary --file frames.bin -H source=camera-3',
    '<%= config.bin %> consume -t orders -e --json | <%= config.bin %> produce -t orders-copy --format json',
    'printf "k1 v1|k2 v2" | <%= config.bin %> produce -t events -f "%k %v" -D "|" --print-offsets',
  ]

  static override enableJsonFlag = true

  static override flags = {
    ...LignumCommand.brokersFlag,
    ...LignumCommand.configFlag,
    topic: Flags.string({char: 't', description: 'topic to produce to', required: true}),
    'key-delimiter': Flags.string({char: 'K', description: 'the text before the first occurrence of this delimiter is the record key', exclusive: ['format', 'binary']}),
    key: Flags.string({char: 'k', description: 'key for every record', exclusive: ['key-delimiter']}),
    header: Flags.string({char: 'H', description: 'header key=value for every record (repeatable)', multiple: true}),
    partition: Flags.integer({char: 'p', description: 'partition for every record [default: the input\'s (--format json, %p), else by key (murmur2), else sticky]', min: 0}),
    format: Flags.string({char: 'f', description: 'input layout: json (what consume --json writes), or a template such as "%k %v" (%k key, %v value, %p partition, %T timestamp)', exclusive: ['binary']}),
    delimiter: Flags.string({char: 'D', description: 'record delimiter instead of the newline, e.g. -D "|" or -D "\\0"', exclusive: ['binary']}),
    null: Flags.boolean({char: 'Z', description: 'an empty key or value is null, not empty (kcat -Z)'}),
    acks: Flags.string({description: 'acknowledgement: 0 (none), 1 (leader), all (in-sync replicas)', options: ['0', '1', 'all'], default: 'all'}),
    'batch-size': Flags.integer({description: 'seal a partition\'s batch at this many bytes (never past the node\'s batch limit)', min: 1, default: 256 * 1024}),
    'linger-ms': Flags.integer({description: 'wait at most this long for a batch to fill; 0 sends a batch as soon as no earlier one awaits its answer', min: 0, default: 0}),
    'max-in-flight': Flags.integer({description: 'batches awaiting acknowledgement at once', min: 1, default: 5}),
    'delivery-timeout-ms': Flags.integer({description: 'give up on a record not acknowledged after this long, retries included', min: 1, default: 30_000}),
    'request-timeout-ms': Flags.integer({description: 'a node that leaves a request unanswered this long is taken as frozen or gone: its batches are resent to the leader the cluster names now', min: 1, default: REQUEST_TIMEOUT_MS_DEFAULT}),
    compression: Flags.string({description: 'batch compression (Kafka codecs and framing)', options: [...CODEC_NAMES], default: 'none'}),
    file: Flags.string({description: 'read from this file instead of stdin ("-" is stdin)'}),
    binary: Flags.boolean({description: 'records are 4-byte big-endian lengths followed by that many bytes'}),
    stats: Flags.boolean({description: 'print a summary on stderr'}),
    'print-offsets': Flags.boolean({description: 'print the topic, partition and offset of each acknowledged record on stdout (JSON lines with --json)'}),
    quiet: Flags.boolean({char: 'q', description: 'no progress line, no note that the terminal is read, no summary on Ctrl-C', exclusive: ['stats']}),
  }

  private printingOffsets = false

  async run(): Promise<ProduceSummary> {
    const {flags} = await this.parse(Produce)
    const headers = (flags.header ?? []).map((text) => parseHeader(text))
    const inputOptions = inputOptionsOf(flags)
    const file = flags.file === '-' ? undefined : flags.file
    const inputBytes = file ? await fileSize(file) : undefined
    const client = await this.connect(flags)
    this.printingOffsets = flags['print-offsets']
    const producer = client.producer({
      acks: flags.acks === 'all' ? 'all' : (Number(flags.acks) as AcksSetting),
      batchBytes: flags['batch-size'],
      lingerMs: flags['linger-ms'],
      maxInFlight: flags['max-in-flight'],
      deliveryTimeoutMs: flags['delivery-timeout-ms'],
      requestTimeoutMs: flags['request-timeout-ms'],
      compression: flags.compression as CompressionCodec,
      onAcknowledged: flags['print-offsets'] ? producedOffsetsPrinter(this.jsonEnabled()) : undefined,
    })
    const input: Readable = file ? createReadStream(file, {highWaterMark: INPUT_CHUNK_BYTES}) : process.stdin
    // Run by hand with nothing piped in, produce would wait in silence for the terminal.
    if (!file && process.stdin.isTTY && !flags.quiet) process.stderr.write(`Reading records for ${flags.topic} from the terminal, one per line; Ctrl-D ends.\n`)
    // A progress line would cut through what the user types, so none when the terminal is the input.
    const showProgress = !flags.quiet && (file !== undefined || !process.stdin.isTTY)
    const progress = showProgress ? createProgress({label: 'produce', total: inputBytes, unit: 'bytes'}) : undefined
    let interrupted = false
    const stopListening = onInterrupt(() => {
      interrupted = true
      // Ends the read loop at once, even while it waits for a slow stdin; what was read is sent.
      input.destroy()
    })
    const startedMs = Date.now()
    let outcome: SendOutcome
    try {
      outcome = await sendInput(input, producer, {topic: flags.topic, partition: flags.partition, fixedKey: flags.key, headers, inputOptions, progress, fromFile: file !== undefined, interrupted: () => interrupted})
      await producer.close()
    } finally {
      stopListening()
      progress?.done()
    }
    const summary = summarize(flags.topic, outcome, producer.stats, Date.now() - startedMs)
    if (interrupted) return this.interrupted(summary, flags.quiet)
    if (flags.stats) process.stderr.write(statsLine(summary))
    if (outcome.inputError) {
      const produced = producer.stats.recordsAcknowledged === 0 ? 'no record was produced' : `the ${producer.stats.recordsAcknowledged} record(s) before it were produced`
      throw new LignumError(outcome.inputError.code, `${outcome.inputError.message} (${produced})`, {hint: outcome.inputError.hint})
    }
    if (producer.stats.recordsFailed > 0) throw notAcknowledgedError(producer.stats, outcome.recordsSent, outcome.recordsUnsent, outcome.retriesSpent && !file)
    return summary
  }

  /** After Ctrl-C: what was acknowledged and what failed, on stderr (below any progress line, which is gone by now), and exit 130. */
  private interrupted(summary: ProduceSummary, quiet: boolean): ProduceSummary {
    if (!quiet) process.stderr.write(`Interrupted: ${summary.recordsAcknowledged} of ${summary.recordsSent} records acknowledged, ${summary.recordsFailed} failed (${summary.bytes} bytes read) to ${summary.topic} in ${summary.elapsedMs} ms\n`)
    process.exitCode = INTERRUPTED_EXIT_CODE
    return {...summary, interrupted: true}
  }

  /** With --print-offsets --json, stdout is JSON lines: the summary takes one line too, not a pretty-printed block. */
  override logJson(json: unknown): void {
    if (!this.printingOffsets) return super.logJson(json)
    process.stdout.write(JSON.stringify(json) + '\n')
  }
}

interface SendSettings {
  topic: string
  partition: number | undefined
  fixedKey: string | undefined
  headers: {key: string; value: Buffer}[]
  inputOptions: InputOptions
  progress: Progress | undefined
  fromFile: boolean
  interrupted: () => boolean
}

/** Reads the input and hands its records to the producer, waiting whenever its buffer is full. */
async function sendInput(input: Readable, producer: Producer, settings: SendSettings): Promise<SendOutcome> {
  const outcome: SendOutcome = {recordsSent: 0, bytes: 0, recordsUnsent: 0, retriesSpent: false}
  const fixedKey = settings.fixedKey === undefined ? undefined : Buffer.from(settings.fixedKey, 'utf8')
  const counted = countBytes(input as AsyncIterable<Buffer>, (bytes) => (outcome.bytes += bytes))
  // The topic is looked up (and auto-created) at the first record the node can take, so input
  // refused whole (a record past the node's batch limit) leaves no empty topic behind.
  let prepared = false
  try {
    for await (const records of readInputRecords(counted, settings.inputOptions)) {
      // Records of a --file left unsent once retries were spent are counted, so the error
      // names every record not acknowledged. Stdin is not read on (it may never end: `yes |`).
      if (outcome.retriesSpent) {
        outcome.recordsUnsent += records.length
        continue
      }
      for (const record of records) {
        if (fixedKey) record.key = fixedKey
        if (settings.headers.length > 0) record.headers = record.headers ? [...record.headers, ...settings.headers] : settings.headers
        if (!prepared && producer.fitsBatch(record)) {
          await producer.prepare(settings.topic)
          prepared = true
        }
        producer.writeRecord(settings.topic, record, settings.partition ?? record.partition)
      }
      outcome.recordsSent += records.length
      settings.progress?.update(outcome.bytes, outcome.recordsSent)
      if (producer.needsDrain) await producer.drain()
      // Retries are spent (the cluster could not take a record within its delivery timeout):
      // sending on would only queue records that cannot be delivered either.
      outcome.retriesSpent = producer.stats.firstError?.retriable === true
      if ((outcome.retriesSpent && !settings.fromFile) || settings.interrupted()) break
    }
  } catch (error) {
    // A destroyed input (Ctrl-C) ends its iteration with an error: the interruption, not a failure.
    if (settings.interrupted()) return outcome
    if (!(error instanceof LignumError) || error.code !== 'INVALID_ARGUMENT') throw error
    outcome.inputError = error
  }
  return outcome
}

async function* countBytes(input: AsyncIterable<Buffer>, onBytes: (bytes: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of input) {
    onBytes(chunk.length)
    yield chunk
  }
}

function inputOptionsOf(flags: {'key-delimiter'?: string; format?: string; delimiter?: string; null: boolean; binary: boolean}): InputOptions {
  return {
    binary: flags.binary,
    keyDelimiter: flags['key-delimiter'] === undefined ? undefined : parseDelimiter(flags['key-delimiter'], '-K'),
    recordDelimiter: flags.delimiter === undefined ? undefined : parseDelimiter(flags.delimiter, '-D'),
    format: flags.format,
    emptyIsNull: flags.null,
  }
}

function summarize(topic: string, outcome: SendOutcome, stats: ProducerStats, elapsedMs: number): ProduceSummary {
  return {
    topic,
    recordsSent: outcome.recordsSent,
    recordsAcknowledged: stats.recordsAcknowledged,
    recordsFailed: stats.recordsFailed,
    bytes: outcome.bytes,
    elapsedMs,
    recordsPerSecond: Math.round(outcome.recordsSent / Math.max(elapsedMs / 1000, 0.001)),
  }
}

function statsLine(summary: ProduceSummary): string {
  return `produced ${summary.recordsAcknowledged} of ${summary.recordsSent} records (${summary.bytes} bytes) to ${summary.topic} in ${summary.elapsedMs} ms: ${summary.recordsPerSecond} records/s\n`
}

/**
 * One line: how many records were not acknowledged of how many, and why; the exit code is the
 * cause's (5 when the cluster could not take them in time: no leader, too few in-sync
 * replicas, no answer within the delivery timeout).
 */
function notAcknowledgedError(stats: ProducerStats, recordsSent: number, recordsUnsent: number, stdinLeft: boolean): LignumError {
  const cause = stats.firstError
  // Every record read and not acknowledged counts, whatever became of it.
  const notAcknowledged = recordsSent + recordsUnsent - stats.recordsAcknowledged
  assert(stats.recordsAcknowledged + stats.recordsFailed === recordsSent, `${recordsSent} records sent, but ${stats.recordsAcknowledged} acknowledged and ${stats.recordsFailed} failed`)
  const unsent = recordsUnsent > 0 ? `; ${recordsUnsent} of them were not sent, as retries were spent` : ''
  const rest = stdinLeft ? '; stdin was not read further, as retries were spent' : ''
  return new LignumError(cause?.code ?? 'INTERNAL', `${notAcknowledged} of ${recordsSent + recordsUnsent} records were not acknowledged: ${cause?.message ?? 'unknown error'}${unsent}${rest}`, {hint: cause?.hint})
}

function parseHeader(text: string): {key: string; value: Buffer} {
  const at = text.indexOf('=')
  if (at <= 0) throw new LignumError('INVALID_ARGUMENT', `header "${text}" is not key=value; write e.g. -H source=web`)
  return {key: text.slice(0, at), value: Buffer.from(text.slice(at + 1), 'utf8')}
}

async function fileSize(file: string): Promise<number> {
  try {
    const info = await stat(file)
    if (!info.isFile()) throw new LignumError('INVALID_ARGUMENT', `--file ${file} is not a regular file`)
    return info.size
  } catch (error) {
    if (error instanceof LignumError) throw error
    throw new LignumError('NOT_FOUND', `cannot read --file ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
  }
}
