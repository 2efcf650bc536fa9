/**
 * The group tooling's Kafka APIs (`kafka-consumer-groups --list/--describe/--delete`),
 * registered together so the listener's list of APIs changes in one place.
 */
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {deleteGroupsApi} from './delete-groups.js'
import {describeGroupsApi} from './describe-groups.js'
import {listGroupsApi} from './list-groups.js'

export function groupAdminApis(): KafkaApi<KafkaContext>[] {
  return [listGroupsApi(), describeGroupsApi(), deleteGroupsApi()]
}
