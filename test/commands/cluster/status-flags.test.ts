import {expect} from 'chai'
import {errorTable} from '../../../src/errors.js'
import {runCli} from '../../helpers/cli.js'

describe('lignum cluster status flags', function () {
  this.timeout(60_000)

  it('refuses a --timeout that is not a duration, in one line, before reaching any node', async () => {
    const result = await runCli(['cluster', 'status', '--wait-healthy', '--timeout', '5x', '--brokers', '127.0.0.1:1'])
    expect(result.code).to.equal(errorTable.INVALID_ARGUMENT.exitCode)
    expect(result.stdout).to.equal('')
    expect(result.stderr).to.equal('Error: --timeout "5x" is not a duration; use e.g. 60s, 500ms, 2m or a number of milliseconds\n')
  })

  it('refuses --timeout without --wait-healthy, and --wait-healthy with --watch', async () => {
    for (const args of [['--timeout', '5s'], ['--wait-healthy', '--watch']]) {
      const result = await runCli(['cluster', 'status', ...args, '--brokers', '127.0.0.1:1'])
      expect(result.code, args.join(' ')).to.equal(errorTable.INVALID_ARGUMENT.exitCode)
      expect(result.stderr.trimEnd().split('\n'), result.stderr).to.have.length(1)
    }
  })
})
