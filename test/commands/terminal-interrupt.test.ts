import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'
import {runOnTerminal} from '../helpers/terminal.js'

/** Ctrl-C is how a user ends a live view: it must end it cleanly (exit 0), not kill it by signal. */
describe('Ctrl-C on a terminal', function () {
  this.timeout(60_000)
  let server: RunningServer
  before(async () => {
    server = await startServer()
    await runCli(['produce', '-t', 'watched', '--brokers', server.grpcAddress], {input: 'first\nsecond\n'})
  })
  after(async () => {
    await server.stop()
  })

  it('ends the live view of lignum tail with exit 0', async () => {
    const terminal = runOnTerminal(['tail', '-t', 'watched', '--brokers', server.grpcAddress])
    await terminal.waitFor(/second/)
    terminal.type('\x03')
    expect(await terminal.exited, terminal.screen()).to.equal(0)
  })

  it('ends lignum cluster status --watch with exit 0', async () => {
    const terminal = runOnTerminal(['cluster', 'status', '--watch', '--brokers', server.grpcAddress])
    // An answer drawn: the partitions line (the topic itself is summarised away).
    await terminal.waitFor(/partitions: 1 partition in 1 topic/)
    terminal.type('\x03')
    expect(await terminal.exited, terminal.screen()).to.equal(0)
  })
})

describe('produce typed at a terminal', function () {
  this.timeout(60_000)

  it('says it reads the terminal, takes a line per record and ends at Ctrl-D', async () => {
    const server = await startServer()
    try {
      const terminal = runOnTerminal(['produce', '-t', 'typed', '--brokers', server.grpcAddress])
      await terminal.waitFor(/Reading records for typed from the terminal, one per line; Ctrl-D ends\./)
      terminal.type('hello\n')
      terminal.type('\x04')
      expect(await terminal.exited, terminal.screen()).to.equal(0)
      const stored = await runCli(['consume', '-t', 'typed', '-e', '--brokers', server.grpcAddress])
      expect(stored.stdout).to.equal('hello\n')
    } finally {
      await server.stop()
    }
  })
})
