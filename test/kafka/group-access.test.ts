import {expect} from 'chai'
import {LignumError} from '../../src/errors.js'
import {groupErrorCodeOf, requireGroupConsume} from '../../src/kafka/group-access.js'
import {KafkaErrorCode} from '../../src/kafka/kafka-error-codes.js'
import type {ServingContext} from '../../src/server/serving-context.js'

// Access control that allows only what `allowed` names, as "operation type:name".
function contextAllowing(...allowed: string[]): ServingContext {
  const access = {allows: (_principal: string, operation: string, resource: {type: string; name: string}) => allowed.includes(`${operation} ${resource.type}:${resource.name}`)}
  return {access} as unknown as ServingContext
}

function codeOfRefusal(context: ServingContext, group: string): number {
  try {
    requireGroupConsume(context, 'User:reader', group)
    return KafkaErrorCode.NONE
  } catch (error) {
    return groupErrorCodeOf(error)
  }
}

describe('kafka group access', () => {
  it('a group the principal may not consume is GROUP_AUTHORIZATION_FAILED, one it may is allowed', () => {
    const context = contextAllowing('consume group:readers')
    expect(codeOfRefusal(context, 'readers')).to.equal(KafkaErrorCode.NONE)
    expect(codeOfRefusal(context, 'writers')).to.equal(KafkaErrorCode.GROUP_AUTHORIZATION_FAILED)
  })

  it('retriable failures are COORDINATOR_NOT_AVAILABLE, so a Kafka client finds the coordinator again; the group errors stay themselves', () => {
    expect(groupErrorCodeOf(new LignumError('UNAVAILABLE', 'the coordinator is unreachable'))).to.equal(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE)
    expect(groupErrorCodeOf(new LignumError('NOT_ENOUGH_REPLICAS', 'the offsets partition lacks replicas'))).to.equal(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE)
    expect(groupErrorCodeOf(new LignumError('NOT_COORDINATOR', 'moved'))).to.equal(KafkaErrorCode.NOT_COORDINATOR)
    expect(groupErrorCodeOf(new LignumError('ILLEGAL_GENERATION', 'stale'))).to.equal(KafkaErrorCode.ILLEGAL_GENERATION)
    expect(groupErrorCodeOf(new LignumError('UNKNOWN_TOPIC', 'gone'))).to.equal(KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    expect(groupErrorCodeOf(new Error('a bug'))).to.equal(KafkaErrorCode.UNKNOWN_SERVER_ERROR)
  })
})
