/**
 * The one atomic replace every checkpoint uses: it fsyncs the temporary file before the rename
 * and the directory after it, and a write that fails never replaces the old file nor leaves its
 * temporary file behind. The three checkpoints (leader epochs, recovery point, topics.json) go
 * through it.
 */
import {expect} from 'chai'
import {readdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {nodeAtomicFileIo, replaceFileAtomically, useAtomicFileIo, type AtomicFileIo} from '../../src/log/atomic-file.js'
import {LeaderEpochCheckpoint} from '../../src/log/leader-epoch-checkpoint.js'
import {writeRecoveryPoint} from '../../src/log/recovery.js'
import {writeTopicStore} from '../../src/broker/topic-store.js'
import {errnoError, scratchDir} from './helpers.js'

/** Records, in order, what was synced and renamed; `failWriteOf` makes writing that file fail. */
function recordingIo(failWriteOf?: string): {io: AtomicFileIo; events: string[]} {
  const events: string[] = []
  const io: AtomicFileIo = {
    async open(file, flags) {
      const handle = await nodeAtomicFileIo.open(file, flags)
      return new Proxy(handle, {
        get(target, property) {
          if (property === 'sync' || property === 'datasync') {
            return () => {
              events.push(`sync ${path.basename(file)}`)
              return target.sync()
            }
          }
          if (property === 'writeFile' && file === failWriteOf) {
            return async (contents: string) => {
              await target.write(Buffer.from(contents.slice(0, 3)), 0, 3)
              throw errnoError('ENOSPC', 'write')
            }
          }
          const value = Reflect.get(target, property, target) as unknown
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    },
    async rename(from, to) {
      events.push(`rename ${path.basename(from)} ${path.basename(to)}`)
      await nodeAtomicFileIo.rename(from, to)
    },
    unlink: nodeAtomicFileIo.unlink,
  }
  return {io, events}
}

describe('replaceFileAtomically', () => {
  let dir: string
  let cleanup: () => Promise<void>

  beforeEach(async () => {
    ;({dir, cleanup} = await scratchDir())
  })

  afterEach(() => cleanup())

  it('fsyncs the temporary file, renames it, then fsyncs the directory', async () => {
    const {io, events} = recordingIo()
    const file = path.join(dir, 'checkpoint')
    await replaceFileAtomically(file, 'new\n', io)
    expect(events).to.deep.equal(['sync checkpoint.tmp', 'rename checkpoint.tmp checkpoint', `sync ${path.basename(dir)}`])
    expect(await readFile(file, 'utf8')).to.equal('new\n')
  })

  it('keeps the old file, and no temporary file, when the write fails', async () => {
    const file = path.join(dir, 'checkpoint')
    await writeFile(file, 'old\n')
    const {io, events} = recordingIo(`${file}.tmp`)
    const error = await replaceFileAtomically(file, 'new contents\n', io).catch((caught: NodeJS.ErrnoException) => caught)
    expect(error).to.have.property('code', 'ENOSPC')
    expect(events.filter((event) => event.startsWith('rename'))).to.deep.equal([])
    expect(await readFile(file, 'utf8')).to.equal('old\n')
    expect(await readdir(dir)).to.deep.equal(['checkpoint'])
  })

  it('runs replacements of one file one after another: the last asked for wins, and none fails on the shared temporary file', async () => {
    // A periodic flush and close() both write the recovery point; at once they shared its .tmp file.
    const file = path.join(dir, 'checkpoint')
    const contents = Array.from({length: 8}, (_, index) => `contents ${index}\n`)
    await Promise.all(contents.map((text) => replaceFileAtomically(file, text)))
    expect(await readFile(file, 'utf8')).to.equal(contents.at(-1))
    expect(await readdir(dir)).to.deep.equal(['checkpoint'])
  })

  it('is what the leader-epoch checkpoint, the recovery point and topics.json are written with', async () => {
    const {io, events} = recordingIo()
    const restore = useAtomicFileIo(io)
    try {
      const epochs = await LeaderEpochCheckpoint.load(dir, () => 0, false)
      await epochs.assign(0, 0)
      await writeRecoveryPoint(dir, 7)
      await writeTopicStore(dir, [])
    } finally {
      restore()
    }
    const directory = `sync ${path.basename(dir)}`
    expect(events).to.deep.equal(
      ['leader-epoch-checkpoint', 'lignum-recovery-point', 'topics.json'].flatMap((name) => [`sync ${name}.tmp`, `rename ${name}.tmp ${name}`, directory]),
    )
    expect((await readdir(dir)).sort()).to.deep.equal(['leader-epoch-checkpoint', 'lignum-recovery-point', 'topics.json'])
  })
})
