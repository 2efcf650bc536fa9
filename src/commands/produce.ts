import {createReadStream} from 'node:fs'
import {stat} from 'node:fs/promises'
import {Flags} from '@oclif/core'
import {ClientCommand} from '../cli/client-command.js'
import {readInputRecords, type InputRecord} from '../cli/input-records.js'
import {LignumCommand} from '../cli/lignum-command.js'
import {assert} from '../assert.js'
import {LignumError} from '../errors.js'
import {REQUEST_TIMEOUT_MS_DEFAULT, type AcksSetting} from '../client/index.js'
import type {ProducerStats} from '../client/producer.js'
import {CODEC_NAMES, type CompressionCodec} from '../format/compression.js'
import {createProgress} from '../ui/progress.js'

interface ProduceSummary {
  topic: string
  recordsSent: number
  recordsAcknowledged: number
  recordsFailed: number
  bytes: number
  elapsedMs: number
  recordsPerSecond: number
}

export default class Produce extends ClientCommand {
  static override summary = 'Produce records from stdin or a file: one per line, or length-prefixed binary.'

  static override description = `Batched and pipelined with bounded memory. Silent by default; --stats prints a summary on stderr. Exits non-zero, saying in one line how many, if any record was not acknowledged: with the exit code of the cause, 5 when the cluster could not take them within --delivery-timeout-ms (no leader, too few in-sync replicas, no answer). Across a leader failover the unanswered batches are resent to the new leader with the same producer id and sequences, so each record is stored once.`

  static override examples = [
    'seq 1 100000 | <%= config.bin %> produce -t numbers',
    'echo "user-42:signed in" | <%= config.bin %> produce -t events -K :',
    '<%= config.bin %> produce -t events --file events.txt --acks 1 --stats',
    '<%= config.bin %> produce -t blobs --binary --file frames.bin -H source=camera-3',
  ]

  static override enableJsonFlag = true

  static override flags = {
    ...LignumCommand.brokersFlag,
    ...LignumCommand.configFlag,
    topic: Flags.string({char: 't', description: 'topic to produce to', required: true}),
    'key-delimiter': Flags.string({char: 'K', description: 'the text before the first occurrence of this delimiter is the record key'}),
    key: Flags.string({char: 'k', description: 'key for every record', exclusive: ['key-delimiter']}),
    header: Flags.string({char: 'H', description: 'header key=value for every record (repeatable)', multiple: true}),
    partition: Flags.integer({char: 'p', description: 'partition for every record [default: by key (murmur2), else sticky]', min: 0}),
    acks: Flags.string({description: 'acknowledgement: 0 (none), 1 (leader), all (in-sync replicas)', options: ['0', '1', 'all'], default: 'all'}),
    'batch-size': Flags.integer({description: 'seal a partition\'s batch at this many bytes (never past the node\'s batch limit)', min: 1, default: 256 * 1024}),
    'linger-ms': Flags.integer({description: 'wait at most this long for a batch to fill; 0 sends a batch as soon as no earlier one awaits its answer', min: 0, default: 0}),
    'max-in-flight': Flags.integer({description: 'batches awaiting acknowledgement at once', min: 1, default: 5}),
    'delivery-timeout-ms': Flags.integer({description: 'give up on a record not acknowledged after this long, retries included', min: 1, default: 30_000}),
    'request-timeout-ms': Flags.integer({description: 'a node that leaves a request unanswered this long is taken as frozen or gone: its batches are resent to the leader the cluster names now', min: 1, default: REQUEST_TIMEOUT_MS_DEFAULT}),
    compression: Flags.string({description: 'batch compression (Kafka codecs and framing)', options: [...CODEC_NAMES], default: 'none'}),
    file: Flags.string({char: 'f', description: 'read from this file instead of stdin'}),
    binary: Flags.boolean({description: 'records are 4-byte big-endian lengths followed by that many bytes'}),
    stats: Flags.boolean({description: 'print a summary on stderr'}),
  }

