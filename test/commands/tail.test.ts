import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {lignumBin, repoRoot, runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'

describe('lignum tail', function () {
  this.timeout(60_000)
  const suite = serverForSuite()

  it('prints the last N records, then a newly produced one within a second', async () => {
    await runCli(['produce', '-t', 'followed', '--brokers', suite.server.grpcAddress], {input: 'old-1\nold-2\nold-3\n'})
    const tail = spawn(process.execPath, [lignumBin, 'tail', '-t', 'followed', '-n', '2', '--brokers', suite.server.grpcAddress], {cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    const waitFor = (text: string) =>
      new Promise<number>((resolve, reject) => {
        const check = () => {
          if (stdout.includes(text)) {
            tail.stdout.off('data', check)
            resolve(Date.now())
          }
        }
        tail.stdout.on('data', check)
        tail.once('exit', () => reject(new Error(`tail exited early: ${stderr}`)))
        check()
      })
    tail.stdout.on('data', (chunk) => (stdout += chunk))
    tail.stderr.on('data', (chunk) => (stderr += chunk))
    try {
      await waitFor('old-3\n')
      expect(stdout).to.equal('old-2\nold-3\n')
      const arrived = waitFor('fresh\n')
      const produced = await runCli(['produce', '-t', 'followed', '--brokers', suite.server.grpcAddress], {input: 'fresh\n'})
      const acknowledgedMs = Date.now()
      expect(produced.code).to.equal(0)
      const arrivedMs = await arrived
      expect(arrivedMs - acknowledgedMs).to.be.below(1000)
      expect(stdout).to.equal('old-2\nold-3\nfresh\n')
    } finally {
      tail.kill('SIGINT')
    }
    const code = await new Promise((resolve) => (tail.exitCode === null ? tail.once('exit', resolve) : resolve(tail.exitCode)))
    expect(code).to.equal(0)
  })
})
