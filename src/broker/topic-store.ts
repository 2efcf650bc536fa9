/**
 * The durable list of topics a standalone node serves: `topics.json` in the data directory,
 * replaced atomically (write a temporary file, fsync, rename) so a crash leaves the old or the
 * new list, never half of one. The partition directories hold the data; this file holds what
 * cannot be read from them (the partition count of a topic with empty partitions, its settings).
 */
import {open, readFile, rename} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../errors.js'

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
  try {
    const document = JSON.parse(text) as {version: number; topics: TopicRecord[]}
    if (document.version !== TOPICS_FORMAT_VERSION || !Array.isArray(document.topics)) throw new Error('unknown layout')
    return document.topics
  } catch (error) {
    throw new LignumError('DATA_DIR', `${file} is damaged (${(error as Error).message}); restore it from a backup or remove it to rediscover topics from their partition directories`)
  }
}

export async function writeTopicStore(dataDir: string, topics: TopicRecord[]): Promise<void> {
  const file = path.join(dataDir, TOPICS_FILE)
  const temporary = `${file}.tmp`
  const handle = await open(temporary, 'w')
  try {
    await handle.writeFile(JSON.stringify({version: TOPICS_FORMAT_VERSION, topics}, null, 2) + '\n')
    await handle.datasync()
  } finally {
    await handle.close()
  }
  await rename(temporary, file)
}
