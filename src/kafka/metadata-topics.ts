/**
 * Metadata's topics for a Kafka client, from the same sources and under the same rules as
 * the gRPC Metadata: the catalog in cluster mode, the broker standalone; a principal sees only
 * topics it may describe; auto-creation needs the right to create. A topic asked for by name
 * that is missing (or hidden from the principal) is answered with its error, as Kafka does.
 * Each named topic is looked up on its own, so one missing topic (the cluster's catalog
 * refuses it with UNKNOWN_TOPIC) is answered with that error and does not fail the request:
 * kafkajs asks for a missing topic with auto-creation off and expects its error code.
 */
import {LignumError} from '../errors.js'
import type {TopicDescription} from '../generated/lignum/v1/lignum.js'
import {topicToWire} from '../server/convert.js'
import {mayCreateTopic, topicResource} from '../server/authorization.js'
import type {ServingContext} from '../server/serving-context.js'
import type {MetadataTopicsSource, TopicAnswer} from './apis/metadata.js'

export function servingMetadataTopics(context: ServingContext): MetadataTopicsSource {
  return {
    async metadataTopics(principal, names, allowAutoTopicCreation) {
      const mayDescribe = (name: string) => !context.access || context.access.allows(principal, 'describe', topicResource(name))
      if (names === null) {
        const every = await describedTopics(context, [], false)
        return every.filter((topic) => !topic.internal && mayDescribe(topic.name)).map((topic) => ({name: topic.name, description: topic}))
      }
      const visible = names.filter(mayDescribe)
      const autoCreate = allowAutoTopicCreation && visible.every((name) => mayCreateTopic(context.access, principal, name))
      const found = context.clusterTopics ? await catalogTopicsByName(context.clusterTopics, visible, autoCreate) : new Map((await describedTopics(context, visible, autoCreate)).map((topic) => [topic.name, topic]))
      return names.map((name): TopicAnswer => {
        if (!mayDescribe(name)) return {name, error: new LignumError('PERMISSION_DENIED', `${principal} may not describe topic "${name}"`)}
        const description = found.get(name)
        if (description instanceof LignumError) return {name, error: description}
        return description ? {name, description} : {name, error: new LignumError('UNKNOWN_TOPIC', `topic "${name}" does not exist`)}
      })
    },
  }
}

type ClusterTopics = NonNullable<ServingContext['clusterTopics']>

/** Each name's description from the catalog, or the LignumError that refused it. */
async function catalogTopicsByName(clusterTopics: ClusterTopics, names: string[], autoCreate: boolean): Promise<Map<string, TopicDescription | LignumError>> {
  const answers = await Promise.all(names.map(async (name) => {
    try {
      const [topic] = await clusterTopics.metadataTopics([name], autoCreate)
      return [name, topic] as const
    } catch (error) {
      if (!(error instanceof LignumError)) throw error
      return [name, error] as const
    }
  }))
  const found = new Map<string, TopicDescription | LignumError>()
  for (const [name, answer] of answers) if (answer !== undefined) found.set(name, answer)
  return found
}

async function describedTopics(context: ServingContext, names: string[], autoCreate: boolean): Promise<TopicDescription[]> {
  if (context.clusterTopics) return context.clusterTopics.metadataTopics(names, autoCreate)
  const {broker} = context
  if (names.length === 0) return broker.listTopics().map((topic) => topicToWire(topic, context.nodeId))
  const topics: TopicDescription[] = []
  for (const name of names) {
    try {
      if (autoCreate) await broker.ensureTopic(name)
      if (broker.hasTopic(name)) topics.push(topicToWire(broker.describeTopic(name), context.nodeId))
    } catch (error) {
      // An invalid name or a refused auto-create leaves the topic out: it is answered as unknown.
      if (!(error instanceof LignumError)) throw error
    }
  }
  return topics
}
