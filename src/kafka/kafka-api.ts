/**
 * What one Kafka API (one request type, a range of versions) is to the listener: its key, the
 * versions it serves, where flexible encoding starts, and a handler that reads the body and
 * writes the response body. Each API lives in a file of its own under apis/, opening with the
 * grammar of the versions it implements.
 *
 * Invariant: a handler is only called with minVersion <= version <= maxVersion.
 */
import type {KafkaReader} from './protocol/kafka-reader.js'
import type {KafkaWriter} from './protocol/kafka-writer.js'
import type {RequestHeader} from './protocol/request-header.js'

export interface KafkaApi<Context = unknown> {
  key: number
  name: string
  minVersion: number
  maxVersion: number
  /** The first version encoded with compact types and tagged fields (Infinity: none). */
  firstFlexibleVersion: number
  /**
   * Reads the request body (after the header) and writes the response body into `response`.
   * Returns false when no response is sent at all (Produce with acks=0).
   */
  handle(request: KafkaRequest<Context>, response: KafkaWriter): Promise<boolean> | boolean
}

export interface KafkaRequest<Context = unknown> {
  header: RequestHeader
  flexible: boolean
  body: KafkaReader
  context: Context
  /** Who sent it, as authorization names them (ANONYMOUS without TLS client certificates). */
  principal: string
  /** The client's address as a group member's host (Kafka shows it as "/1.2.3.4"). */
  clientHost: string
}

export function isFlexible(api: Pick<KafkaApi, 'firstFlexibleVersion'>, version: number): boolean {
  return version >= api.firstFlexibleVersion
}
