/**
 * The admin APIs that create, delete and describe topics and describe the cluster, registered
 * together so the listener's wiring names them once.
 */
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {createTopicsApi} from './create-topics.js'
import {deleteTopicsApi} from './delete-topics.js'
import {describeClusterApi} from './describe-cluster.js'
import {describeConfigsApi} from './describe-configs.js'

export function topicAdminApis(): KafkaApi<KafkaContext>[] {
  return [createTopicsApi(), deleteTopicsApi(), describeConfigsApi(), describeClusterApi()]
}
