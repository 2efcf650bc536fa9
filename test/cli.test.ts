import {expect} from 'chai'
import {runCli} from './helpers/cli.js'

describe('lignum (the binary)', () => {
  it('prints its version', async () => {
    const result = await runCli(['--version'])
    expect(result.code).to.equal(0)
    expect(result.stdout).to.match(/^lignum\/\d+\.\d+\.\d+/)
  })

  it('refuses an unknown command with a non-zero exit', async () => {
    const result = await runCli(['no-such-command'])
    expect(result.code).to.not.equal(0)
    expect(result.stderr).to.match(/no-such-command/)
  })
})
