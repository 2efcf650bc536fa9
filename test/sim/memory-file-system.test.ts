import {expect} from 'chai'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {nodeFileSystem, type FileSystem, type LogFileHandle} from '../../src/log/file-system.js'
import {MemoryFileSystem} from '../../sim/memory-file-system.js'
import {Prng} from '../../sim/prng.js'

// Random sequences of the calls the log makes, applied to a real directory and to the
// in-memory file system side by side: every answer (bytes, sizes, names, error codes) must be
// the same, so the simulator's runs on memory are runs of the same code on POSIX files.
const SEQUENCES = 40
const STEPS = 120
const NAMES = ['a.log', 'b.log', 'c.index', 'd.tmp']
const FLAGS = ['r', 'r+', 'w', 'w+', 'wx', 'wx+', 'a', 'a+']

interface Side {
  files: FileSystem
  root: string
  handles: (LogFileHandle | null)[]
}

async function outcome(run: () => Promise<unknown> | unknown): Promise<string> {
  try {
    const value = await run()
    return `ok ${Buffer.isBuffer(value) ? value.toString('hex') : JSON.stringify(value)}`
  } catch (error) {
    return `error ${(error as NodeJS.ErrnoException).code}`
  }
}

function bytes(prng: Prng, length: number): Buffer {
  const buffer = Buffer.alloc(length)
  for (let index = 0; index < length; index++) buffer[index] = prng.int(0, 255)
  return buffer
}

/** One random call, the same on both sides (the draws are made once); returns each side's answer. */
async function step(prng: Prng, sides: [Side, Side]): Promise<[string, string]> {
  const name = NAMES[prng.int(0, NAMES.length - 1)]
  const other = NAMES[prng.int(0, NAMES.length - 1)]
  const slot = prng.int(0, 3)
  const kind = prng.int(0, 13)
  const data = bytes(prng, prng.int(0, 40))
  const position = prng.int(0, 80)
  const flags = FLAGS[prng.int(0, FLAGS.length - 1)]
  const positioned = prng.chance(0.5)
  const answers = await Promise.all(
    sides.map(async (side) => {
      const file = path.join(side.root, name)
      const handle = side.handles[slot]
      const withHandle = (use: (open: LogFileHandle) => Promise<unknown> | unknown) => (handle ? outcome(() => use(handle)) : Promise.resolve('no handle'))
      switch (kind) {
        case 0:
        case 1:
          return outcome(async () => {
            await side.handles[slot]?.close().catch(() => {})
            side.handles[slot] = null
            side.handles[slot] = await side.files.open(file, flags)
            return flags
          })
        case 2:
        case 3:
          return withHandle(async (open) => (await open.write(data, 0, data.length, positioned ? position : null)).bytesWritten)
        case 4:
          return withHandle(async (open) => (await open.writev([data, data.subarray(1)], position)).bytesWritten)
        case 5:
          return withHandle(async (open) => {
            const target = Buffer.alloc(30)
            const {bytesRead} = await open.read(target, 0, target.length, position)
            return target.subarray(0, bytesRead)
          })
        case 6:
          return withHandle(async (open) => (await open.truncate(position), (await open.stat()).size))
        case 7:
          return withHandle(async (open) => {
            // The log scans only open handles (node rejects fd -1 before any system call).
            if (open.fd === -1) return 'closed'
            const target = Buffer.alloc(30)
            return target.subarray(0, side.files.readSync(open.fd, target, 0, target.length, position))
          })
        case 8:
          return withHandle(async (open) => {
            await open.datasync()
            await open.close()
            return open.fd
          })
        case 9:
          return outcome(() => side.files.readFile(file))
        case 10:
          return outcome(async () => {
            const info = await side.files.stat(file)
            return [info.size, info.isDirectory()]
          })
        case 11:
          return outcome(() => side.files.unlink(file))
        case 12:
          return outcome(() => side.files.rename(file, path.join(side.root, other)))
        default:
          // Every caller sorts what readdir lists (its order is the file system's).
          return outcome(async () => (await side.files.readdir(side.root)).sort())
      }
    }),
  )
  const call = `#${kind} ${name}>${other} slot ${slot} ${flags} at ${positioned ? position : 'null'}`
  return [`${call}: ${answers[0]}`, `${call}: ${answers[1]}`]
}

describe('the simulator\'s in-memory file system', () => {
  let realRoot: string

  beforeEach(async () => {
    realRoot = await mkdtemp(path.join(os.tmpdir(), 'lignum-memfs-'))
  })

  afterEach(async () => {
    await rm(realRoot, {recursive: true, force: true})
  })

  it('answers every call of random sequences as node:fs does on a real directory', async function () {
    this.timeout(60_000)
    for (let sequence = 1; sequence <= SEQUENCES; sequence++) {
      const memory = new MemoryFileSystem()
      const memoryRoot = '/sim/dir'
      await memory.mkdirRecursive(memoryRoot)
      const dir = path.join(realRoot, `run-${sequence}`)
      await nodeFileSystem.mkdirRecursive(dir)
      const sides: [Side, Side] = [
        {files: nodeFileSystem, root: dir, handles: [null, null, null, null]},
        {files: memory, root: memoryRoot, handles: [null, null, null, null]},
      ]
      const prng = Prng.forStream(sequence, 'memory-file-system')
      const trail: string[] = []
      for (let index = 0; index < STEPS; index++) {
        const [real, simulated] = await step(prng, sides)
        trail.push(real)
        expect(simulated, `sequence ${sequence} step ${index}, after:\n${trail.slice(-12).join('\n')}`).to.equal(real)
      }
      for (const side of sides) for (const handle of side.handles) await handle?.close().catch(() => {})
    }
  })

  it('keeps an unlinked file readable through a handle open on it, and a closed handle fails with EBADF', async () => {
    const memory = new MemoryFileSystem()
    await memory.mkdirRecursive('/d')
    const handle = await memory.open('/d/x', 'w+')
    await handle.write(Buffer.from('kept'), 0, 4, 0)
    await memory.unlink('/d/x')
    const target = Buffer.alloc(4)
    expect((await handle.read(target, 0, 4, 0)).bytesRead).to.equal(4)
    expect(target.toString()).to.equal('kept')
    expect(await memory.readdir('/d')).to.deep.equal([])
    await handle.close()
    expect(handle.fd).to.equal(-1)
    expect(await outcome(() => handle.read(target, 0, 4, 0))).to.equal('error EBADF')
  })
})
