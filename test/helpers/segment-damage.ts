/**
 * Damage only a CRC can tell, for tests of what a node does with a bad disk (and for the fault
 * suite): one bit flipped in a segment file, by default in the last value byte of the first
 * batch of a partition directory's first segment.
 */
import {expect} from 'chai'
import {open, readdir} from 'node:fs/promises'
import path from 'node:path'

// Batch header: base offset (8 bytes), then the batch length (4 bytes) from byte 8.
const BATCH_LENGTH_FIELD_END = 12

/** Flips the bit; the directory must hold closed segments (more than two .log files) so the flip lands below the active one. */
export async function flipBitInFirstSegment(partitionDir: string): Promise<void> {
  const logs = (await readdir(partitionDir)).filter((name) => name.endsWith('.log')).sort()
  expect(logs.length, 'closed segments').to.be.greaterThan(2)
  const file = path.join(partitionDir, logs[0]!)
  const header = Buffer.alloc(BATCH_LENGTH_FIELD_END)
  const handle = await open(file, 'r')
  try {
    await handle.read(header, 0, BATCH_LENGTH_FIELD_END, 0)
  } finally {
    await handle.close()
  }
  await flipBitAt(file, BATCH_LENGTH_FIELD_END + header.readInt32BE(8) - 2)
}

/** Flips the lowest bit of the byte at `position` of `file`, in place. */
export async function flipBitAt(file: string, position: number): Promise<void> {
  const handle = await open(file, 'r+')
  try {
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, position)
    byte[0]! ^= 1
    await handle.write(byte, 0, 1, position)
  } finally {
    await handle.close()
  }
}
