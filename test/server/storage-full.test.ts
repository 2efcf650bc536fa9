/**
 * A real `lignum serve` on a real, tiny file system that fills up: the produce that hits the
 * full disk ends with STORAGE_FULL (its own exit code, the data directory and the free space
 * named), counted in /metrics; nothing acknowledged before is lost; once space returns the node
 * takes records again, and all of it survives a restart.
 */
import {expect} from 'chai'
import {mkdir, rm, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {errorTable} from '../../src/errors.js'
import {runCli} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'
import {mountTmpfs, type Tmpfs} from '../helpers/tmpfs.js'

const FILE_SYSTEM_BYTES = 1024 * 1024
/** Taken from the file system before the node starts, given back to make room again. */
const FILLER_BYTES = 256 * 1024
const LINE_BYTES = 500

function lines(prefix: string, count: number, width = 0): string {
  return Array.from({length: count}, (_, index) => `${prefix}-${String(index).padStart(5, '0')}`.padEnd(width, '.') + '\n').join('')
}

describe('lignum serve on a full disk', function () {
  this.timeout(120_000)
  let tmpfs: Tmpfs | undefined
  let server: RunningServer | undefined

  afterEach(async () => {
    await server?.stop()
    server = undefined
    await tmpfs?.unmount()
    tmpfs = undefined
  })

  async function consumeAll(running: RunningServer): Promise<string[]> {
    const consumed = await runCli(['consume', '-t', 'full', '-p', '0', '--from', 'beginning', '-e', '--brokers', running.grpcAddress])
    expect(consumed.code, consumed.stderr).to.equal(0)
    return consumed.stdout.split('\n').filter((line) => line !== '')
  }

  it('answers STORAGE_FULL, loses nothing stored, and takes records again once space returns', async function () {
    tmpfs = await mountTmpfs(`size=${FILE_SYSTEM_BYTES}`)
    const dataDir = path.join(tmpfs.dir, 'data')
    await mkdir(dataDir)
    const filler = path.join(tmpfs.dir, 'filler')
    await writeFile(filler, Buffer.alloc(FILLER_BYTES))
    server = await startServer({dataDir})
    const brokers = ['--brokers', server.grpcAddress]

    const first = await runCli(['produce', '-t', 'full', '-p', '0', ...brokers], {input: lines('first', 100)})
    expect(first.code, first.stderr).to.equal(0)

    const flood = await runCli(['produce', '-t', 'full', '-p', '0', '--delivery-timeout-ms', '3000', '--json', ...brokers], {input: lines('flood', (2 * FILE_SYSTEM_BYTES) / LINE_BYTES, LINE_BYTES), timeoutMs: 60_000})
    expect(flood.code, flood.stderr).to.equal(errorTable.STORAGE_FULL.exitCode)
    expect(flood.stderr).to.include(`the data directory ${dataDir} is full (`).and.match(/free of 1\.0 MiB\); free space there/)
    expect(flood.stderr.trim().split('\n')).to.have.length(1)

    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text()
    const counted = /^lignum_storage_full_errors_total (\d+)$/m.exec(metrics)
    expect(counted, 'the storage-full counter in /metrics').to.not.equal(null)
    expect(Number(counted![1])).to.be.greaterThan(0)

    await rm(filler)
    const second = await runCli(['produce', '-t', 'full', '-p', '0', ...brokers], {input: lines('second', 100)})
    expect(second.code, second.stderr).to.equal(0)

    const stored = await consumeAll(server)
    expect(stored.slice(0, 100)).to.deep.equal(lines('first', 100).trimEnd().split('\n'))
    expect(stored.slice(-100)).to.deep.equal(lines('second', 100).trimEnd().split('\n'))
    const flooded = stored.slice(100, -100)
    expect(flooded.length).to.be.greaterThan(0)
    expect(flooded.every((line) => line.startsWith('flood-'))).to.equal(true)
    expect([...flooded].sort()).to.deep.equal(flooded)
    expect(new Set(flooded).size).to.equal(flooded.length)

    expect(await server.stop()).to.equal(0)
    server = await startServer({dataDir})
    expect(await consumeAll(server)).to.deep.equal(stored)
  })
})
