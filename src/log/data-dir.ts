/**
 * A data directory holds one `<topic>-<partition>` directory per partition. Listing it is
 * read-only. A path that does not exist, is not a directory, or holds nothing that looks like
 * Lignum data is a DATA_DIR error: a typo in --data-dir must never look like an empty log.
 */
import {readdir, stat} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../errors.js'
import {describeAccessError} from './storage-errors.js'
import {parsePartitionDirName} from './topic-name.js'

export interface PartitionLocation {
  topic: string
  partition: number
  dir: string
}

export async function listPartitions(dataDir: string, options: {allowEmpty?: boolean} = {}): Promise<PartitionLocation[]> {
  const info = await stat(dataDir).catch(() => null)
  if (info === null) throw new LignumError('DATA_DIR', `data directory ${dataDir} does not exist`, {hint: 'give the --data-dir a server wrote to'})
  if (!info.isDirectory()) throw new LignumError('DATA_DIR', `${dataDir} is not a directory`, {hint: 'give the --data-dir a server wrote to'})
  const partitions: PartitionLocation[] = []
  const entries = await readdir(dataDir, {withFileTypes: true}).catch((error: unknown) => {
    throw describeAccessError(error, dataDir) ?? error
  })
  for (const entry of entries) {
    if (!entry.isDirectory()) continue
    const name = parsePartitionDirName(entry.name)
    if (name !== null) partitions.push({...name, dir: path.join(dataDir, entry.name)})
  }
  if (partitions.length === 0 && !options.allowEmpty) {
    throw new LignumError('DATA_DIR', `${dataDir} holds no partition directories (<topic>-<partition>); it is not a Lignum data directory`)
  }
  return partitions.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
}
