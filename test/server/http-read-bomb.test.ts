import {expect} from 'chai'
import {appendFile, mkdtemp, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {gzipBomb} from '../helpers/raw-batches.js'
import {startServer, type RunningServer} from '../helpers/server.js'

/** Resident and peak resident memory of a process, in MiB, from /proc (Linux). */
async function memoryMb(pid: number): Promise<{rssMb: number; peakRssMb: number}> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024
  return {rssMb: field('VmRSS'), peakRssMb: field('VmHWM')}
}

// Reading 1 GiB of inflated records once costs at least that much; the bound keeps each read's
// allocation to DECOMPRESSED_BYTES_MAX (64 MiB), and reads run one at a time on the event loop.
const PEAK_GROWTH_MB_MAX = 300

describe('reading an old decompression bomb from disk (HTTP GET /api/message, real server)', () => {
  let dataDir: string
  let server: RunningServer | undefined

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-bomb-'))
    // A server writes the good record; the bomb goes into the segment file behind its back, as
    // an older build that did not check records would have stored it.
    const writer = await startServer({dataDir})
    const posted = await fetch(`${writer.httpUrl}/api/message`, {method: 'POST', body: JSON.stringify({topic: 'bomb', message: 'before the bomb'})})
    expect(posted.status).to.equal(200)
    expect(await writer.stop()).to.equal(0)
    await appendFile(path.join(dataDir, 'bomb-0', '00000000000000000000.log'), gzipBomb(1024 * 1024 * 1024, {baseOffset: 1}))
  })

  after(async () => {
    await server?.stop('SIGKILL')
    await rm(dataDir, {recursive: true, force: true})
  })

  it('answers four concurrent reads with a clear error, bounded in memory, and stays up', async () => {
    server = await startServer({dataDir})
    const pid = server.process.pid!
    const httpUrl = server.httpUrl
    const ready = await fetch(`${httpUrl}/api/message?topic=bomb&from=0&to=1`)
    expect(await ready.json()).to.deep.equal({messages: [{Id: 0, Data: 'before the bomb'}], count: 1})
    const before = await memoryMb(pid)

    const answers = await Promise.all(Array.from({length: 4}, () => fetch(`${httpUrl}/api/message?topic=bomb&from=1&to=10`).then(async (response) => ({status: response.status, body: (await response.json()) as {error?: {code: string; message: string}}}))))
    for (const answer of answers) {
      expect(answer.status).to.equal(500)
      expect(answer.body.error?.code).to.equal('CORRUPT_RECORD')
      expect(answer.body.error?.message).to.match(/at offset 1 inflates past \d+ bytes.*decompression bomb/)
    }
    const after = await memoryMb(pid)
    expect(after.peakRssMb - before.rssMb, `server RSS ${before.rssMb.toFixed(0)} MiB before, peak ${after.peakRssMb.toFixed(0)} MiB during the reads`).to.be.below(PEAK_GROWTH_MB_MAX)

    const health = await fetch(`${httpUrl}/healthz`)
    expect(health.status).to.equal(200)
    // A read that starts before the bomb answers what lies before it.
    const upToTheBomb = await fetch(`${httpUrl}/api/message?topic=bomb&from=0&to=10`)
    expect(await upToTheBomb.json()).to.deep.equal({messages: [{Id: 0, Data: 'before the bomb'}], count: 1})
    console.log(`      server RSS ${before.rssMb.toFixed(0)} MiB before the reads, peak ${after.peakRssMb.toFixed(0)} MiB, ${after.rssMb.toFixed(0)} MiB after`)
  })
})
