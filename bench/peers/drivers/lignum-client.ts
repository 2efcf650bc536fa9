/**
 * Child process: drives a Lignum broker through the Node client library directly (no CLI),
 * to separate the CLI's cost from the broker's. Modes:
 *   produce: N records of S bytes as fast as the producer takes them (a bounded window of
 *            unacknowledged sends, so memory stays bounded), rate over first send to last ack;
 *   consume: from the beginning to the end of the topic;
 *   latency: fixed rate, open loop (see ../fixed-rate.ts).
 * Prints one JSON line: {records, seconds, p50Ms?, p99Ms?}.
 * Usage: lignum-client.ts '{"mode","broker","topic","records","recordBytes","acks","ratePerSecond"?}'
 */
import {LignumClient} from '../../../src/client/index.js'
import {measureFixedRate} from '../fixed-rate.js'

interface Arguments {
  mode: 'produce' | 'consume' | 'latency'
  broker: string
  topic: string
  records: number
  recordBytes: number
  acks: '1' | 'all'
  ratePerSecond?: number
}

/** Unacknowledged sends kept in flight by the throughput producer: enough to fill batches, bounded for memory. */
const sendWindowRecords = 50_000

const args = JSON.parse(process.argv[2] ?? '{}') as Arguments
const client = await LignumClient.connect({brokers: [args.broker]})
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

async function produce(args: Arguments) {
  const producer = client.producer({acks: acksSetting(args.acks)})
  const value = makePayload(args.recordBytes)
  // A sliding window: before send i, wait for the acknowledgement of send i - window.
  const window: Promise<unknown>[] = new Array(sendWindowRecords)
  const startMs = performance.now()
  for (let index = 0; index < args.records; index++) {
    const slot = index % sendWindowRecords
    if (index >= sendWindowRecords) await window[slot]
    window[slot] = producer.send(args.topic, {value})
  }
  await Promise.all(window.filter(Boolean))
  await producer.flush()
  const seconds = (performance.now() - startMs) / 1000
  await producer.close()
  return {records: args.records, seconds}
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
