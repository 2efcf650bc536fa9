/**
 * Child process: fixed-rate JetStream publish latency with the official Node client
 * (@nats-io/jetstream), against a file-storage stream it creates. Prints one JSON line:
 * {records, seconds, p50Ms, p99Ms}. Usage: nats-latency.ts '{"url","stream","subject","records","recordBytes","ratePerSecond"}'
 */
import {connect} from '@nats-io/transport-node'
import {jetstream, jetstreamManager, StorageType} from '@nats-io/jetstream'
import {measureFixedRate} from '../fixed-rate.js'

interface Arguments {
  url: string
  stream: string
  subject: string
  records: number
  recordBytes: number
  ratePerSecond: number
}

async function main(args: Arguments): Promise<void> {
  const connection = await connect({servers: args.url})
  try {
    const manager = await jetstreamManager(connection)
    await manager.streams.add({name: args.stream, subjects: [args.subject], storage: StorageType.File})
    const client = jetstream(connection)
    const payload = Buffer.alloc(args.recordBytes, 'x')
    const result = await measureFixedRate(() => client.publish(args.subject, payload), args.records, args.ratePerSecond)
    process.stdout.write(JSON.stringify(result) + '\n')
  } finally {
    await connection.close()
  }
}

// The message first, so the benchmark's one-line error says what went wrong.
await main(JSON.parse(process.argv[2] ?? '{}') as Arguments).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
