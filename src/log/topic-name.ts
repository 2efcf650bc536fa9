/**
 * Topic names as Kafka allows them, checked at the lowest layer so that no name can ever
 * reach outside the data directory: 1 to 249 characters of [A-Za-z0-9._-], never "." or "..".
 * A partition lives in the directory "<topic>-<partition>".
 */
import {LignumError} from '../errors.js'

/** Kafka's limit: 255 minus room for "-<partition>" and the suffixes it adds to directory names. */
export const TOPIC_NAME_LENGTH_MAX = 249
/** Partition numbers are int32 in Kafka's protocol. */
export const PARTITION_MAX = 0x7fff_ffff

const TOPIC_NAME_PATTERN = /^[A-Za-z0-9._-]+$/
const PARTITION_DIR_PATTERN = /^([A-Za-z0-9._-]+)-(0|[1-9][0-9]*)$/

export function validateTopicName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new LignumError('INVALID_TOPIC', 'topic name is empty; give 1 to 249 characters of letters, digits, ".", "_" or "-"')
  }
  if (name.length > TOPIC_NAME_LENGTH_MAX) {
    throw new LignumError('INVALID_TOPIC', `topic name is ${name.length} characters long; shorten it to at most ${TOPIC_NAME_LENGTH_MAX}`)
  }
  if (name === '.' || name === '..') {
    throw new LignumError('INVALID_TOPIC', `topic name "${name}" is not allowed; choose a name other than "." or ".."`)
  }
  if (!TOPIC_NAME_PATTERN.test(name)) {
    throw new LignumError('INVALID_TOPIC', `topic name ${JSON.stringify(name)} has characters outside [A-Za-z0-9._-]; use only letters, digits, ".", "_" and "-"`)
  }
}

export function validatePartition(partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition > PARTITION_MAX) {
    throw new LignumError('INVALID_ARGUMENT', `partition ${partition} is not a whole number from 0 to ${PARTITION_MAX}`)
  }
}

export function partitionDirName(topic: string, partition: number): string {
  validateTopicName(topic)
  validatePartition(partition)
  return `${topic}-${partition}`
}

export function parsePartitionDirName(name: string): {topic: string; partition: number} | null {
  const match = PARTITION_DIR_PATTERN.exec(name)
  if (!match) return null
  const topic = match[1]
  const partition = Number(match[2])
  if (topic.length > TOPIC_NAME_LENGTH_MAX || topic === '.' || topic === '..' || partition > PARTITION_MAX) return null
  return {topic, partition}
}
