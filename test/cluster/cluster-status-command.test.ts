/**
 * `lignum cluster status` end to end against real nodes whose cluster state needs no Consul:
 * a standalone node (itself the only node and the controller) and a node whose Consul is
 * unreachable (no controller: the command still prints the document, then exits non-zero).
 * The views of a Consul-led cluster are checked in serve-cluster.test.ts.
 */
import {spawn} from 'node:child_process'
import readline from 'node:readline'
import {expect} from 'chai'
import {lignumBin, repoRoot, runCli} from '../helpers/cli.js'
import {freePort} from '../helpers/consul.js'
import {ServeProcess} from './serve-process.js'
import type {ClusterStatus} from '../../src/ui/cluster-status-table.js'
import {errorTable} from '../../src/errors.js'

describe('lignum cluster status', function () {
  this.timeout(120_000)
  let node: ServeProcess | undefined

  afterEach(async function () {
    await node?.destroy()
    node = undefined
  })

  it('a standalone node answers with itself as the only node and the controller', async function () {
    node = await ServeProcess.start({cluster: 'unused', nodeId: 'solo', sessionTtlMs: 10_000, lockDelayMs: 1000})
    const json = await runCli(['cluster', 'status', '--json', '--brokers', node.address])
    expect(json.code, json.stderr).to.equal(0)
    const status = JSON.parse(json.stdout) as ClusterStatus
    expect(status).to.deep.include({cluster: 'standalone', controller: 'solo', controllerEpoch: 0, node: 'solo', mode: 'standalone'})
    expect(status.nodes).to.have.length(1)
    expect(status.nodes[0]).to.deep.include({id: 'solo', address: node.address, status: 'up'})

    const plain = await runCli(['cluster', 'status', '--brokers', node.address])
    expect(plain.code, plain.stderr).to.equal(0)
    const lines = plain.stdout.trimEnd().split('\n')
    expect(lines[0]).to.equal('cluster standalone (standalone): controller solo (epoch 0), 1/1 nodes up, answered by solo')
    expect(lines[1]).to.match(/^NODE\s+ADDRESS\s+STATUS\s+VERSION\s+ROLE$/)
    expect(lines[2]).to.match(new RegExp(`^solo\\s+${node.address}\\s+up\\s+\\S+\\s+controller$`))
  })

  it('exits non-zero when the cluster has no controller, after printing the document', async function () {
    const deadConsul = `http://127.0.0.1:${await freePort()}`
    node = await ServeProcess.start({consulUrl: deadConsul, cluster: 'orphans', nodeId: 'lonely', sessionTtlMs: 3000, lockDelayMs: 1000})
    const result = await runCli(['cluster', 'status', '--json', '--brokers', node.address])
    expect(result.code).to.equal(errorTable.UNAVAILABLE.exitCode)
    const status = JSON.parse(result.stdout) as ClusterStatus
    expect(status).to.deep.include({cluster: 'orphans', controller: null, mode: 'cluster', consulReachable: false, node: 'lonely'})
    // With --json the error is a JSON line too.
    expect(JSON.parse(result.stderr)).to.deep.equal({error: {code: 'UNAVAILABLE', message: 'cluster orphans has no controller; node lonely cannot reach Consul: check that Consul is up and that nodes are running'}})
    expect(await node.readyz()).to.equal(503)
  })

  it('says which address it could not reach, with a non-zero exit', async function () {
    const result = await runCli(['cluster', 'status', '--brokers', `127.0.0.1:${await freePort()}`])
    expect(result.code).to.not.equal(0)
    expect(result.stdout).to.equal('')
    expect(result.stderr).to.match(/^Error: .*127\.0\.0\.1/)
  })

  it('--watch --json prints one document per refresh and ends with exit 0 on Ctrl-C', async function () {
    node = await ServeProcess.start({cluster: 'unused', nodeId: 'watched', sessionTtlMs: 10_000, lockDelayMs: 1000})
    const child = spawn(process.execPath, [lignumBin, 'cluster', 'status', '--watch', '--json', '--brokers', node.address], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    // Should the watch print nothing, end it so the loop below ends and the test fails clearly.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
    const documents: ClusterStatus[] = []
    const lines = readline.createInterface({input: child.stdout})
    for await (const line of lines) {
      documents.push(JSON.parse(line) as ClusterStatus)
      if (documents.length === 2) break
    }
    child.kill('SIGINT')
    const code = await exited
    clearTimeout(guard)
    expect(code).to.equal(0)
    expect(documents.map((document) => document.controller)).to.deep.equal(['watched', 'watched'])
  })
})
