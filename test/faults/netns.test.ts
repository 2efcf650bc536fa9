/**
 * The fault suite's network lab on real namespaces: two members reach each other over TCP,
 * an isolated member is unreachable (and reaches nothing) until healed, a cut link parts only
 * its two members, two labs of one process live side by side, and destroying a lab leaves no
 * namespace or link behind.
 */
import {execFileSync} from 'node:child_process'
import {expect} from 'chai'
import {NetworkLab, netnsUnavailable} from '../../faults/netns.js'

const PORT = 7411
// A connect across a bridge answers in milliseconds; over a cut link it never does.
const CONNECT_TIMEOUT_MS = 1_500

/** Runs a TCP connect from inside `from` to `address`; true if it connected. */
function connects(lab: NetworkLab, from: string, address: string): Promise<boolean> {
  const script = `const s=require('net').connect(${PORT},'${address}',()=>process.exit(0));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(2),${CONNECT_TIMEOUT_MS})`
  const child = lab.spawnIn(from, process.execPath, ['-e', script], {stdio: 'ignore'})
  return new Promise((resolve) => child.once('exit', (code) => resolve(code === 0)))
}

function interfacesAndNamespaces(): string {
  return execFileSync('ip', ['link']).toString() + execFileSync('ip', ['netns', 'list']).toString()
}

describe('fault suite network lab (real network namespaces)', function () {
  this.timeout(60_000)
  let lab: NetworkLab | undefined
  let second: NetworkLab | undefined

  before(async () => {
    const unavailable = await netnsUnavailable()
    if (unavailable) throw new Error(`the network partition scenarios need network namespaces: ${unavailable}; run as root on Linux with iproute2`)
  })

  after(async () => {
    await lab?.destroy()
    await second?.destroy()
  })

  function listen(on: NetworkLab, name: string): Promise<ReturnType<NetworkLab['spawnIn']>> {
    const server = on.spawnIn(name, process.execPath, ['-e', `require('net').createServer((s)=>s.end()).listen(${PORT},'0.0.0.0',()=>console.log('up'))`], {stdio: ['ignore', 'pipe', 'inherit']})
    return new Promise((resolve) => server.stdout!.once('data', () => resolve(server)))
  }

  it('cuts only the link between two members, and mends it', async () => {
    lab = await NetworkLab.create(['a', 'b', 'c'])
    const server = await listen(lab, 'a')
    try {
      const a = lab.member('a').address
      await lab.cut('a', 'b')
      expect(await connects(lab, 'b', a), 'b reaches a across the cut').to.equal(false)
      expect(await connects(lab, 'c', a), 'c reaches a').to.equal(true)
      await lab.mend('a', 'b')
      expect(await connects(lab, 'b', a), 'b reaches a mended').to.equal(true)
    } finally {
      server.kill('SIGKILL')
      await lab.destroy()
    }
  })

  it('keeps two labs of one process apart', async () => {
    lab = await NetworkLab.create(['a'])
    second = await NetworkLab.create(['a'])
    expect(second.member('a').address).not.to.equal(lab.member('a').address)
    expect(second.member('a').namespace).not.to.equal(lab.member('a').namespace)
    const server = await listen(second, 'a')
    try {
      expect(await connects(second, 'a', second.member('a').address), 'the second lab works beside the first').to.equal(true)
    } finally {
      server.kill('SIGKILL')
      await second.destroy()
      await lab.destroy()
    }
  })

  it('cuts an isolated member off and heals it, and leaves nothing behind', async () => {
    lab = await NetworkLab.create(['a', 'b'])
    const server = lab.spawnIn('a', process.execPath, ['-e', `require('net').createServer((s)=>s.end()).listen(${PORT},'0.0.0.0',()=>console.log('up'))`], {stdio: ['ignore', 'pipe', 'inherit']})
    try {
      await new Promise((resolve) => server.stdout!.once('data', resolve))
      const a = lab.member('a').address
      expect(await connects(lab, 'b', a), 'b reaches a').to.equal(true)
      await lab.isolate('a')
      expect(await connects(lab, 'b', a), 'b reaches a isolated').to.equal(false)
      await lab.heal('a')
      expect(await connects(lab, 'b', a), 'b reaches a healed').to.equal(true)
    } finally {
      server.kill('SIGKILL')
    }
    const namespace = lab.member('a').namespace
    await lab.destroy()
    expect(interfacesAndNamespaces()).not.to.include(namespace)
  })
})
