/**
 * The physical limit beside the table: how fast this disk takes sequential writes when each
 * write is followed by fdatasync, as a log that flushes every batch does. Measured in the
 * scratch directory the servers use (same filesystem), in the same run as the systems.
 */
import {open, rm} from 'node:fs/promises'
import path from 'node:path'

/** Large writes: the streaming limit with a sync per MiB. */
const largeWriteBytes = 1 << 20
const largeTotalBytes = 256 << 20
/** Small writes: how many synced appends per second (the cost of fsync-per-batch durability). */
const smallWriteBytes = 4096
const smallWriteCount = 2000

export interface DiskRate {
  /** MB/s (10^6 bytes) writing 1 MiB blocks, fdatasync after each. */
  syncedSequentialMbPerSec: number
  /** fdatasync'd 4 KiB appends per second. */
  synced4KiBWritesPerSec: number
}

async function timeSyncedWrites(file: string, blockBytes: number, count: number): Promise<number> {
  const block = Buffer.alloc(blockBytes, 0x61)
  const handle = await open(file, 'w')
  try {
    const startNs = process.hrtime.bigint()
    for (let index = 0; index < count; index++) {
      await handle.write(block, 0, blockBytes, index * blockBytes)
      await handle.datasync()
    }
    return Number(process.hrtime.bigint() - startNs) / 1e9
  } finally {
    await handle.close()
    await rm(file, {force: true})
  }
}

export async function measureDisk(scratchDir: string): Promise<DiskRate> {
  const file = path.join(scratchDir, 'disk-probe.bin')
  const largeCount = largeTotalBytes / largeWriteBytes
  const largeSeconds = await timeSyncedWrites(file, largeWriteBytes, largeCount)
  const smallSeconds = await timeSyncedWrites(file, smallWriteBytes, smallWriteCount)
  return {
    syncedSequentialMbPerSec: largeTotalBytes / largeSeconds / 1e6,
    synced4KiBWritesPerSec: smallWriteCount / smallSeconds,
  }
}
