/**
 * Small real file systems for tests of a full or read-only disk: a tmpfs of a given size,
 * mounted on a fresh temporary directory (the tests run as root; mount needs it). Where mount is
 * impossible the test fails saying why: a disk-full test that quietly does not run proves nothing.
 */
import {execFile} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

const run = promisify(execFile)

export interface Tmpfs {
  dir: string
  remount(options: string): Promise<void>
  unmount(): Promise<void>
}

export async function mountTmpfs(options: string): Promise<Tmpfs> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-tmpfs-'))
  try {
    await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir])
  } catch (error) {
    await rm(dir, {recursive: true, force: true})
    throw new Error(`cannot mount a tmpfs (${(error as Error).message.trim()}); this test needs root or CAP_SYS_ADMIN`)
  }
  return {
    dir,
    remount: async (remountOptions) => {
      await run('mount', ['-o', `remount,${remountOptions}`, dir])
    },
    unmount: async () => {
      await run('umount', ['-l', dir]).catch(() => {})
      await rm(dir, {recursive: true, force: true})
    },
  }
}
