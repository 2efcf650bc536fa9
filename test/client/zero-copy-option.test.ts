/**
 * The client library replaces parts of grpc-js only when asked (`zeroCopy`): importing it, or
 * connecting without the option, leaves grpc-js as it is, so a program that also uses grpc-js
 * for its own services keeps grpc-js's behaviour unless it opts in.
 */
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import path from 'node:path'
import {repoRoot} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'

/** Runs `body` in a fresh process with the compiled client imported; resolves with what it printed. */
function inFreshProcess(body: string): Promise<string> {
  const clientModule = path.join(repoRoot, 'dist', 'client', 'index.js')
  const decoderModule = path.join(repoRoot, 'node_modules', '@grpc', 'grpc-js', 'build', 'src', 'stream-decoder.js')
  const script = `
    const {createRequire} = await import('node:module')
    const require = createRequire(import.meta.url)
    const decoder = require(${JSON.stringify(decoderModule)}).StreamDecoder.prototype
    const grpcJsWrite = decoder.write
    const replaced = () => decoder.write !== grpcJsWrite
    const {LignumClient} = await import(${JSON.stringify(clientModule)})
    ${body}
  `
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`exited ${code}: ${stderr}`))))
  })
}

describe('the client\'s zeroCopy option', function () {
  this.timeout(30_000)
  const suite = serverForSuite()

  it('leaves grpc-js alone on import and on a plain connect, and replaces its framing when asked', async () => {
    const printed = await inFreshProcess(`
      console.log('imported', replaced())
      const plain = await LignumClient.connect({brokers: ${JSON.stringify(suite.server.grpcAddress)}})
      plain.close()
      console.log('plain', replaced())
      const fast = await LignumClient.connect({brokers: ${JSON.stringify(suite.server.grpcAddress)}, zeroCopy: true})
      fast.close()
      console.log('zeroCopy', replaced())
    `)
    expect(printed.trim().split('\n')).to.deep.equal(['imported false', 'plain false', 'zeroCopy true'])
  })
})
