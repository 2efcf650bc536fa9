/**
 * The package as a Node program gets it: a project whose node_modules/lignum is this checkout
 * (what `npm link` or an installed package gives) imports 'lignum' by name, runs the README's
 * "Node client library" example against a real node, and a TypeScript consumer type-checks
 * against dist/*.d.ts. Needs `npm run build` first (npm test builds before mocha).
 */
import {expect} from 'chai'
import {execFile, spawn} from 'node:child_process'
import {access, mkdir, mkdtemp, readFile, rm, symlink, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {repoRoot, runCli} from './helpers/cli.js'
import {serverForSuite} from './helpers/server.js'

const execFileAsync = promisify(execFile)

/** The first ```js block of the README's "Node client library" section, as the reader sees it. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8')
  const section = readme.split('\n## Node client library\n')[1]?.split('\n## ')[0]
  const block = section === undefined ? null : /```js\n([\s\S]*?)```/.exec(section)
  if (!block) throw new Error('README.md has no ```js block in a "Node client library" section')
  return block[1]!
}

/** A project of its own, outside the checkout, with lignum installed as a link to it. */
async function consumerProject(): Promise<string> {
  try {
    await access(path.join(repoRoot, 'dist', 'index.js'))
  } catch {
    throw new Error('dist/index.js is missing: run npm run build first')
  }
  const project = await mkdtemp(path.join(os.tmpdir(), 'lignum-consumer-'))
  await writeFile(path.join(project, 'package.json'), JSON.stringify({name: 'consumer', type: 'module', private: true}))
  await mkdir(path.join(project, 'node_modules'))
  await symlink(repoRoot, path.join(project, 'node_modules', 'lignum'), 'dir')
  return project
}

function runNode(file: string, cwd: string, env: Record<string, string> = {}): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], {cwd, env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })
}

// A consumer's program: what it may write compiles, what would reach the internals does not
// (each @ts-expect-error fails the check if the line it guards compiles).
const TYPED_CONSUMER = `
import {LignumClient, LignumError, type ConsumedRecord, type LignumClientOptions, type Producer, type TopicInfo} from 'lignum'

const options: LignumClientOptions = {brokers: 'localhost:50051', tls: {caFile: 'ca.pem'}}
const client: LignumClient = await LignumClient.connect(options)
const topic: TopicInfo = await client.createTopic('orders', 3, {retentionMs: 86_400_000}, {replicationFactor: 1})
const end: number = topic.partitions[0]!.logEndOffset
const producer: Producer = client.producer({acks: 'all', lingerMs: 5, compression: 'gzip'})
const {offset, partition}: {offset: number; partition: number} = await producer.send('orders', {key: 'k', value: Buffer.from('v'), headers: [{key: 'h', value: 'x'}]})
await producer.close()
for await (const record of client.consume({topic: 'orders', group: 'billing', from: 'end', signal: AbortSignal.timeout(1000)})) {
  const typed: ConsumedRecord = record
  const value: Buffer | null = typed.value
  const at: number = typed.offset + typed.timestamp
  break
}
const committed: number[] = (await client.fetchOffsets('billing')).map((entry) => entry.offset)
try {
  await client.describeTopic('missing')
} catch (error) {
  if (error instanceof LignumError) console.log(error.code, error.retriable, error.hint ?? '')
}
// @ts-expect-error the gRPC connection beneath the client is not part of its type
client.connection.grpc
// @ts-expect-error nor is the wire layer it wraps
client.wire
// @ts-expect-error the client is made by connect() only
new LignumClient()
// @ts-expect-error offsets are numbers, never the wire's bigints
const wire: bigint = end
// @ts-expect-error the producer is a type, not the class whose constructor takes the client's routes
type Routes = ConstructorParameters<typeof Producer>
// @ts-expect-error the cluster's status is the CLI's business, in the wire's types
await client.clusterStatus()
console.log(offset, partition, committed, wire)
`

describe('the lignum package, imported by name', function () {
  this.timeout(120_000)
  const suite = serverForSuite()
  let project: string

  before(async () => {
    project = await consumerProject()
  })
  after(async () => {
    await rm(project, {recursive: true, force: true})
  })

  it('runs the README example: produces, consumes as a group, and leaving the loop commits', async () => {
    const example = path.join(project, 'example.mjs')
    await writeFile(example, await readmeExample())
    const run = await runNode(example, project, {LIGNUM_BROKERS: suite.server.grpcAddress})
    expect(run.stderr).to.equal('')
    expect(run.code).to.equal(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines[0]).to.match(/^sent 10 records, the last to partition \d at offset \d+$/)
    const reads = lines.filter((line) => line.startsWith('read '))
    const ids = reads.map((line) => (JSON.parse(/\{.*\}$/.exec(line)![0]) as {id: number}).id).sort((a, b) => a - b)
    expect(ids).to.deep.equal([...Array(10).keys()])
    expect(reads).to.have.length(10)
    for (const line of reads) expect(line).to.match(/^read [0-2]\/\d+ customer-[0-3] \{"id":\d\}$/)
    // The loop's break committed after the last record: the CLI finds nothing left for the group.
    const rest = await runCli(['consume', '-t', 'orders', '-G', 'billing', '-e', '--brokers', suite.server.grpcAddress])
    expect(rest.code).to.equal(0)
    expect(rest.stdout).to.equal('')
    const committed = JSON.parse(lines.at(-1)!.replace(/^committed /, '')) as {topic: string; offset: number}[]
    expect(committed.every((entry) => entry.topic === 'orders')).to.equal(true)
    expect(committed.reduce((sum, entry) => sum + entry.offset, 0)).to.equal(10)
  })

  it('exposes only its entry point: deep imports of the internals are refused', async () => {
    const script = path.join(project, 'deep.mjs')
    await writeFile(script, `
      const lignum = await import('lignum')
      console.log(Object.keys(lignum).sort().join(','))
      console.log((await import('lignum/package.json', {with: {type: 'json'}})).default.name)
      await import('lignum/dist/client/wire-client.js').then(() => console.log('imported'), (error) => console.log(error.code))
    `)
    const run = await runNode(script, project)
    expect(run.stderr).to.equal('')
    expect(run.stdout.trim().split('\n')).to.deep.equal(['LignumClient,LignumError,errorTable', 'lignum', 'ERR_PACKAGE_PATH_NOT_EXPORTED'])
  })

  it('type-checks a TypeScript consumer against the published declarations, internals out of reach', async () => {
    await writeFile(path.join(project, 'consumer.ts'), TYPED_CONSUMER)
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
    const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--typeRoots', path.join(repoRoot, 'node_modules', '@types'), '--types', 'node', 'consumer.ts']
    const result = await execFileAsync(process.execPath, [tsc, ...args], {cwd: project}).then(
      () => ({code: 0, output: ''}),
      (error: {code: number; stdout: string}) => ({code: error.code, output: error.stdout}),
    )
    expect(result.output).to.equal('')
    expect(result.code).to.equal(0)
  })
})
