import {expect} from 'chai'
import {mkdir, mkdtemp, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {runCli} from '../../helpers/cli.js'

describe('lignum segments inspect on a directory that is not a data directory', function () {
  this.timeout(30_000)

  it('refuses directories that only look like <topic>-<partition> (a mistyped --data-dir such as /tmp)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-not-data-'))
    await mkdir(path.join(dir, 'build-2878'))
    await mkdir(path.join(dir, 'cache-12'))
    await writeFile(path.join(dir, 'cache-12', 'notes.txt'), 'not a segment')
    const result = await runCli(['segments', 'inspect', '--data-dir', dir])
    expect(result.code).to.equal(4)
    expect(result.stdout).to.equal('')
    expect(result.stderr).to.equal(`Error: ${dir} has no segment files (<base offset>.log) in any of its 2 <topic>-<partition> directories, so it is not a Lignum data directory; give the --data-dir a server wrote to\n`)
  })
})
