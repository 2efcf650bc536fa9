/**
 * The playground's directory: `consul/` (Consul's state, so a kept playground's topics
 * survive), one folder per node (`n1/`, `n2/`, …) and `playground.json`, which records the
 * node count and the ports used, so a second `up` on the same directory resumes the same
 * cluster on the same addresses when those ports are still free.
 *
 * Without --data-dir it is a fresh temporary directory, removed when the playground stops;
 * given one, it is kept. Either way it is locked (`.lock`, holding the pid, as a node's own
 * data directory is) for as long as the playground runs, so a second `up` on it refuses.
 * A directory with other files and no playground.json is refused: it is not a playground's.
 */
import {rmSync, unlinkSync} from 'node:fs'
import {mkdir, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {LignumError} from '../errors.js'
import {lockDataDir, type DataDirLock} from '../server/data-dir-lock.js'

const STATE_FILE = 'playground.json'
// The lock file lockDataDir takes, as every node's data directory has.
const LOCK_FILE = '.lock'
const STATE_VERSION = 1

export interface ConsulPorts {
  http: number
  server: number
  serfLan: number
  serfWan: number
}

export interface NodePorts {
  grpc: number
  http: number
  /** The Kafka listener's; absent in a record from before the playground served Kafka. */
  kafka?: number
}

export interface PlaygroundState {
  version: typeof STATE_VERSION
  nodeCount: number
  consulPorts: ConsulPorts
  nodePorts: Record<string, NodePorts>
}

export class PlaygroundDir {
  private constructor(
    readonly root: string,
    /** True when the directory outlives the playground (--data-dir was given). */
    readonly kept: boolean,
    /** What an earlier playground in this directory recorded; undefined for a new one. */
    readonly previous: PlaygroundState | undefined,
    private readonly lock: DataDirLock,
  ) {}

  static async open(given: string | undefined): Promise<PlaygroundDir> {
    const root = given === undefined ? await mkdtemp(path.join(os.tmpdir(), 'lignum-playground-')) : path.resolve(given)
    if (given !== undefined) await mkdir(root, {recursive: true}).catch((error) => {
      throw new LignumError('DATA_DIR', `cannot create the data directory ${root}: ${(error as Error).message}; choose another --data-dir`)
    })
    const previous = await readState(root)
    if (previous === undefined && given !== undefined) await refuseForeignFiles(root)
    const lock = await lockDataDir(root)
    return new PlaygroundDir(root, given !== undefined, previous, lock)
  }

  consulDir(): string {
    return path.join(this.root, 'consul')
  }

  nodeDir(name: string): string {
    return path.join(this.root, name)
  }

  async record(state: Omit<PlaygroundState, 'version'>): Promise<void> {
    await writeFile(path.join(this.root, STATE_FILE), JSON.stringify({version: STATE_VERSION, ...state}, null, 2) + '\n')
  }

  /** As `close`, synchronously: for a process 'exit' handler. */
  closeNow(): void {
    if (this.kept) {
      try {
        unlinkSync(path.join(this.root, LOCK_FILE))
      } catch {
        // Released already.
      }
    } else {
      rmSync(this.root, {recursive: true, force: true})
    }
  }

  /** Unlocks the directory, and removes it unless it is kept. Safe to call twice. */
  async close(): Promise<void> {
    await this.lock.release()
    if (!this.kept) await rm(this.root, {recursive: true, force: true})
  }
}

async function readState(root: string): Promise<PlaygroundState | undefined> {
  let text: string
  try {
    text = await readFile(path.join(root, STATE_FILE), 'utf8')
  } catch {
    return undefined
  }
  let state: Partial<PlaygroundState>
  try {
    state = JSON.parse(text) as Partial<PlaygroundState>
  } catch {
    throw new LignumError('DATA_DIR', `${path.join(root, STATE_FILE)} is not valid JSON; remove the directory to start a new playground, or choose another --data-dir`)
  }
  if (state.version !== STATE_VERSION || !Number.isInteger(state.nodeCount) || !state.consulPorts || !state.nodePorts) {
    throw new LignumError('DATA_DIR', `${path.join(root, STATE_FILE)} is not a playground record this version understands; choose another --data-dir`)
  }
  return state as PlaygroundState
}

async function refuseForeignFiles(root: string): Promise<void> {
  const entries = await readdir(root)
  if (entries.length > 0) {
    throw new LignumError('DATA_DIR', `${root} holds other files and no ${STATE_FILE}, so it is not a playground's directory; choose an empty or new --data-dir`)
  }
}
