/**
 * DescribeCluster (key 60), versions 0-1: the cluster's id, its controller and its brokers, as
 * Metadata names them (the up nodes with a Kafka listener, by broker id).
 *
 *   Request:  include_cluster_authorized_operations BOOLEAN, endpoint_type INT8 (v1+)
 *   Response: throttle_time_ms INT32, error_code INT16, error_message COMPACT_NULLABLE_STRING,
 *             endpoint_type INT8 (v1+), cluster_id COMPACT_STRING, controller_id INT32,
 *             brokers COMPACT_ARRAY[broker_id INT32, host COMPACT_STRING, port INT32,
 *             rack COMPACT_NULLABLE_STRING], cluster_authorized_operations INT32
 *                                                                  (flexible in every version)
 */
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'

const ENDPOINT_TYPE_BROKERS = 1
// Kafka's INT32_MIN: authorized operations were not asked for or are not computed.
const AUTHORIZED_OPERATIONS_OMITTED = -2_147_483_648

export function describeClusterApi(): KafkaApi<KafkaContext> {
  return {
    key: 60,
    name: 'DescribeCluster',
    minVersion: 0,
    maxVersion: 1,
    firstFlexibleVersion: 0,
    handle(request, response) {
      const {body, context} = request
      const version = request.header.apiVersion
      body.boolean()
      if (version >= 1) body.int8()
      body.skipTaggedFields()
      const view = context.serving.clusterView()
      response.int32(0).int16(KafkaErrorCode.NONE).compactNullableString(null)
      if (version >= 1) response.int8(ENDPOINT_TYPE_BROKERS)
      response.compactNullableString(view.cluster).int32(view.controller === null ? -1 : context.brokerIdOf(view.controller))
      response.flexibleArray(true, context.brokers(), (writer, broker) => {
        writer.int32(broker.brokerId).compactNullableString(broker.host).int32(broker.port).compactNullableString(null).emptyTaggedFields()
      })
      response.int32(AUTHORIZED_OPERATIONS_OMITTED).emptyTaggedFields()
      return true
    },
  }
}
