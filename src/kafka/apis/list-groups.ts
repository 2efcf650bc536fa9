/**
 * ListGroups (key 16), versions 0-4: the consumer groups, for `kafka-consumer-groups --list`.
 *
 *   Request:  states_filter ARRAY[STRING] (v4+)                       (flexible from v3)
 *   Response: throttle_time_ms INT32 (v1+), error_code INT16, groups ARRAY[group_id STRING,
 *             protocol_type STRING, group_state STRING (v4+)]         (flexible from v3)
 *
 * As gRPC's ListGroups: standalone the broker's groups, in cluster mode every coordinator's;
 * only groups the principal may describe are shown. Every Lignum group is a consumer group,
 * so the protocol type is "consumer". An empty states filter is every state, as in Kafka.
 * v5+ (a types filter) are not offered.
 */
import {CONSUMER_PROTOCOL_TYPE} from '../../format/consumer-protocol.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {groupAdminErrorCodeOf, listVisibleGroups} from '../group-admin-routing.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'
import type {GroupListing} from '../../generated/lignum/v1/lignum.js'

const FIRST_THROTTLE_VERSION = 1
const FIRST_STATES_VERSION = 4

export function listGroupsApi(): KafkaApi<KafkaContext> {
  return {
    key: 16,
    name: 'ListGroups',
    minVersion: 0,
    maxVersion: 4,
    firstFlexibleVersion: 3,
    async handle(request, response) {
      const {body, flexible} = request
      const version = request.header.apiVersion
      const states = version >= FIRST_STATES_VERSION ? body.flexibleArray(flexible, (reader) => reader.flexibleString(flexible)) : []
      if (flexible) body.skipTaggedFields()
      let error: number = KafkaErrorCode.NONE
      let groups: GroupListing[] = []
      try {
        const wanted = new Set(states.map((state) => state.toLowerCase()))
        groups = (await listVisibleGroups(request.context.serving, request.principal)).filter((listing) => wanted.size === 0 || wanted.has(listing.state.toLowerCase()))
      } catch (caught) {
        error = groupAdminErrorCodeOf(caught)
      }
      if (version >= FIRST_THROTTLE_VERSION) response.int32(0)
      response.int16(error)
      response.flexibleArray(flexible, groups, (writer, listing) => {
        writer.flexibleString(flexible, listing.group).flexibleString(flexible, CONSUMER_PROTOCOL_TYPE)
        if (version >= FIRST_STATES_VERSION) writer.flexibleString(flexible, listing.state)
        if (flexible) writer.emptyTaggedFields()
      })
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}
