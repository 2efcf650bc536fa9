/**
 * `lignum http-token create`, run as a user runs it: a fresh token printed once with the line
 * for the tokens file, appended with --file to a file that stays valid, and one-line refusals.
 */
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {errorTable} from '../../../src/errors.js'
import {parseTokenFile} from '../../../src/tokens/token-file.js'
import {runCli} from '../../helpers/cli.js'

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

describe('lignum http-token create', function () {
  this.timeout(60_000)
  let dir: string
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-http-token-'))
  })

  it('prints a new token and the line that holds its hash', async () => {
    const result = await runCli(['http-token', 'create', '--principal', 'prometheus'])
    expect(result.code, result.stderr).to.equal(0)
    const [heading, token, instruction, entry, ...rest] = result.stdout.split('\n')
    expect(heading).to.equal('Token for prometheus (shown only now: keep it in your secret store):')
    expect(token).to.match(/^lgn_[A-Za-z0-9_-]{43}$/)
    expect(instruction).to.equal('Add this line to the node\'s http.tokensFile:')
    expect(entry).to.equal(`prometheus:sha256:${sha256(token!)}`)
    expect(rest).to.deep.equal([''])
    const again = await runCli(['http-token', 'create', '--principal', 'prometheus', '--json'])
    expect(JSON.parse(again.stdout).token).to.not.equal(token)
  })

  it('appends the line with --file, creating the file, on a line of its own', async () => {
    const file = path.join(dir, 'tokens')
    const first = JSON.parse((await runCli(['http-token', 'create', '-p', 'ci', '--file', file, '--json'])).stdout)
    expect(first).to.include({principal: 'ci', file})
    expect(await readFile(file, 'utf8')).to.equal(`ci:sha256:${sha256(first.token)}\n`)
    // An operator's last line without its newline.
    await writeFile(file, (await readFile(file, 'utf8')) + '# rotated monthly')
    const second = await runCli(['http-token', 'create', '-p', 'ci', '--file', file])
    expect(second.code, second.stderr).to.equal(0)
    expect(second.stdout).to.match(/^Appended ci:sha256:[0-9a-f]{64} to .*tokens\.$/m)
    const text = await readFile(file, 'utf8')
    expect(text).to.not.include(first.token)
    expect(parseTokenFile(text, file).map((entry) => entry.principal)).to.deep.equal(['ci', 'ci'])
  })

  it('adds nothing to a file a node would refuse, and refuses a principal it cannot write', async () => {
    const file = path.join(dir, 'broken')
    await writeFile(file, 'ci:sha256:abc\n')
    const refused = await runCli(['http-token', 'create', '-p', 'ci', '--file', file])
    expect(refused.stderr).to.equal(`Error: the tokens file ${file} line 1 is not "principal:sha256:<64 hex digits>"; make entries with lignum http-token create\n`)
    expect(refused.code).to.equal(errorTable.CONFIG.exitCode)
    expect(refused.stdout).to.equal('')
    expect(await readFile(file, 'utf8')).to.equal('ci:sha256:abc\n')
    const badName = await runCli(['http-token', 'create', '-p', 'a b'])
    expect(badName.stderr).to.equal('Error: the principal "a b" must be a name without spaces, ":" or "#", e.g. prometheus\n')
    expect(badName.code).to.equal(errorTable.INVALID_ARGUMENT.exitCode)
    const missing = await runCli(['http-token', 'create'])
    expect(missing.stderr).to.match(/^Error: Missing required flag --principal/)
    expect(missing.code).to.equal(errorTable.INVALID_ARGUMENT.exitCode)
  })
})
