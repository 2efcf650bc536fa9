import {Flags} from '@oclif/core'
import {ClientCommand} from '../cli/client-command.js'
import {parseDelimiter} from '../cli/delimiter.js'
import type {InputOptions} from '../cli/input-records.js'
import {INTERRUPTED_EXIT_CODE, onInterrupt} from '../cli/interrupt.js'
import {LignumCommand} from '../cli/lignum-command.js'
import {inputFileSize, openInput, sendInput, type SendOutcome} from '../cli/produce-input.js'
import {inputFailure, interruptedLine, notAcknowledgedError, statsLine, summarize, type ProduceSummary} from '../cli/produce-report.js'
import {producedOffsetsPrinter} from '../cli/produced-offsets.js'
import {LignumError} from '../errors.js'
import {REQUEST_TIMEOUT_MS_DEFAULT, type AcksSetting} from '../client/index.js'
import {CODEC_NAMES, type CompressionCodec} from '../format/compression.js'
import {createProgress} from '../ui/progress.js'

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
    const inputBytes = file ? await inputFileSize(file) : undefined
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
    const input = openInput(file)
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
    if (outcome.inputError) throw inputFailure(outcome.inputError, producer.stats.recordsAcknowledged)
    if (producer.stats.recordsFailed > 0) throw notAcknowledgedError(producer.stats, outcome.recordsSent, outcome.recordsUnsent, outcome.retriesSpent && !file)
    return summary
  }

  /** After Ctrl-C: what was acknowledged and what failed, on stderr (below any progress line, which is gone by now), and exit 130. */
  private interrupted(summary: ProduceSummary, quiet: boolean): ProduceSummary {
    if (!quiet) process.stderr.write(interruptedLine(summary))
    process.exitCode = INTERRUPTED_EXIT_CODE
    return {...summary, interrupted: true}
  }

  /** With --print-offsets --json, stdout is JSON lines: the summary takes one line too, not a pretty-printed block. */
  override logJson(json: unknown): void {
    if (!this.printingOffsets) return super.logJson(json)
    process.stdout.write(JSON.stringify(json) + '\n')
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

function parseHeader(text: string): {key: string; value: Buffer} {
  const at = text.indexOf('=')
  if (at <= 0) throw new LignumError('INVALID_ARGUMENT', `header "${text}" is not key=value; write e.g. -H source=web`)
  return {key: text.slice(0, at), value: Buffer.from(text.slice(at + 1), 'utf8')}
}
