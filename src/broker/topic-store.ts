/**
 * The durable list of topics a standalone node serves: `topics.json` in the data directory,
 * replaced atomically (write a temporary file, fsync, rename) so a crash leaves the old or the
 * new list, never half of one. The partition directories hold the data; this file holds what
 * cannot be read from them (the partition count of a topic with empty partitions, its settings).
 * A file that parses but holds a wrong type is refused at start, naming the file and field:
 * a node that starts on it would fail every request that touches the topic.
 */
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../errors.js'
import {replaceFileAtomically} from '../log/atomic-file.js'
import {validateTopicName} from '../log/topic-name.js'

export interface TopicSettings {
  retentionMs?: number
  retentionBytes?: number
  segmentBytes?: number
  segmentMs?: number
  flushPolicy?: 'always' | 'never' | number
}

export interface TopicRecord {
  name: string
  partitions: number
  settings: TopicSettings
  internal: boolean
  createdAtMs: number
}

const TOPICS_FILE = 'topics.json'
const TOPICS_FORMAT_VERSION = 1

export async function readTopicStore(dataDir: string): Promise<TopicRecord[]> {
  const file = path.join(dataDir, TOPICS_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (error) {
    throw damaged(file, (error as Error).message)
  }
  return topicsOf(document, file)
}

function damaged(file: string, why: string): LignumError {
  return new LignumError('DATA_DIR', `${file} is damaged (${why}); fix it, restore it from a backup, or remove it to rediscover topics from their partition directories`)
}

function isTopicName(name: string): boolean {
  try {
    validateTopicName(name)
    return true
  } catch {
    return false
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function topicsOf(document: unknown, file: string): TopicRecord[] {
  if (!isObject(document) || document.version !== TOPICS_FORMAT_VERSION || !Array.isArray(document.topics)) {
    throw damaged(file, `expected {"version": ${TOPICS_FORMAT_VERSION}, "topics": [...]}`)
  }
  return document.topics.map((topic, index) => checkTopicRecord(topic, `topics[${index}]`, file))
}

/** Every field of one topic, each with the type the broker relies on; the first wrong one is named. */
function checkTopicRecord(value: unknown, where: string, file: string): TopicRecord {
  const wrong = (field: string, found: unknown, expected: string) => damaged(file, `${where}${field} is ${JSON.stringify(found) ?? 'missing'}, expected ${expected}`)
  if (!isObject(value)) throw wrong('', value, 'an object')
  if (typeof value.name !== 'string' || !isTopicName(value.name)) throw wrong('.name', value.name, 'a topic name')
  if (!Number.isInteger(value.partitions) || (value.partitions as number) < 1) throw wrong('.partitions', value.partitions, 'a whole number from 1')
  if (typeof value.internal !== 'boolean') throw wrong('.internal', value.internal, 'true or false')
  if (typeof value.createdAtMs !== 'number' || !Number.isFinite(value.createdAtMs)) throw wrong('.createdAtMs', value.createdAtMs, 'a time in milliseconds')
  if (!isObject(value.settings)) throw wrong('.settings', value.settings, 'an object')
  const settings = value.settings
  const limits = {retentionMs: -1, retentionBytes: -1, segmentBytes: 1, segmentMs: 1} as const
  for (const [key, minimum] of Object.entries(limits)) {
    const setting = settings[key]
    if (setting !== undefined && (!Number.isSafeInteger(setting) || (setting as number) < minimum)) {
      throw wrong(`.settings.${key}`, setting, minimum < 0 ? 'a whole number, or -1 for no limit' : 'a positive whole number')
    }
  }
  const flush = settings.flushPolicy
  if (flush !== undefined && flush !== 'always' && flush !== 'never' && !(Number.isSafeInteger(flush) && (flush as number) > 0)) {
    throw wrong('.settings.flushPolicy', flush, '"always", "never" or a number of milliseconds')
  }
  return value as unknown as TopicRecord
}

export async function writeTopicStore(dataDir: string, topics: TopicRecord[]): Promise<void> {
  await replaceFileAtomically(path.join(dataDir, TOPICS_FILE), JSON.stringify({version: TOPICS_FORMAT_VERSION, topics}, null, 2) + '\n')
}
