/**
 * Damage only a CRC can tell, for tests of what a node does with a bad disk: one bit flipped
 * in the last value byte of the first batch of a partition directory's first segment.
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
  const handle = await open(path.join(partitionDir, logs[0]!), 'r+')
  try {
    const header = Buffer.alloc(BATCH_LENGTH_FIELD_END)
    await handle.read(header, 0, BATCH_LENGTH_FIELD_END, 0)
    const position = BATCH_LENGTH_FIELD_END + header.readInt32BE(8) - 2
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, position)
    byte[0]! ^= 1
    await handle.write(byte, 0, 1, position)
  } finally {
    await handle.close()
  }
}
