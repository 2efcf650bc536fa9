/**
 * ApiVersions (key 18), versions 0-4: the first request every client sends, to learn which
 * APIs and versions this listener serves.
 *
 *   Request v0-v2:  (empty)
 *   Request v3-v4:  client_software_name COMPACT_STRING, client_software_version COMPACT_STRING,
 *                   TAGGED_FIELDS
 *   Response v0:    error_code INT16, api_keys ARRAY[api_key INT16, min_version INT16,
 *                   max_version INT16]
 *   Response v1-v2: v0, then throttle_time_ms INT32
 *   Response v3-v4: error_code INT16, api_keys COMPACT_ARRAY[api_key INT16, min_version INT16,
 *                   max_version INT16, TAGGED_FIELDS], throttle_time_ms INT32, TAGGED_FIELDS
 *                   (SupportedFeatures and the finalized features are optional tags: Lignum
 *                   has no feature flags, so it writes none)
 *
 * A version newer than this listener serves is answered, as Kafka's brokers do, with
 * UNSUPPORTED_VERSION in the v0 layout, listing what it does serve, so the client can retry
 * with a version both know. Its response header is always v0, even for flexible versions.
 */
import type {KafkaApi} from '../kafka-api.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {KafkaWriter} from '../protocol/kafka-writer.js'

export const API_VERSIONS_KEY = 18
const FIRST_FLEXIBLE_VERSION = 3
const MAX_VERSION = 4

export interface ApiVersionRange {
  key: number
  minVersion: number
  maxVersion: number
}

/** The ApiVersions API, answering with `served` (every API of the listener, itself included). */
export function apiVersionsApi(served: () => readonly ApiVersionRange[]): KafkaApi {
  return {
    key: API_VERSIONS_KEY,
    name: 'ApiVersions',
    minVersion: 0,
    maxVersion: MAX_VERSION,
    firstFlexibleVersion: FIRST_FLEXIBLE_VERSION,
    handle(request, response) {
      if (request.flexible) {
        request.body.compactString()
        request.body.compactString()
        request.body.skipTaggedFields()
      }
      writeApiVersions(response, request.header.apiVersion, KafkaErrorCode.NONE, served())
      return true
    },
  }
}

/** The body of an ApiVersions response at `version` (v0 for the unsupported-version answer). */
export function writeApiVersions(response: KafkaWriter, version: number, errorCode: number, served: readonly ApiVersionRange[]): void {
  const flexible = version >= FIRST_FLEXIBLE_VERSION
  response.int16(errorCode)
  response.flexibleArray(flexible, served, (writer, api) => {
    writer.int16(api.key).int16(api.minVersion).int16(api.maxVersion)
    if (flexible) writer.emptyTaggedFields()
  })
  if (version >= 1) response.int32(0)
  if (flexible) response.emptyTaggedFields()
}

export function isApiVersionsBeyondServed(apiKey: number, apiVersion: number): boolean {
  return apiKey === API_VERSIONS_KEY && apiVersion > MAX_VERSION
}
