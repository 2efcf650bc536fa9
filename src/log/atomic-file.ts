/**
 * Replacing a small file so that a crash or a power loss leaves the old contents or the new,
 * never a mix and never nothing: write `<file>.tmp`, fsync it, rename it over `<file>`, fsync
 * the directory (the rename is only durable once the directory entry is). A write that fails
 * removes the temporary file and leaves `<file>` as it was. Used by every checkpoint: the
 * leader-epoch checkpoint, the recovery point, the high-watermark checkpoint, producer
 * snapshots, topics.json.
 *
 * Replacements of one file run one after another, in the order they were asked for (so the
 * last one asked for is what stays): two at once would share the temporary file, and one of
 * them would rename it away under the other. A periodic flush and close() both write the
 * recovery point, for instance.
 */
import path from 'node:path'
import {fileSystem, type LogFileHandle} from './file-system.js'

/** The file operations used, replaceable in tests to count syncs or make a write fail. */
export interface AtomicFileIo {
  open(file: string, flags: string): Promise<LogFileHandle>
  rename(from: string, to: string): Promise<void>
  unlink(file: string): Promise<void>
}

/** The installed file system's (node:fs unless the simulator installed its own). */
export const nodeAtomicFileIo: AtomicFileIo = {
  open: (file, flags) => fileSystem().open(file, flags),
  rename: (from, to) => fileSystem().rename(from, to),
  unlink: (file) => fileSystem().unlink(file),
}

let defaultIo = nodeAtomicFileIo

/** Tests: every replacement without an explicit `io` goes through `io` until the returned undo runs. */
export function useAtomicFileIo(io: AtomicFileIo): () => void {
  defaultIo = io
  return () => {
    defaultIo = nodeAtomicFileIo
  }
}

/** The last replacement asked for, by file, while one runs: the next waits for it. */
const replacing = new Map<string, Promise<void>>()

export function replaceFileAtomically(file: string, contents: string | Buffer, io: AtomicFileIo = defaultIo): Promise<void> {
  const previous = replacing.get(file) ?? Promise.resolve()
  const replaced = previous.catch(() => {}).then(() => replaceNow(file, contents, io))
  replacing.set(file, replaced)
  const forget = () => {
    if (replacing.get(file) === replaced) replacing.delete(file)
  }
  replaced.then(forget, forget)
  return replaced
}

async function replaceNow(file: string, contents: string | Buffer, io: AtomicFileIo): Promise<void> {
  const temporary = `${file}.tmp`
  try {
    const handle = await io.open(temporary, 'w')
    try {
      await handle.writeFile(contents)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await io.rename(temporary, file)
  } catch (error) {
    await io.unlink(temporary).catch(() => {})
    throw error
  }
  await syncDirectory(path.dirname(file), io)
}

/** Makes the directory's entries (new, renamed or removed files) survive a power loss. */
export async function syncDirectory(dir: string, io: Pick<AtomicFileIo, 'open'> = nodeAtomicFileIo): Promise<void> {
  const handle = await io.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
