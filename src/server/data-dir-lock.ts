/**
 * One server per data directory: `serve` takes `<dataDir>/.lock`, created exclusively and
 * holding its pid. A lock whose pid is no longer alive is stale (the holder was killed) and is
 * taken over; a live one refuses the start and names the holder. A data directory that cannot
 * be written (read-only file system, permissions) is refused here, first, with the fix.
 */
import {open, readFile, unlink} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../errors.js'
import {describeAccessError} from '../log/storage-errors.js'

const LOCK_FILE = '.lock'

export interface DataDirLock {
  release(): Promise<void>
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const file = path.join(dataDir, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx')
      await handle.writeFile(`${process.pid}\n`)
      await handle.close()
      let released = false
      return {
        async release() {
          if (released) return
          released = true
          await unlink(file).catch(() => {})
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw describeAccessError(error, dataDir) ?? error
      const holder = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10)
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new LignumError('LOCKED', `the data directory ${dataDir} is in use by another lignum process (pid ${holder})`, {hint: 'stop it or choose another --data-dir'})
      }
      await unlink(file).catch(() => {})
    }
  }
  throw new LignumError('LOCKED', `could not lock the data directory ${dataDir}; another process keeps taking ${LOCK_FILE}`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
