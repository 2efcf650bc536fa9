/**
 * The simulated disk under a replica's segment files (Partition's `openFile` seam): files of
 * the in-memory file system (memory-file-system.ts), with every handle's datasync noted, so a power loss can drop what was
 * never synced — each segment file cut back to its size at its last datasync (a file never
 * synced keeps nothing). Beside it, the two crash faults on the files: a torn write (a partial
 * batch after the last whole one) and a flipped bit in a closed segment.
 *
 * Invariant: a file's synced size is never more than what was written to it when it was synced.
 */
import path from 'node:path'
import type {OpenFile} from '../src/log/segment-handles.js'
import type {MemoryFileHandle, MemoryFileSystem} from './memory-file-system.js'
import type {Prng} from './prng.js'

export class SimDisk {
  /** File path -> bytes known to be on disk (its size at its last datasync). */
  private readonly synced = new Map<string, number>()
  /** Every handle opened since the last crash, so a crash can close them without a flush. */
  private readonly handles = new Set<MemoryFileHandle>()

  constructor(private readonly files: MemoryFileSystem) {}

  readonly openFile: OpenFile = async (file, flags) => {
    const handle = await this.files.open(file, flags)
    this.handles.add(handle)
    handle.onSynced = (sizeBytes) => this.synced.set(file, sizeBytes)
    return handle
  }

  /** kill -9: the process's file handles close with nothing flushed or trimmed. */
  async crashClose(): Promise<void> {
    const handles = [...this.handles]
    this.handles.clear()
    for (const handle of handles) await handle.close().catch(() => {})
  }

  /** Power loss: every segment file loses what was written since its last datasync. */
  async loseUnsynced(dir: string): Promise<string[]> {
    const cut: string[] = []
    for (const name of (await this.files.readdir(dir)).filter((entry) => entry.endsWith('.log')).sort()) {
      const file = path.join(dir, name)
      const size = (await this.files.stat(file)).size
      const keep = Math.min(this.synced.get(file) ?? 0, size)
      if (keep < size) {
        const handle = await this.files.open(file, 'r+')
        await handle.truncate(keep)
        await handle.close()
        cut.push(`${name} ${size}->${keep}`)
      }
    }
    this.synced.clear()
    return cut
  }
}

/** A write cut short by the crash: random bytes after the last whole batch of the active segment. */
export async function tearTail(files: MemoryFileSystem, dir: string, bytes: number, prng: Prng): Promise<void> {
  const active = (await segmentFiles(files, dir)).at(-1)
  if (!active) return
  const junk = Buffer.alloc(bytes)
  for (let index = 0; index < bytes; index++) junk[index] = prng.int(0, 255)
  const handle = await files.open(active, 'a')
  try {
    await handle.write(junk, 0, junk.length)
  } finally {
    await handle.close()
  }
}

/** Flips one bit somewhere in a closed (not the newest) segment; returns which, or null when there is none. */
export async function flipBit(files: MemoryFileSystem, dir: string, prng: Prng): Promise<string | null> {
  const closed = (await segmentFiles(files, dir)).slice(0, -1).filter(Boolean)
  if (closed.length === 0) return null
  const file = prng.pick(closed)
  const size = (await files.stat(file)).size
  if (size === 0) return null
  const position = prng.int(0, size - 1)
  const handle = await files.open(file, 'r+')
  try {
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, position)
    byte[0] ^= 1 << prng.int(0, 7)
    await handle.write(byte, 0, 1, position)
  } finally {
    await handle.close()
  }
  return `${path.basename(file)} byte ${position}`
}

async function segmentFiles(files: MemoryFileSystem, dir: string): Promise<string[]> {
  return (await files.readdir(dir)).filter((name) => name.endsWith('.log')).sort().map((name) => path.join(dir, name))
}
