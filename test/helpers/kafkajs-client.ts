/**
 * kafkajs clients for tests: errors only, and kept in memory instead of printed, so a passing
 * test prints nothing of kafkajs and a failing one prints what kafkajs said (printKafkajsLogs).
 * Retries are short, so an error kafkajs retries surfaces in seconds rather than minutes.
 */
import {Kafka, logLevel, type LogEntry} from 'kafkajs'

const CLIENT_ID = 'lignum-tests'
const RETRIES = 5
const INITIAL_RETRY_MS = 100
// A request to a node on a loaded machine answers in far less; kafkajs's default is 30 s.
const REQUEST_TIMEOUT_MS = 10_000

export interface KafkajsClient {
  kafka: Kafka
  /** kafkajs's log lines so far, one string each. */
  logs: string[]
}

export function kafkajsClient(bootstrap: string): KafkajsClient {
  const logs: string[] = []
  const kafka = new Kafka({
    clientId: CLIENT_ID,
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    logCreator: () => (entry: LogEntry) => {
      logs.push(`${entry.namespace} ${entry.log.message} ${JSON.stringify({...entry.log, message: undefined, timestamp: undefined, logger: undefined})}`)
    },
    requestTimeout: REQUEST_TIMEOUT_MS,
    retry: {retries: RETRIES, initialRetryTime: INITIAL_RETRY_MS},
  })
  return {kafka, logs}
}

export function printKafkajsLogs(client: KafkajsClient | undefined): void {
  if (!client || client.logs.length === 0) return
  process.stderr.write(`kafkajs said:\n${client.logs.map((line) => `  ${line}`).join('\n')}\n`)
}