  async run(): Promise<ProduceSummary> {
    const {flags} = await this.parse(Produce)
    const headers = (flags.header ?? []).map((text) => parseHeader(text))
    if (flags['key-delimiter'] === '') throw new LignumError('INVALID_ARGUMENT', '-K needs a delimiter of at least one character, e.g. -K :')
    const inputBytes = flags.file ? await fileSize(flags.file) : undefined
    const client = await this.connect(flags)
    const producer = client.producer({
      acks: flags.acks === 'all' ? 'all' : (Number(flags.acks) as AcksSetting),
      batchBytes: flags['batch-size'],
      lingerMs: flags['linger-ms'],
      maxInFlight: flags['max-in-flight'],
      deliveryTimeoutMs: flags['delivery-timeout-ms'],
      requestTimeoutMs: flags['request-timeout-ms'],
      compression: flags.compression as CompressionCodec,
    })
    // The topic is looked up (and auto-created) at the first record the node can take, so input
    // refused whole (a record past the node's batch limit) leaves no empty topic behind.
    let prepared = false
    const input = flags.file ? createReadStream(flags.file, {highWaterMark: 256 * 1024}) : process.stdin
    // Run by hand with nothing piped in, produce would wait in silence for the terminal.
    if (!flags.file && process.stdin.isTTY) process.stderr.write(`Reading records for ${flags.topic} from the terminal, one per line; Ctrl-D ends.\n`)
    const progress = flags.file ? createProgress({label: 'produce', total: inputBytes, unit: 'bytes'}) : undefined
    const startedMs = Date.now()
    // Input bytes each record took (for the progress bar against the file's size): a 4-byte
    // length in binary; otherwise the key and delimiter (with -K), the value and the newline.
    const delimiterBytes = flags['key-delimiter'] === undefined ? 0 : Buffer.byteLength(flags['key-delimiter'])
    const inputBytesOf = flags.binary
      ? (record: InputRecord) => record.value.length + 4
      : (record: InputRecord) => (record.key ? record.key.length + delimiterBytes : 0) + record.value.length + 1
    const fixedKey = flags.key === undefined ? undefined : Buffer.from(flags.key, 'utf8')
    let recordsSent = 0
    let bytes = 0
    // Input that goes wrong part way (a cut binary record, a line without end) still sends the
    // records before it, as a pipe cannot be taken back; the error then says how many.
    let inputError: LignumError | undefined
    // Records of a --file left unsent once retries were spent: counted, so the error names
    // every line not acknowledged. Stdin is not read on (it may never end: `yes |`).
    let recordsUnsent = 0
    let retriesSpent = false
    try {
      for await (const records of readInputRecords(input as AsyncIterable<Buffer>, {keyDelimiter: flags['key-delimiter'], binary: flags.binary})) {
        if (retriesSpent) {
          recordsUnsent += records.length
          continue
        }
        for (const record of records) {
          bytes += inputBytesOf(record)
          if (fixedKey) record.key = fixedKey
          if (headers.length > 0) record.headers = headers
          if (!prepared && producer.fitsBatch(record)) {
            await producer.prepare(flags.topic)
            prepared = true
          }
          producer.writeRecord(flags.topic, record, flags.partition)
        }
        recordsSent += records.length
        progress?.update(bytes, recordsSent)
        if (producer.needsDrain) await producer.drain()
        // Retries are spent (the cluster could not take a record within its delivery timeout):
        // sending on would only queue records that cannot be delivered either.
        retriesSpent = producer.stats.firstError?.retriable === true
        if (retriesSpent && !flags.file) break
      }
    } catch (error) {
      if (!(error instanceof LignumError) || error.code !== 'INVALID_ARGUMENT') throw error
      inputError = error
    }
    await producer.close()
    progress?.done()
    const elapsedMs = Date.now() - startedMs
    const {stats} = producer
    const summary: ProduceSummary = {
      topic: flags.topic,
      recordsSent,
      recordsAcknowledged: stats.recordsAcknowledged,
      recordsFailed: stats.recordsFailed,
      bytes,
      elapsedMs,
      recordsPerSecond: Math.round(recordsSent / Math.max(elapsedMs / 1000, 0.001)),
    }
    if (flags.stats) {
      process.stderr.write(`produced ${summary.recordsAcknowledged} of ${recordsSent} records (${bytes} bytes) to ${flags.topic} in ${elapsedMs} ms: ${summary.recordsPerSecond} records/s\n`)
    }
    if (inputError) {
      const produced = stats.recordsAcknowledged === 0 ? 'no record was produced' : `the ${stats.recordsAcknowledged} record(s) before it were produced`
      throw new LignumError(inputError.code, `${inputError.message} (${produced})`)
    }
    if (stats.recordsFailed > 0) throw notAcknowledgedError(stats, recordsSent, recordsUnsent, retriesSpent && !flags.file)
    return summary
  }
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
  return new LignumError(cause?.code ?? 'INTERNAL', `${notAcknowledged} of ${recordsSent + recordsUnsent} records were not acknowledged: ${cause?.message ?? 'unknown error'}${unsent}${rest}`)
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
