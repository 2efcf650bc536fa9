import {expect} from 'chai'
import {mkdtemp, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {runCli} from '../helpers/cli.js'

/** A configuration file a user broke: one line naming the file and the parser's reason, exit 2. */
describe('configuration files with mistakes', function () {
  this.timeout(60_000)
  let dir: string
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-config-errors-'))
  })

  async function printConfig(file: string, text: string, args: string[] = []) {
    await writeFile(path.join(dir, file), text)
    return runCli(['serve', '--print-config', ...args], {cwd: dir})
  }

  function expectOneLine(result: {code: number | null; stdout: string; stderr: string}, line: string): void {
    expect(result.code, result.stderr).to.equal(2)
    expect(result.stdout).to.equal('')
    expect(result.stderr).to.equal(`Error: ${line}\n`)
  }

  it('gives the JSON parser\'s reason, not an empty line', async () => {
    const result = await printConfig('broken.json', '{"grpcPort": 1, \n', ['--config', 'broken.json'])
    expectOneLine(result, `cannot read the configuration file: JSON Error in ${path.join(dir, 'broken.json')}: Expected double-quoted property name in JSON at position 17; correct it, or point --config at another file`)
  })

  it('gives the YAML parser\'s reason with its line and column', async () => {
    const result = await printConfig('broken.yaml', 'grpcPort: [1\n', ['--config', 'broken.yaml'])
    expectOneLine(result, `cannot read the configuration file: YAML Error in ${path.join(dir, 'broken.yaml')}: unexpected end of the stream within a flow collection (2:1); correct it, or point --config at another file`)
  })

  it('says a --config file does not exist', async () => {
    const result = await runCli(['serve', '--print-config', '--config', 'missing.json'], {cwd: dir})
    expectOneLine(result, 'the configuration file missing.json does not exist; check the path given to --config')
  })
})
