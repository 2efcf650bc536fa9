/**
 * Where `lignum produce` reads its records (a --file, or stdin) and the loop that hands them
 * to the producer, waiting whenever the producer's buffer is full: memory stays bounded by the
 * producer's in-flight limit however large the input.
 *
 * The loop stops early in three ways, and says which in its outcome: input that goes wrong
 * part way (the records before it are still sent), retries spent (the cluster could not take
 * a record within its delivery timeout), and an interruption (Ctrl-C destroys the input).
 * Invariant: recordsSent counts exactly the records given to the producer.
 */
import {createReadStream} from 'node:fs'
import {stat} from 'node:fs/promises'
import type {Readable} from 'node:stream'
import {LignumError} from '../errors.js'
import type {Producer} from '../client/index.js'
import type {Progress} from '../ui/progress.js'
import {readInputRecords, type InputOptions} from './input-records.js'

// Large enough that a fast file is read in few system calls, small next to the producer's buffer.
const INPUT_CHUNK_BYTES = 256 * 1024

/** What reading the input came to: counts, and why it stopped early if it did. */
export interface SendOutcome {
  recordsSent: number
  bytes: number
  /** Input that goes wrong part way: the records before it were still sent. */
  inputError?: LignumError
  /** Records of a --file left unsent once retries were spent. */
  recordsUnsent: number
  retriesSpent: boolean
}

export interface SendSettings {
  topic: string
  partition: number | undefined
  fixedKey: string | undefined
  headers: {key: string; value: Buffer}[]
  inputOptions: InputOptions
  progress: Progress | undefined
  fromFile: boolean
  interrupted: () => boolean
}

/** The file's records, or stdin's when there is no file. */
export function openInput(file: string | undefined): Readable {
  return file ? createReadStream(file, {highWaterMark: INPUT_CHUNK_BYTES}) : process.stdin
}

/** A --file's size for the progress line; a missing or irregular file is the user's error. */
export async function inputFileSize(file: string): Promise<number> {
  try {
    const info = await stat(file)
    if (!info.isFile()) throw new LignumError('INVALID_ARGUMENT', `--file ${file} is not a regular file`)
    return info.size
  } catch (error) {
    if (error instanceof LignumError) throw error
    throw new LignumError('NOT_FOUND', `cannot read --file ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
  }
}

/** Reads the input and hands its records to the producer, waiting whenever its buffer is full. */
export async function sendInput(input: Readable, producer: Producer, settings: SendSettings): Promise<SendOutcome> {
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
