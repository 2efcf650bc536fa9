/**
 * The client's errors say what went wrong in its own terms, with a hint in the terms of its
 * options; the CLI prints `message; hint` with its flags instead. Each case is seen both
 * ways: through the library and through the real binary.
 */
import {expect} from 'chai'
import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {LignumClient, LignumError} from '../../src/index.js'
import {freePort} from '../helpers/consul.js'
import {repoRoot, runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'

// The layers that speak the CLI's words; everything else is library, engine or node.
const CLI_LAYERS = ['cli', 'commands', 'ui', 'playground', 'generated']
// A LignumError's message: the string argument after its code, across lines.
const LIGNUM_ERROR_MESSAGE = /(?:new LignumError|super)\(\s*'[A-Z_]+',\s*(['`])((?:\\.|(?!\1)[^\\])*)\1/g

async function failureOf(work: () => Promise<unknown>): Promise<LignumError> {
  const error = await work().then(() => undefined, (caught: unknown) => caught)
  expect(error).to.be.instanceOf(LignumError)
  return error as LignumError
}

describe('error hints: the library\'s words, the CLI\'s flags', function () {
  this.timeout(60_000)
  const suite = serverForSuite()

  it('a start past the end: the library warns through onWarning and starts at the end, the CLI warns on stderr', async () => {
    const client = await LignumClient.connect({brokers: suite.server.grpcAddress})
    const warnings: string[] = []
    try {
      await client.createTopic('short', 1)
      const producer = client.producer()
      await Promise.all(['a', 'b', 'c'].map((value) => producer.send('short', {value})))
      await producer.close()
      const read: unknown[] = []
      for await (const record of client.consume({topic: 'short', from: 50, stopAtEnd: true, onWarning: (message) => warnings.push(message)})) read.push(record)
      expect(read).to.deep.equal([])
      expect(warnings).to.deep.equal(['partition 0 (ends at 3, before offset 50) of "short" ends before the asked offset: it starts at its end'])
    } finally {
      client.close()
    }
    const cli = await runCli(['consume', '-t', 'short', '-o', '50', '-e', '--brokers', suite.server.grpcAddress])
    expect(cli.stderr).to.equal('Warning: partition 0 (ends at 3, before offset 50) of "short" ends before the asked offset: it starts at its end\n')
    expect(cli.code).to.equal(0)
  })

  it('no node at the address: the client names its brokers option, the CLI --brokers', async () => {
    const address = `127.0.0.1:${await freePort()}`
    const error = await failureOf(() => LignumClient.connect({brokers: address, connectTimeoutMs: 2000}))
    expect(error.code).to.equal('UNAVAILABLE')
    expect(error.message).to.equal(`cannot reach a Lignum node at ${address} (connection refused)`)
    expect(error.hint).to.equal('check that "lignum serve" runs there and that brokers names it as host:port')
    const cli = await runCli(['topics', 'list', '--brokers', address])
    expect(cli.stderr).to.equal(`Error: cannot reach a Lignum node at ${address} (connection refused); check that "lignum serve" runs there, or pass --brokers host:port\n`)
    expect(cli.code).to.equal(5)
  })

  it('no broker address at all', async () => {
    const error = await failureOf(() => LignumClient.connect({brokers: ' , '}))
    expect([error.message, error.hint]).to.deep.equal(['no broker address given', 'give brokers as host:port[,host:port]'])
    const cli = await runCli(['topics', 'list', '--brokers', ','])
    expect(cli.stderr).to.equal('Error: no broker address given; pass --brokers host:port[,host:port]\n')
    expect(cli.code).to.equal(2)
  })

  it('no message below the CLI names a CLI flag or command (those belong in hints, which gRPC carries beside the message)', async () => {
    const commands = (await readdir(path.join(repoRoot, 'src', 'commands'))).map((entry) => entry.replace(/\.ts$/, ''))
    const namesCli = new RegExp(`--[a-z]|\\blignum (?:${commands.join('|')})\\b`)
    const offending: string[] = []
    for (const file of await readdir(path.join(repoRoot, 'src'), {recursive: true})) {
      if (!file.endsWith('.ts') || CLI_LAYERS.some((layer) => file.startsWith(`${layer}${path.sep}`))) continue
      const text = await readFile(path.join(repoRoot, 'src', file), 'utf8')
      for (const match of text.matchAll(LIGNUM_ERROR_MESSAGE)) {
        if (namesCli.test(match[2]!)) offending.push(`${file}:${text.slice(0, match.index).split('\n').length}`)
      }
    }
    expect(offending).to.deep.equal([])
  })
})
