/**
 * Child process: drives a Lignum broker through the Node client library directly (no CLI),
 * to separate the CLI's cost from the broker's. Modes:
 *   produce: N records of S bytes as fast as the producer takes them (write/drain, bounded
 *            memory), rate over first write to last acknowledgement;
 *   consume: from the beginning to the end of the topic;
 *   latency: fixed rate, open loop (see ../fixed-rate.ts).
 * Prints one JSON line: {records, seconds, p50Ms?, p99Ms?}.
 * Usage: lignum-client.ts '{"mode","broker","topic","records","recordBytes","acks","ratePerSecond"?,"tls"?}'
 */
import type {LignumClient as LignumClientType} from '../../../src/client/index.js'
import {pathToFileURL} from 'node:url'
import {measureFixedRate} from '../fixed-rate.js'

interface Arguments {
  mode: 'produce' | 'consume' | 'latency'
  /** The compiled client to load (the benchmark's private build); src/ when absent. */
  clientModule?: string
  broker: string
  topic: string
  records: number
  recordBytes: number
  acks: '1' | 'all'
  ratePerSecond?: number
  /** CA and client certificate files for a TLS node; plaintext when absent. */
  tls?: {caFile: string; certFile?: string; keyFile?: string}
}

const args = JSON.parse(process.argv[2] ?? '{}') as Arguments
const {LignumClient} = (await import(args.clientModule ? pathToFileURL(args.clientModule).href : '../../../src/client/index.js')) as {LignumClient: typeof LignumClientType}
// `broker` may list several nodes (host:port,host:port), as --brokers does.
const client = await LignumClient.connect({brokers: args.broker, zeroCopy: true, ...(args.tls ? {tls: args.tls} : {})})
try {
  const result = await runMode(args)
  process.stdout.write(JSON.stringify(result) + '\n')
} catch (error) {
  // The message first, so the benchmark's one-line error says what went wrong.
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
} finally {
  await client.close()
}

function makePayload(recordBytes: number): Buffer {
  return Buffer.alloc(recordBytes, 'x')
}

function acksSetting(acks: Arguments['acks']): 'all' | 1 {
  return acks === 'all' ? 'all' : 1
}

async function runMode(args: Arguments): Promise<{records: number; seconds: number; p50Ms?: number; p99Ms?: number}> {
  switch (args.mode) {
    case 'produce': return produce(args)
    case 'consume': return consume(args)
    case 'latency': return latency(args)
  }
}

/**
 * The library's high-rate path, the one `lignum produce` uses: write() queues without a
 * promise per record, drain() waits while the producer's bounded buffer is full, flush()
 * waits for every acknowledgement. (send() resolves each record's offset: see latency.)
 */
async function produce(args: Arguments) {
  const producer = client.producer({acks: acksSetting(args.acks)})
  const value = makePayload(args.recordBytes)
  const startMs = performance.now()
  await producer.prepare(args.topic)
  for (let index = 0; index < args.records; index++) {
    producer.write(args.topic, {value})
    if (producer.needsDrain) await producer.drain()
  }
  await producer.flush()
  const seconds = (performance.now() - startMs) / 1000
  const {recordsAcknowledged, recordsFailed, firstError} = producer.stats
  await producer.close()
  if (recordsFailed > 0) throw new Error(`${recordsFailed} records not acknowledged: ${firstError?.message ?? 'no error recorded'}`)
  return {records: recordsAcknowledged, seconds}
}

async function consume(args: Arguments) {
  let records = 0
  const startMs = performance.now()
  for await (const record of client.consume({topic: args.topic, from: 'beginning', stopAtEnd: true})) {
    if (record) records++
  }
  return {records, seconds: (performance.now() - startMs) / 1000}
}

async function latency(args: Arguments) {
  const producer = client.producer({acks: acksSetting(args.acks)})
  const value = makePayload(args.recordBytes)
  const result = await measureFixedRate(() => producer.send(args.topic, {value}), args.records, args.ratePerSecond ?? 10_000)
  await producer.close()
  return result
}
