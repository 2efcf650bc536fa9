/**
 * A topic's settings to and from the wire's TopicConfig, one mapping for the client (which
 * sends and shows them) and the node (which checks and stores them). The whole-number
 * settings are int64 on the wire and numbers on either side; the flush policy is text on the
 * wire ("always", "never", or a number of milliseconds). A setting added to the proto is
 * added here once.
 *
 * What a number past 2^53 (or out of a setting's range) means belongs to the side reading it:
 * the node refuses the request, the client takes it for a node's bug. So the reading half
 * takes the side's own conversion.
 */
import type {TopicConfig} from '../generated/lignum/v1/lignum.js'

/** TopicConfig's int64 settings, in the order a node checks them (the first bad one is named). */
export const TOPIC_NUMBER_SETTINGS = ['retentionMs', 'retentionBytes', 'segmentBytes', 'segmentMs'] as const
export type TopicNumberSetting = (typeof TOPIC_NUMBER_SETTINGS)[number]

/** Each int64 setting's field name in lignum.proto, for messages that name the field a user sent. */
export const TOPIC_NUMBER_PROTO_FIELDS: Readonly<Record<TopicNumberSetting, string>> = {
  retentionMs: 'retention_ms',
  retentionBytes: 'retention_bytes',
  segmentBytes: 'segment_bytes',
  segmentMs: 'segment_ms',
}

export type TopicNumberSettings = {[setting in TopicNumberSetting]?: number}

/** Settings as either side holds them before they go on the wire; absent ones stay absent. */
export interface TopicSettingValues extends TopicNumberSettings {
  /** "always", "never", or fdatasync every N ms (as text or as the number). */
  flushPolicy?: string | number
  uncleanLeaderElection?: boolean
}

export function isTopicNumberSetting(key: string): key is TopicNumberSetting {
  return (TOPIC_NUMBER_SETTINGS as readonly string[]).includes(key)
}

export function topicConfigOf(settings: TopicSettingValues): TopicConfig {
  const config: TopicConfig = {}
  for (const setting of TOPIC_NUMBER_SETTINGS) {
    const value = settings[setting]
    config[setting] = value === undefined ? undefined : BigInt(value)
  }
  config.flushPolicy = settings.flushPolicy === undefined ? undefined : String(settings.flushPolicy)
  config.uncleanLeaderElection = settings.uncleanLeaderElection
  return config
}

/** The int64 settings a TopicConfig carries, each through `numberOf`, which throws for a value its side refuses. */
export function topicNumberSettingsOf(config: TopicConfig, numberOf: (value: bigint, setting: TopicNumberSetting) => number): TopicNumberSettings {
  const settings: TopicNumberSettings = {}
  for (const setting of TOPIC_NUMBER_SETTINGS) {
    const value = config[setting]
    if (value !== undefined) settings[setting] = numberOf(value, setting)
  }
  return settings
}
