/**
 * What the disk says, told to an operator: the errno a file operation fails with becomes a
 * LignumError naming the data directory and the fix. A full disk (ENOSPC, EDQUOT) is
 * STORAGE_FULL, retriable (space can come back), with what is free from statfs; a read-only
 * file system (EROFS) or a permission refused (EACCES, EPERM) is DATA_DIR. Anything else
 * (EIO, ...) passes through unchanged. Every STORAGE_FULL raised is counted, process-wide, for
 * the node's metrics.
 */
import {statfs} from 'node:fs/promises'
import {LignumError} from '../errors.js'
import {formatByteSize} from '../byte-size.js'

const FULL_CODES = new Set(['ENOSPC', 'EDQUOT'])
const READ_ONLY_CODES = new Set(['EROFS'])
const PERMISSION_CODES = new Set(['EACCES', 'EPERM'])

let storageFullErrors = 0

/** How many STORAGE_FULL errors this process raised: the metric `lignum_storage_full_errors_total`. */
export function storageFullErrorCount(): number {
  return storageFullErrors
}

function errnoOf(error: unknown): string | undefined {
  return error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined
}

export function isStorageFull(error: unknown): boolean {
  return FULL_CODES.has(errnoOf(error) ?? '')
}

/**
 * The error to answer with when a write under `dataDir` failed with `error`. `doing` says what
 * failed, e.g. "append to orders-0".
 */
export async function storageError(error: unknown, dataDir: string, doing: string): Promise<unknown> {
  if (error instanceof LignumError) return error
  const code = errnoOf(error)
  if (code === undefined) return error
  if (FULL_CODES.has(code)) {
    storageFullErrors++
    return new LignumError('STORAGE_FULL', `${doing} failed: the data directory ${dataDir} is full (${await freeSpace(dataDir)}); free space there (delete topics, lower retention) or give it more, then retry`, {cause: error})
  }
  return describeAccessError(error, dataDir) ?? error
}

/** DATA_DIR for a read-only or forbidden data directory, or null for any other error. */
export function describeAccessError(error: unknown, dataDir: string): LignumError | null {
  const code = errnoOf(error) ?? ''
  const file = (error as NodeJS.ErrnoException).path ?? dataDir
  if (READ_ONLY_CODES.has(code)) {
    return new LignumError('DATA_DIR', `cannot write ${file}: the data directory ${dataDir} is on a read-only file system`, {cause: error, hint: 'remount it read-write or choose another --data-dir'})
  }
  if (PERMISSION_CODES.has(code)) {
    return new LignumError('DATA_DIR', `cannot use ${file}: permission denied`, {cause: error, hint: `give the user running lignum read and write access to ${dataDir} (chown or chmod) or choose another --data-dir`})
  }
  return null
}

async function freeSpace(dataDir: string): Promise<string> {
  try {
    const info = await statfs(dataDir)
    return `${formatByteSize(info.bavail * info.bsize)} free of ${formatByteSize(info.blocks * info.bsize)}`
  } catch {
    return 'free space unknown'
  }
}
