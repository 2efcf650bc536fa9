/**
 * Metadata's topics in cluster mode, over a stand-in catalog that refuses a missing topic the
 * way the cluster's does (it throws UNKNOWN_TOPIC for the whole call): each topic asked for
 * is answered on its own, the missing one with its error, the others with their partitions.
 * kafkajs asks for a missing topic with auto-creation off and waits for that error code.
 */
import {expect} from 'chai'
import {LignumError} from '../../src/errors.js'
import type {TopicDescription} from '../../src/generated/lignum/v1/lignum.js'
import {servingMetadataTopics} from '../../src/kafka/metadata-topics.js'
import type {ServingContext} from '../../src/server/serving-context.js'

function catalogOf(existing: string[]): ServingContext {
  const clusterTopics = {
    async metadataTopics(names: string[]): Promise<TopicDescription[]> {
      return names.map((name) => {
        if (!existing.includes(name)) throw new LignumError('UNKNOWN_TOPIC', `topic "${name}" does not exist; create it with: lignum topics create ${name}`)
        return {name, partitions: [], internal: false} as unknown as TopicDescription
      })
    },
  }
  return {clusterTopics} as unknown as ServingContext
}

describe('kafka Metadata topics in cluster mode', () => {
  it('answers a missing topic with UNKNOWN_TOPIC and the others with their descriptions, in the order asked', async () => {
    const answers = await servingMetadataTopics(catalogOf(['orders', 'audit'])).metadataTopics('User:anyone', ['orders', 'missing', 'audit'], false)
    expect(answers.map((answer) => [answer.name, answer.error?.code ?? 'found', answer.description?.name ?? null])).to.deep.equal([
      ['orders', 'found', 'orders'],
      ['missing', 'UNKNOWN_TOPIC', null],
      ['audit', 'found', 'audit'],
    ])
  })

  it('lets an error that is not a LignumError through, to close the connection as a bug', async () => {
    const context = {clusterTopics: {metadataTopics: () => Promise.reject(new TypeError('a bug'))}} as unknown as ServingContext
    const failure = await servingMetadataTopics(context).metadataTopics('User:anyone', ['orders'], false).then(() => undefined, (error: unknown) => error)
    expect(failure).to.be.instanceOf(TypeError)
  })
})
