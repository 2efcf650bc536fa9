import {expect} from 'chai'
import {applyNoColor} from '../../src/cli/color-environment.js'
import {runCli} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'
import {runOnTerminal} from '../helpers/terminal.js'

// SGR: what colours (and bold, dim) are drawn with.
const SGR = /\x1b\[[0-9;]*m/

describe('NO_COLOR and FORCE_COLOR', function () {
  this.timeout(120_000)

  it('NO_COLOR set and not empty becomes FORCE_COLOR=0, over any FORCE_COLOR; empty or unset changes nothing', () => {
    const env = (fields: Record<string, string>) => {
      const copy: NodeJS.ProcessEnv = {...fields}
      applyNoColor(copy)
      return copy
    }
    expect(env({NO_COLOR: '1'}).FORCE_COLOR).to.equal('0')
    expect(env({NO_COLOR: 'yes', FORCE_COLOR: '3'}).FORCE_COLOR).to.equal('0')
    expect(env({NO_COLOR: '', FORCE_COLOR: '2'}).FORCE_COLOR).to.equal('2')
    expect(env({}).FORCE_COLOR).to.equal(undefined)
  })

  describe('on every view of a terminal', () => {
    let server: RunningServer
    before(async () => {
      server = await startServer()
      const produced = await runCli(['produce', '-t', 'coloured', '-k', 'key', '--brokers', server.grpcAddress], {input: 'one\ntwo\n'})
      expect(produced.code, produced.stderr).to.equal(0)
    })
    after(async () => {
      await server.stop()
    })

    /** What the view drew with `env`; the views that follow stop at Ctrl-C once `ready` shows. */
    async function drawn(args: string[], env: Record<string, string>, ready?: RegExp): Promise<string> {
      // The terminal of a person whose terminal does colour: chalk would colour it (CI=false aside).
      const terminal = runOnTerminal([...args, '--brokers', server.grpcAddress], {size: {rows: 30, columns: 120}, env: {TERM: 'xterm-256color', NO_COLOR: '', FORCE_COLOR: '', ...env}})
      if (ready) {
        await terminal.waitFor(ready)
        await new Promise((resolve) => setTimeout(resolve, 600))
        terminal.type('\x03')
      }
      expect(await terminal.exited, terminal.screen()).to.equal(0)
      return terminal.screen()
    }

    const views: [string, string[], RegExp | undefined][] = [
      ['tail', ['tail', '-t', 'coloured'], /two/],
      ['cluster status', ['cluster', 'status'], undefined],
      ['cluster status --partitions', ['cluster', 'status', '--partitions'], undefined],
      ['cluster status --watch', ['cluster', 'status', '--watch'], /refreshing every second/],
    ]
    for (const [name, args, ready] of views) {
      it(`${name}: colour with FORCE_COLOR=1, none with NO_COLOR=1 (FORCE_COLOR=1 too) or FORCE_COLOR=0`, async () => {
        expect(await drawn(args, {FORCE_COLOR: '1'}, ready)).to.match(SGR)
        const noColor = await drawn(args, {NO_COLOR: '1', FORCE_COLOR: '1'}, ready)
        expect(noColor).to.not.match(SGR)
        expect(noColor).to.match(/healthy|two/)
        expect(await drawn(args, {FORCE_COLOR: '0'}, ready)).to.not.match(SGR)
      })
    }
  })
})
