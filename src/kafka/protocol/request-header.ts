/**
 * The header every Kafka request starts with, and the header of its response.
 *
 *   Request header v1: api_key INT16, api_version INT16, correlation_id INT32,
 *                      client_id NULLABLE_STRING
 *   Request header v2: v1, then TAGGED_FIELDS (flexible versions of an API)
 *   Response header v0: correlation_id INT32
 *   Response header v1: v0, then TAGGED_FIELDS (flexible versions, except ApiVersions)
 *
 * client_id stays a NULLABLE_STRING (not compact) even in v2, so that a broker can read the
 * header of a request whose version it does not know.
 */
import type {KafkaReader} from './kafka-reader.js'
import {KafkaWriter} from './kafka-writer.js'

export interface RequestHeader {
  apiKey: number
  apiVersion: number
  correlationId: number
  clientId: string | null
}

/** The part of the header every version shares, enough to find the API and its version. */
export function readRequestHeader(reader: KafkaReader): RequestHeader {
  const apiKey = reader.int16()
  const apiVersion = reader.int16()
  const correlationId = reader.int32()
  const clientId = reader.nullableString()
  return {apiKey, apiVersion, correlationId, clientId}
}

/** Starts a response: its header, into a writer the API appends its body to. */
export function responseWriter(correlationId: number, flexibleHeader: boolean): KafkaWriter {
  const writer = new KafkaWriter().int32(correlationId)
  if (flexibleHeader) writer.emptyTaggedFields()
  return writer
}
