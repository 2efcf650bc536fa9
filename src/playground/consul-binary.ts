/**
 * Which `consul` the playground runs: LIGNUM_CONSUL_BIN when set, else the build that
 * scripts/ensure-consul caches (`${XDG_CACHE_HOME:-~/.cache}/lignum/consul/<version>/consul`,
 * the newest version there), else `consul` on PATH. The playground never builds Consul itself:
 * that takes minutes and a Go toolchain, which is the script's job, so a machine with none of
 * the three gets one line saying how to get one.
 */
import {access, constants, readdir} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {LignumError} from '../errors.js'

export async function findConsulBinary(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.LIGNUM_CONSUL_BIN
  if (fromEnv) {
    if (!(await isExecutable(fromEnv))) throw new LignumError('CONFIG', `LIGNUM_CONSUL_BIN=${fromEnv} is not an executable file; point it at a consul binary or unset it`)
    return fromEnv
  }
  const found = (await cachedBuild(env)) ?? (await onPath('consul', env))
  if (found === undefined) {
    throw new LignumError('CONFIG', 'no consul binary found: run scripts/ensure-consul (it builds and caches one), put consul on PATH, or set LIGNUM_CONSUL_BIN')
  }
  return found
}

/** The newest cached build of scripts/ensure-consul, by version directory name. */
async function cachedBuild(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const cacheRoot = path.join(env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache'), 'lignum', 'consul')
  const versions = await readdir(cacheRoot).catch(() => [] as string[])
  for (const version of versions.sort(compareVersionsDescending)) {
    const candidate = path.join(cacheRoot, version, 'consul')
    if (await isExecutable(candidate)) return candidate
  }
  return undefined
}

async function onPath(command: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const directory of (env.PATH ?? '').split(path.delimiter)) {
    if (directory === '') continue
    const candidate = path.join(directory, command)
    if (await isExecutable(candidate)) return candidate
  }
  return undefined
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** "1.14.11" before "1.9.3": numeric by dotted part; names that are not versions last. */
function compareVersionsDescending(a: string, b: string): number {
  const parts = (version: string) => version.split('.').map((part) => Number.parseInt(part, 10))
  const [left, right] = [parts(a), parts(b)]
  for (let index = 0; index < Math.max(left.length, right.length); index++) {
    const difference = (right[index] ?? -1) - (left[index] ?? -1)
    if (Number.isFinite(difference) && difference !== 0) return difference
  }
  return 0
}
