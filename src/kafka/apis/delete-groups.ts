/**
 * DeleteGroups (key 42), versions 0-2: deletes groups and their committed offsets, for
 * `kafka-consumer-groups --delete`.
 *
 *   Request:  groups_names ARRAY[STRING]                              (flexible from v2)
 *   Response: throttle_time_ms INT32, results ARRAY[group_id STRING, error_code INT16]
 *                                                                     (flexible from v2)
 *
 * As gRPC's DeleteGroup, one group at a time: delete on the group (GROUP_AUTHORIZATION_FAILED),
 * NON_EMPTY_GROUP while it has live members, GROUP_ID_NOT_FOUND for a group with neither
 * offsets nor members. Each group's result stands alone: one refusal does not stop the rest.
 */
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {deleteOneGroup, groupAdminErrorCodeOf, requireGroupOperation} from '../group-admin-routing.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'

export function deleteGroupsApi(): KafkaApi<KafkaContext> {
  return {
    key: 42,
    name: 'DeleteGroups',
    minVersion: 0,
    maxVersion: 2,
    firstFlexibleVersion: 2,
    async handle(request, response) {
      const {body, flexible} = request
      const groups = body.flexibleArray(flexible, (reader) => reader.flexibleString(flexible))
      if (flexible) body.skipTaggedFields()
      const results: {group: string; error: number}[] = []
      for (const group of groups) {
        try {
          requireGroupOperation(request.context.serving, request.principal, group, 'delete')
          await deleteOneGroup(request.context.serving, group)
          results.push({group, error: KafkaErrorCode.NONE})
        } catch (caught) {
          results.push({group, error: groupAdminErrorCodeOf(caught)})
        }
      }
      response.int32(0)
      response.flexibleArray(flexible, results, (writer, result) => {
        writer.flexibleString(flexible, result.group).int16(result.error)
        if (flexible) writer.emptyTaggedFields()
      })
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}
