/**
 * The tokens file read from disk, at start and as it changes: tokens added and removed take
 * effect at the next poll, a bad file keeps the tokens there were and logs one line, and a
 * lookup finds a principal only by its own token.
 */
import {expect} from 'chai'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {errorLine, LignumError} from '../../src/errors.js'
import type {Logger, LogFields} from '../../src/logger.js'
import {newBearerToken} from '../../src/tokens/bearer-token.js'
import {tokenFileLine} from '../../src/tokens/token-file.js'
import {TOKEN_FILE_POLL_MS, TokenFileWatch} from '../../src/tokens/token-file-watch.js'

function recordingLogger(): Logger & {lines: {level: string; message: string; fields?: LogFields}[]} {
  const lines: {level: string; message: string; fields?: LogFields}[] = []
  const logger = {
    lines,
    debug: (message: string, fields?: LogFields) => lines.push({level: 'debug', message, fields}),
    info: (message: string, fields?: LogFields) => lines.push({level: 'info', message, fields}),
    warn: (message: string, fields?: LogFields) => lines.push({level: 'warn', message, fields}),
    error: (message: string, fields?: LogFields) => lines.push({level: 'error', message, fields}),
    child: () => logger,
  }
  return logger
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5 * TOKEN_FILE_POLL_MS): Promise<void> {
  const giveUpAtMs = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > giveUpAtMs) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('watching the tokens file', function () {
  this.timeout(20_000)
  let dir: string
  let file: string
  const watches: TokenFileWatch[] = []

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-tokens-'))
    file = path.join(dir, 'http-tokens')
  })
  afterEach(async () => {
    for (const watch of watches.splice(0)) watch.stop()
    await rm(dir, {recursive: true, force: true})
  })

  async function started(logger: Logger): Promise<TokenFileWatch> {
    const watch = new TokenFileWatch(file, logger)
    watches.push(watch)
    await watch.start()
    return watch
  }

  it('maps each token to its principal and nothing else to anyone', async () => {
    const [alice, bob] = [newBearerToken(), newBearerToken()]
    await writeFile(file, `${tokenFileLine('alice', alice)}\n${tokenFileLine('bob', bob)}\n`)
    const watch = await started(recordingLogger())
    expect(watch.principalOf(alice)).to.equal('alice')
    expect(watch.principalOf(bob)).to.equal('bob')
    expect(watch.principalOf(newBearerToken())).to.equal(undefined)
    expect(watch.principalOf(alice.slice(0, -1))).to.equal(undefined)
    expect(watch.principalOf(tokenFileLine('alice', alice).split(':')[2]!)).to.equal(undefined)
  })

  it('takes added and removed tokens at the next poll, and keeps them through a bad file, logging it once', async () => {
    const [alice, bob] = [newBearerToken(), newBearerToken()]
    await writeFile(file, tokenFileLine('alice', alice) + '\n')
    const logger = recordingLogger()
    const watch = await started(logger)
    expect(watch.principalOf(bob)).to.equal(undefined)
    await writeFile(file, `${tokenFileLine('alice', alice)}\n${tokenFileLine('bob', bob)}\n`)
    await waitFor(() => watch.principalOf(bob) === 'bob', 'the added token is known')
    await writeFile(file, tokenFileLine('bob', bob) + '\n')
    await waitFor(() => watch.principalOf(alice) === undefined, 'the removed token is forgotten')
    expect(watch.principalOf(bob)).to.equal('bob')
    await writeFile(file, `${tokenFileLine('bob', bob)}\n${alice}\n`)
    await waitFor(() => logger.lines.some((line) => line.level === 'warn'), 'the refusal is logged')
    await new Promise((resolve) => setTimeout(resolve, 3 * TOKEN_FILE_POLL_MS))
    const refusals = logger.lines.filter((line) => line.level === 'warn')
    expect(refusals).to.have.length(1)
    expect(refusals[0]!.message).to.equal('HTTP tokens file changed but was refused; still using the previous tokens')
    expect(String(refusals[0]!.fields?.reason)).to.match(/line 2 looks like it holds a token itself/)
    expect(JSON.stringify(logger.lines)).to.not.include(alice.slice(4))
    expect(watch.principalOf(bob)).to.equal('bob')
    await rm(file)
    await new Promise((resolve) => setTimeout(resolve, 2 * TOKEN_FILE_POLL_MS))
    expect(watch.principalOf(bob), 'a deleted file keeps the tokens').to.equal('bob')
  })

  it('stops the start with one line when the file is missing or bad', async () => {
    const missing = await started(recordingLogger()).then(() => undefined, (error: LignumError) => error)
    expect(missing?.code).to.equal('CONFIG')
    expect(missing && errorLine(missing)).to.equal(`cannot read http.tokensFile ${file}: no such file; give the path of a tokens file (make entries with lignum http-token create)`)
    await writeFile(file, 'alice:sha256:nothex\n')
    const bad = await started(recordingLogger()).then(() => undefined, (error: LignumError) => error)
    expect(bad?.message).to.match(/^http\.tokensFile .* line 1 is not "principal:sha256:<64 hex digits>"/)
  })
})
