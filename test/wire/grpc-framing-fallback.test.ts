/**
 * The in-place framing fails safe: in processes whose grpc-js lacks a private field the framing
 * reads (simulated before anything loads: the field renamed, so the old name reads nothing, as
 * after a grpc-js release that renamed it), a node and the CLI each warn once, keep grpc-js's
 * own framing, and produce and consume as before.
 */
import {expect} from 'chai'
import {mkdtemp, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {repoRoot, runCli} from '../helpers/cli.js'
import {startServer} from '../helpers/server.js'

const WARNING = /framed by copy/

/** A script for --require that renames `field` of grpc-js's `className` (in build/src/`module`). */
function renamingScript(module: string, className: string, field: string): string {
  const modulePath = path.join(repoRoot, 'node_modules', '@grpc', 'grpc-js', 'build', 'src', module)
  return `
const target = require(${JSON.stringify(modulePath)})[${JSON.stringify(className)}].prototype
Object.defineProperty(target, ${JSON.stringify(field)}, {
  configurable: true,
  get() { return undefined },
  set(value) { this[${JSON.stringify(`${field}Renamed`)}] = value },
})
`
}

function warningLines(output: string): string[] {
  return output.split('\n').filter((line) => WARNING.test(line))
}

const renamed = [
  {module: 'stream-decoder.js', className: 'StreamDecoder', field: 'maxReadMessageLength'},
  {module: 'compression-filter.js', className: 'CompressionFilter', field: 'maxSendMessageLength'},
]

describe('gRPC framing when grpc-js internals changed', function () {
  this.timeout(60_000)

  for (const {module, className, field} of renamed) {
    it(`warns once and serves with grpc-js's framing when ${className}#${field} is gone`, async () => {
      const scriptDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-grpc-rename-'))
      const script = path.join(scriptDir, 'rename.cjs')
      await writeFile(script, renamingScript(module, className, field))
      const env = {NODE_OPTIONS: `--require ${script}`}
      const server = await startServer({env})
      try {
        const brokers = ['--brokers', server.grpcAddress]
        // Large enough for batches over the pooled size (64 KiB) both ways.
        const input = Array.from({length: 3000}, (_, index) => `${index} ${'x'.repeat(200)}`).join('\n') + '\n'
        const produced = await runCli(['produce', '-t', 'fallback', ...brokers], {input, env})
        expect(produced.code, produced.stderr).to.equal(0)
        const consumed = await runCli(['consume', '-t', 'fallback', ...brokers, '-e'], {env})
        expect(consumed.code, consumed.stderr).to.equal(0)
        expect(consumed.stdout).to.equal(input)
        for (const [who, output] of [['server', server.logs()], ['produce', produced.stderr], ['consume', consumed.stderr]]) {
          const lines = warningLines(output)
          expect(lines, `${who} warnings`).to.have.length(1)
          expect(lines[0], who).to.contain(`${className}#${field}`)
        }
      } finally {
        expect(await server.stop()).to.equal(0)
      }
    })
  }
})
