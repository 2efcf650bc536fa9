import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'
import {runOnTerminal, type TerminalSession} from '../helpers/terminal.js'
import {TerminalScreen} from '../helpers/terminal-screen.js'
import {LignumClient} from '../../src/client/index.js'

/**
 * `lignum tail`'s live view on a real pseudo-terminal against a real node, replayed on a
 * terminal emulator: what a person sees, and whether the redraws stayed in place.
 */
describe('lignum tail on a terminal', function () {
  this.timeout(60_000)
  const suite = serverForSuite()

  async function produce(topic: string, records: {partition: number; key?: Buffer | string; value: Buffer | string; timestamp?: number}[]): Promise<void> {
    const client = await LignumClient.connect({brokers: suite.server.grpcAddress})
    try {
      const producer = client.producer()
      for (const record of records) await producer.send(topic, record)
      await producer.close()
    } finally {
      client.close()
    }
  }

  async function createTopic(topic: string, partitions: number): Promise<void> {
    const created = await runCli(['topics', 'create', topic, '--partitions', String(partitions), ...suite.brokers])
    expect(created.code, created.stderr).to.equal(0)
  }

  /** Ctrl-C, once the view is read: the terminal echoes "^C" below it. */
  async function stop(terminal: TerminalSession, size: {rows: number; columns: number}): Promise<TerminalScreen> {
    const screen = TerminalScreen.of(terminal.screen(), size.rows, size.columns)
    terminal.type('\x03')
    expect(await terminal.exited, terminal.screen().slice(-2000)).to.equal(0)
    return screen
  }

  it('shows binary values and escape sequences escaped, with keys, sorted by time, redrawn in place, the backlog out of the rate', async () => {
    await createTopic('tail-binary', 2)
    const baseMs = Date.now() - 60_000
    // Interleaved in time across the partitions; the backlog arrives a partition at a time.
    await produce('tail-binary', [
      {partition: 0, key: 'user-1', value: 'title\x1b]0;pwned\x07after', timestamp: baseMs},
      {partition: 1, key: Buffer.from([0xff, 0xfe, 0x0a]), value: Buffer.from([0x00, 0xff, 0x0a, 0x1b, 0x5b, 0x32, 0x4a, 0x41]), timestamp: baseMs + 10},
      {partition: 0, value: 'tab\there\r\nnext', timestamp: baseMs + 20},
      {partition: 1, key: 'user-2', value: 'plain', timestamp: baseMs + 30},
    ])
    const size = {rows: 30, columns: 100}
    const terminal = runOnTerminal(['tail', '-t', 'tail-binary', '-n', '10', ...suite.brokers], {size})
    await terminal.waitFor(/plain/)
    // A dozen redraws with nothing new, then live records.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const backlogOnly = TerminalScreen.of(terminal.screen(), size.rows, size.columns)
    await produce('tail-binary', [{partition: 0, key: 'live', value: 'fresh-1'}, {partition: 1, value: 'fresh-2'}])
    await terminal.waitFor(/fresh-2/)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const screen = await stop(terminal, size)
    const lines = screen.lines()

    expect(screen.oscs, 'no title change or other OSC reached the terminal').to.deep.equal([])
    expect(screen.screenClears, 'no frame was redrawn by clearing the screen').to.equal(0)
    expect(screen.scrolledOffLines, 'no frame scrolled').to.equal(0)
    expect(backlogOnly.lines()[0], backlogOnly.text()).to.match(/^tail-binary 4 records \(4 from before\), 0\.0\/s/)
    expect(lines.filter((line) => line.startsWith('tail-binary ')), screen.text()).to.have.length(1)
    expect(lines[0], screen.text()).to.match(/^tail-binary 6 records \(4 from before\), (?!0\.0\/s)\d+\.\d\/s/)
    expect(lines[1]).to.equal('p0@2  p1@2')
    const records = lines.slice(2).map((line) => line.replace(/ \d\d:\d\d:\d\d\.\d{3}/, ''))
    expect(records).to.deep.equal([
      '0:0 [user-1] title\\x1b]0;pwned\\x07after',
      '1:0 [\\xff\\xfe\\n] \\x00\\xff\\n\\x1b[2JA',
      '0:1 tab\\there\\r\\nnext',
      '1:1 [user-2] plain',
      '0:2 [live] fresh-1',
      '1:2 fresh-2',
    ])
  })

  it('fits a terminal of 10 rows and 60 columns: the newest records, each cut to the width, never scrolling', async () => {
    await createTopic('tail-short', 1)
    const baseMs = Date.now() - 60_000
    await produce('tail-short', Array.from({length: 40}, (_, index) => ({partition: 0, value: `record-${index} ${'x'.repeat(150)}`, timestamp: baseMs + index})))
    const size = {rows: 10, columns: 60}
    const terminal = runOnTerminal(['tail', '-t', 'tail-short', '-n', '40', ...suite.brokers], {size})
    await terminal.waitFor(/record-39/)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    await produce('tail-short', [{partition: 0, value: 'record-live'}])
    await terminal.waitFor(/record-live/)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const screen = await stop(terminal, size)
    const lines = screen.lines()
    expect(screen.scrolledOffLines, screen.text()).to.equal(0)
    expect(screen.screenClears, screen.text()).to.equal(0)
    expect(lines.length, screen.text()).to.be.at.most(size.rows - 1)
    expect(lines[0]).to.match(/^tail-short 41 records \(40 from before\)/)
    expect(lines[1]).to.equal('p0@40')
    expect(lines.slice(2).map((line) => line.match(/^0:(\d+) /)?.[1])).to.deep.equal(['34', '35', '36', '37', '38', '39', '40'])
    expect(lines.at(-2)).to.have.length(size.columns)
    expect(lines.at(-2)).to.match(/ record-39 x+…$/)
    expect(lines.at(-1)).to.match(/ record-live$/)
  })

  it('counts "1 record" when one new record came', async () => {
    await createTopic('tail-one', 1)
    const size = {rows: 20, columns: 80}
    const terminal = runOnTerminal(['tail', '-t', 'tail-one', ...suite.brokers], {size})
    await terminal.waitFor(/waiting for records/)
    await produce('tail-one', [{partition: 0, key: 'k', value: 'only'}])
    await terminal.waitFor(/only/)
    await new Promise((resolve) => setTimeout(resolve, 600))
    const lines = (await stop(terminal, size)).lines()
    expect(lines[0]).to.match(/^tail-one 1 record, (?!0\.0\/s)\d+\.\d\/s/)
    expect(lines[2]).to.match(/^0:0 \d\d:\d\d:\d\d\.\d{3} \[k\] only$/)
  })
})
