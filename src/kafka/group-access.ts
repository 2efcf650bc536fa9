/**
 * The group APIs' authorization, the rule gRPC's group handlers apply (group-handlers.ts):
 * every group request needs consume on the group, as Kafka's need READ on it; a commit needs
 * consume on each topic too, and a fetch shows only topics the principal may describe.
 *
 * A refusal on the group is Kafka's GROUP_AUTHORIZATION_FAILED (the error table's
 * PERMISSION_DENIED names TOPIC_AUTHORIZATION_FAILED, which would send a client looking at its
 * topics); a refusal on a topic is TOPIC_AUTHORIZATION_FAILED, through the table.
 *
 * A retriable failure on the way to the group's coordinator or its offsets (the coordinator
 * unreachable, an offsets write without its replicas, a timeout) is COORDINATOR_NOT_AVAILABLE,
 * as Kafka's group coordinator answers its own write failures: a Kafka client looks the
 * coordinator up again and retries on that code, but treats codes such as
 * LEADER_NOT_AVAILABLE in a group response as fatal. NOT_COORDINATOR stays itself.
 */
import {groupResource, permissionDenied, topicResource} from '../server/authorization.js'
import type {ServingContext} from '../server/serving-context.js'
import {KafkaErrorCode} from './kafka-error-codes.js'
import {kafkaErrorCodeOf} from './kafka-errors.js'
import {errorTable, LignumError} from '../errors.js'

/** Thrown by requireGroupConsume; the group APIs answer it with GROUP_AUTHORIZATION_FAILED. */
export class GroupRefused extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message)
    this.name = 'GroupRefused'
  }
}

export function requireGroupConsume(context: ServingContext, principal: string, group: string): void {
  const {access} = context
  if (access && !access.allows(principal, 'consume', groupResource(group))) throw new GroupRefused(permissionDenied(principal, 'consume', groupResource(group)))
}

export function mayConsumeTopic(context: ServingContext, principal: string, topic: string): boolean {
  return !context.access || context.access.allows(principal, 'consume', topicResource(topic))
}

export function mayDescribeTopic(context: ServingContext, principal: string, topic: string): boolean {
  return !context.access || context.access.allows(principal, 'describe', topicResource(topic))
}

/** The Kafka code of a group request's failure: the group refusal's own, else the error table's. */
export function groupErrorCodeOf(error: unknown): number {
  if (error instanceof GroupRefused) return KafkaErrorCode.GROUP_AUTHORIZATION_FAILED
  if (error instanceof LignumError && error.code !== 'NOT_COORDINATOR' && errorTable[error.code].retriable) return KafkaErrorCode.COORDINATOR_NOT_AVAILABLE
  return kafkaErrorCodeOf(error)
}
