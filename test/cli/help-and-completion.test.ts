import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {repoRoot, runCli} from '../helpers/cli.js'

const run = promisify(execFile)

describe('-h and shell completion', function () {
  this.timeout(180_000)
  let commandIds: string[]
  let cacheDir: string

  before(async () => {
    const manifest = JSON.parse(await readFile(path.join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    // The plugin's commands are in its own manifest.
    commandIds = [...Object.keys(manifest.commands), 'autocomplete'].sort()
    // The completion cache goes under XDG_CACHE_HOME: not the user's own.
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-completion-'))
  })

  after(async () => {
    await rm(cacheDir, {recursive: true, force: true})
  })

  it('-h prints what --help prints, exit 0, for the root and every command', async () => {
    expect(commandIds).to.include.members(['tail', 'cluster:status', 'topics:create'])
    for (const words of [[], ...commandIds.map((id) => id.split(':'))]) {
      const [short, long] = await Promise.all([runCli([...words, '-h']), runCli([...words, '--help'])])
      expect(short.code, `${words.join(' ')} -h: ${short.stderr}`).to.equal(0)
      expect(short.stdout, `${words.join(' ')} -h`).to.equal(long.stdout)
      expect(short.stdout).to.include('USAGE')
    }
  })

  for (const shell of ['bash', 'zsh', 'powershell']) {
    it(`lignum autocomplete ${shell} prints the setup`, async () => {
      const result = await runCli(['autocomplete', shell], {env: {XDG_CACHE_HOME: cacheDir}})
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.include(`lignum autocomplete script ${shell}`)
    })
  }

  it('bash completes the commands, the subcommands of a topic and the flags of a command', async () => {
    const setup = await runCli(['autocomplete', 'script', 'bash'], {env: {XDG_CACHE_HOME: cacheDir}})
    expect(setup.code, setup.stderr).to.equal(0)
    const complete = async (...words: string[]) => {
      const script = `${setup.stdout}\nCOMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _lignum_autocomplete; printf '%s\\n' "\${COMPREPLY[@]}"`
      return (await run('bash', ['-c', script])).stdout.trim().split('\n').sort()
    }
    expect(await complete('lignum', '')).to.include.members(['tail', 'produce', 'consume', 'cluster', 'topics', 'autocomplete'])
    expect(await complete('lignum', 'ta')).to.deep.equal(['tail'])
    expect(await complete('lignum', 'topics', 'cr')).to.deep.equal(['create'])
    expect(await complete('lignum', 'tail', '--pa')).to.deep.equal(['--partition'])
    expect(await complete('lignum', 'cluster', 'status', '--')).to.include.members(['--watch', '--partitions', '--wait-healthy', '--brokers'])
  })
})
