/**
 * A topic's settings as Kafka's config names spell them, both ways: CreateTopics' configs
 * become the TopicConfig gRPC's CreateTopic takes, and DescribeConfigs answers a topic's
 * settings by the same names.
 *
 * Lignum's flush policy maps onto Kafka's two flush configs: "always" is flush.messages=1,
 * a number of milliseconds is flush.ms, "never" is flush.ms at Kafka's own "never" (Long.MAX).
 * A name not in this table is refused (INVALID_CONFIG), never silently dropped.
 */
import {LignumError} from '../errors.js'
import type {TopicConfig, TopicDescription} from '../generated/lignum/v1/lignum.js'

// Kafka's default flush.ms, its spelling of "the OS decides".
const FLUSH_NEVER_MS = '9223372036854775807'

export interface KafkaTopicConfigs {
  config: TopicConfig
  minInsyncReplicas: number | undefined
}

export interface KafkaConfigEntry {
  name: string
  value: string
}

export function topicConfigFromKafka(entries: readonly {name: string; value: string | null}[]): KafkaTopicConfigs {
  const config: TopicConfig = {}
  let minInsyncReplicas: number | undefined
  for (const {name, value} of entries) {
    if (value === null) continue
    switch (name) {
      case 'retention.ms': config.retentionMs = wholeNumber(name, value); break
      case 'retention.bytes': config.retentionBytes = wholeNumber(name, value); break
      case 'segment.bytes': config.segmentBytes = wholeNumber(name, value); break
      case 'segment.ms': config.segmentMs = wholeNumber(name, value); break
      case 'min.insync.replicas': minInsyncReplicas = Number(wholeNumber(name, value)); break
      case 'flush.ms': config.flushPolicy = value === FLUSH_NEVER_MS ? 'never' : String(wholeNumber(name, value)); break
      case 'flush.messages':
        if (value !== '1') throw new LignumError('CONFIG', `flush.messages=${value} is not served: use flush.messages=1 (flush every write) or flush.ms`)
        config.flushPolicy = 'always'
        break
      default:
        throw new LignumError('CONFIG', `topic config "${name}" is not served; use retention.ms, retention.bytes, segment.bytes, segment.ms, min.insync.replicas, flush.ms or flush.messages`)
    }
  }
  return {config, minInsyncReplicas}
}

export function kafkaConfigsOf(topic: TopicDescription): KafkaConfigEntry[] {
  const config = topic.config ?? {}
  const entries: KafkaConfigEntry[] = []
  const add = (name: string, value: bigint | number | undefined) => {
    if (value !== undefined) entries.push({name, value: String(value)})
  }
  add('retention.ms', config.retentionMs)
  add('retention.bytes', config.retentionBytes)
  add('segment.bytes', config.segmentBytes)
  add('segment.ms', config.segmentMs)
  if (config.flushPolicy === 'always') entries.push({name: 'flush.messages', value: '1'})
  else if (config.flushPolicy === 'never') entries.push({name: 'flush.ms', value: FLUSH_NEVER_MS})
  else if (config.flushPolicy !== undefined) entries.push({name: 'flush.ms', value: config.flushPolicy})
  return entries
}

function wholeNumber(name: string, value: string): bigint {
  if (!/^-?[0-9]{1,19}$/.test(value)) throw new LignumError('CONFIG', `topic config ${name}="${value}" is not a whole number`)
  return BigInt(value)
}
