/**
 * InitProducerId (key 22), versions 0-4: an idempotent producer's id and epoch.
 *
 *   Request:  transactional_id NULLABLE_STRING, transaction_timeout_ms INT32,
 *             producer_id INT64 (v3+), producer_epoch INT16 (v3+)      (flexible from v2)
 *   Response: throttle_time_ms INT32, error_code INT16, producer_id INT64,
 *             producer_epoch INT16                                      (flexible from v2)
 *
 * Ids come from where gRPC's InitProducerId takes them: the cluster's blocks in Consul, or a
 * standalone node's random 48-bit ids (as Lignum's own client draws). A producer that sends its
 * current id and epoch back (KIP-360, after a sequence error) gets a new id, as Kafka answers a
 * producer without a transactional id: bumping the epoch of an id the sender names would let
 * anyone fence another producer. Transactions are not served: a transactional_id is refused
 * with INVALID_REQUEST.
 *
 * Access is gRPC's InitProducerId rule (Kafka 3's): produce on some topic. A refusal is Kafka's
 * CLUSTER_AUTHORIZATION_FAILED, as Kafka answers an idempotent producer without IDEMPOTENT_WRITE
 * on the cluster nor WRITE on any topic; each produce is then checked on its own topic.
 */
import {randomBytes} from 'node:crypto'
import {LignumError} from '../../errors.js'
import {mayProduceNowhere} from '../../server/authorization.js'
import type {KafkaApi} from '../kafka-api.js'
import type {KafkaContext} from '../kafka-context.js'
import {kafkaErrorCodeOf} from '../kafka-errors.js'
import {KafkaErrorCode} from '../kafka-error-codes.js'

const FIRST_CURRENT_ID_VERSION = 3
const STANDALONE_PRODUCER_ID_BYTES = 6

export function initProducerIdApi(): KafkaApi<KafkaContext> {
  return {
    key: 22,
    name: 'InitProducerId',
    minVersion: 0,
    maxVersion: 4,
    firstFlexibleVersion: 2,
    async handle(request, response) {
      const {body, flexible} = request
      const transactionalId = body.flexibleNullableString(flexible)
      body.int32()
      if (request.header.apiVersion >= FIRST_CURRENT_ID_VERSION) {
        body.int64()
        body.int16()
      }
      if (flexible) body.skipTaggedFields()
      let answer: {id: number; epoch: number; error: number}
      try {
        if (transactionalId !== null) throw new LignumError('INVALID_ARGUMENT', `transactions are not supported (transactional.id "${transactionalId}")`)
        const {access} = request.context.serving
        if (access && !access.allowsSomewhere(request.principal, 'produce', 'topic')) throw mayProduceNowhere(request.principal)
        answer = {id: await newProducerId(request.context), epoch: 0, error: KafkaErrorCode.NONE}
      } catch (error) {
        answer = {id: -1, epoch: -1, error: initProducerIdErrorCodeOf(error)}
      }
      response.int32(0).int16(answer.error).int64(answer.id).int16(answer.epoch)
      if (flexible) response.emptyTaggedFields()
      return true
    },
  }
}

function initProducerIdErrorCodeOf(error: unknown): number {
  if (error instanceof LignumError && error.code === 'PERMISSION_DENIED') return KafkaErrorCode.CLUSTER_AUTHORIZATION_FAILED
  return kafkaErrorCodeOf(error)
}

function newProducerId(context: KafkaContext): Promise<number> {
  const {producerIds} = context.serving
  if (producerIds) return producerIds.nextId()
  return Promise.resolve(randomBytes(STANDALONE_PRODUCER_ID_BYTES).readUIntBE(0, STANDALONE_PRODUCER_ID_BYTES))
}
