import {execFileSync, spawn} from 'node:child_process'
import {createWriteStream} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {expect} from 'chai'
import {lignumBin, repoRoot, runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'
import {runOnTerminal} from '../helpers/terminal.js'

const children = new Set<ReturnType<typeof spawn>>()
// A test that fails before its Ctrl-C leaves produce waiting on stdin: mocha would never exit.
afterEach(() => {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
})

/** Spawns produce reading a stdin the test writes to slowly, never ending it. */
function produceFromSlowStdin(args: string[]) {
  const child = spawn(process.execPath, [lignumBin, 'produce', ...args], {cwd: repoRoot, env: {...process.env, NO_COLOR: '1'}, stdio: ['pipe', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  children.add(child)
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    children.delete(child)
    resolve(code)
  }))
  return {child, exited, stdout: () => stdout, stderr: () => stderr}
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadlineMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

const SUMMARY = /^Interrupted: (\d+) of (\d+) records acknowledged, (\d+) failed \(\d+ bytes read\) to [\w-]+ in \d+ ms$/m

describe('Ctrl-C during produce', function () {
  this.timeout(120_000)
  const suite = serverForSuite()

  it('stops reading a slow stdin, prints what was acknowledged on stderr and exits 130', async () => {
    const produce = produceFromSlowStdin(['-t', 'slow', '--print-offsets', ...suite.brokers])
    produce.child.stdin.write('one\ntwo\n')
    await waitUntil(() => produce.stdout().split('\n').length > 2, 'two acknowledged records')
    // Half a record: not sent, as its end never came.
    produce.child.stdin.write('three\npart')
    await waitUntil(() => produce.stdout().split('\n').length > 3, 'the third acknowledged record')
    produce.child.kill('SIGINT')
    expect(await produce.exited, produce.stderr()).to.equal(130)
    expect(produce.stderr()).to.match(SUMMARY)
    expect(SUMMARY.exec(produce.stderr())?.slice(1, 4)).to.deep.equal(['3', '3', '0'])
    expect((await runCli(['consume', '-t', 'slow', '-e', ...suite.brokers])).stdout).to.equal('one\ntwo\nthree\n')
  })

  it('sends the record still waiting in a batch before it exits, long before --linger-ms would', async () => {
    expect((await runCli(['topics', 'create', 'lingering', '--partitions', '2', ...suite.brokers])).code).to.equal(0)
    // A record larger than --batch-size fills its batch, which leaves at once and is printed when
    // acknowledged: proof the input is being read. The small one waits in its partition's open
    // batch for the linger, which Ctrl-C must not wait out.
    const produce = produceFromSlowStdin(['-t', 'lingering', '-f', '%p %v', '--batch-size', '100', '--linger-ms', '600000', '--print-offsets', ...suite.brokers])
    produce.child.stdin.write(`0 ${'x'.repeat(200)}\n1 held\n`)
    await waitUntil(() => produce.stdout().includes('partition 0 at offset 0'), 'the large record acknowledged')
    await sleep(200)
    expect(produce.stdout()).to.not.include('partition 1')
    const interruptedMs = Date.now()
    produce.child.kill('SIGINT')
    expect(await produce.exited, produce.stderr()).to.equal(130)
    expect(Date.now() - interruptedMs).to.be.below(15_000)
    expect(produce.stdout()).to.include('Produced to lingering partition 1 at offset 0')
    expect(SUMMARY.exec(produce.stderr())?.slice(1, 4)).to.deep.equal(['2', '2', '0'])
    expect((await runCli(['consume', '-t', 'lingering', '-p', '1', '-e', ...suite.brokers])).stdout).to.equal('held\n')
  })

  it('on a terminal: shows records and bytes (no percentage) for a piped stdin, and the summary stays after the progress line is gone', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-produce-tty-'))
    try {
      const fifo = path.join(dir, 'input')
      execFileSync('mkfifo', [fifo])
      const terminal = runOnTerminal(['produce', '-t', 'watched-progress', '--brokers', suite.server.grpcAddress], {stdinFrom: fifo})
      const writer = createWriteStream(fifo)
      // The reader goes away on Ctrl-C: a write after that fails, as it should.
      writer.on('error', () => {})
      let written = 0
      const feeding = setInterval(() => {
        writer.write(`record-${written++}\n`)
      }, 10)
      try {
        await terminal.waitFor(/produce {2}[\d.]+ \S*B {2}[\d.]+ \S*B\/s {2}\d+ records/)
        terminal.type('\x03')
        expect(await terminal.exited, terminal.screen()).to.equal(130)
      } finally {
        clearInterval(feeding)
        writer.end()
      }
      const screen = terminal.screen()
      expect(screen).to.not.match(/%/)
      const lastClear = screen.lastIndexOf('\x1b[2K')
      const summary = screen.search(/Interrupted: \d+ of \d+ records acknowledged, 0 failed/)
      expect(summary, screen).to.be.above(lastClear)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})
