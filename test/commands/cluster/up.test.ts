import {expect} from 'chai'
import {existsSync} from 'node:fs'
import {chmod, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {runCli} from '../../helpers/cli.js'
import {requireConsulBinary} from '../../helpers/consul.js'
import {kafkajsClient, printKafkajsLogs} from '../../helpers/kafkajs-client.js'
import {runOnTerminal} from '../../helpers/terminal.js'
import {eventually} from '../../cluster/member-process.js'
import {isAlive, lastLine, PlaygroundProcess, processesMentioning, UP_TIMEOUT_MS} from './playground-process.js'

// Nodes stop, then Consul; generous for a loaded 2-core machine.
const STOP_TIMEOUT_MS = 60_000
// A node waits up to this long at shutdown for its leaderships to move (server/node.ts): a stop
// that takes longer means some node waited for a hand-off it had no one to hand off to.
const LEADERSHIP_HANDOFF_MAX_MS = 10_000

describe('lignum cluster up', function () {
  this.timeout(UP_TIMEOUT_MS + 2 * STOP_TIMEOUT_MS)
  let consulBin: string
  const running: PlaygroundProcess[] = []
  const scratch: string[] = []

  before(async function () {
    consulBin = await requireConsulBinary(this)
  })

  afterEach(async () => {
    for (const playground of running.splice(0)) playground.forceKill()
    for (const dir of scratch.splice(0)) await rm(dir, {recursive: true, force: true})
  })

  function up(args: string[], env: Record<string, string> = {}): PlaygroundProcess {
    const playground = new PlaygroundProcess(args, {LIGNUM_CONSUL_BIN: consulBin, ...env})
    running.push(playground)
    return playground
  }

  async function scratchDir(): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-up-test-'))
    scratch.push(dir)
    return dir
  }

  async function stopWith(playground: PlaygroundProcess, signal: NodeJS.Signals, pids: number[]): Promise<number | null> {
    playground.signal(signal)
    const {code} = await playground.exited
    // Every child has exited by the time the command does: none is left to orphan.
    expect(pids.filter((pid) => isAlive(pid)), `alive after ${signal}`).to.deep.equal([])
    return code
  }

  it('comes up with three nodes that take an acks=all produce and read it back, and SIGINT stops every child and removes its temporary directory', async () => {
    const playground = up(['--json'])
    const info = await playground.summary()
    expect(info.nodes.map((node) => node.name)).to.deep.equal(['n1', 'n2', 'n3'])
    expect(info.brokers).to.equal(info.nodes.map((node) => node.grpc).join(','))
    expect(info).to.include({dataDirKept: false, resumed: false})
    expect(playground.stdout.trim().split('\n'), 'stdout is the one JSON object').to.have.length(1)

    const created = await runCli(['topics', 'create', 'try', '--partitions', '3', '--replication-factor', '3', '--brokers', info.brokers])
    expect(created.code, created.stderr).to.equal(0)
    const produced = await runCli(['produce', '-t', 'try', '--acks', 'all', '--brokers', info.brokers], {input: 'one\ntwo\nthree\n', timeoutMs: 60_000})
    expect(produced.code, produced.stderr).to.equal(0)
    // Every node has a Kafka listener: a Kafka client bootstrapped from one of them writes too.
    expect(info.kafkaBootstrap).to.equal(info.nodes.map((node) => node.kafka).join(','))
    const kafka = kafkajsClient(info.nodes[1]!.kafka)
    const producer = kafka.kafka.producer()
    try {
      await producer.connect()
      await producer.send({topic: 'try', acks: -1, messages: [{value: 'four'}]})
    } catch (error) {
      printKafkajsLogs(kafka)
      throw error
    } finally {
      await producer.disconnect()
    }
    const consumed = await runCli(['consume', '-t', 'try', '--from', 'beginning', '--exit', '--brokers', info.brokers])
    expect(consumed.code, consumed.stderr).to.equal(0)
    expect(consumed.stdout.split('\n').filter(Boolean).sort()).to.deep.equal(['four', 'one', 'three', 'two'])

    const status = await runCli(['cluster', 'status', '--json', '--brokers', info.nodes[2]!.grpc])
    const document = JSON.parse(status.stdout)
    expect(document.controller).to.be.a('string').and.not.equal('')
    expect(document.nodes.map((node: {id: string; status: string}) => `${node.id}:${node.status}`).sort()).to.deep.equal(['n1:up', 'n2:up', 'n3:up'])
    const metrics = await fetch(info.nodes[0]!.metrics)
    expect(metrics.status).to.equal(200)
    await metrics.arrayBuffer()

    // Each process's lines behind its name, plain text in a pipe.
    expect(playground.stderr).to.match(/^consul \| /m).and.match(/^n1 {5}\| .*node started/m).and.match(/^n3 {5}\| /m)
    expect(playground.stderr).to.include('removed on exit')
    expect(playground.stderr).not.to.include('\u001B[')

    const stopStartedMs = performance.now()
    const code = await stopWith(playground, 'SIGINT', playground.pids())
    const stopMs = performance.now() - stopStartedMs
    expect(code, playground.stderr.slice(-2000)).to.equal(130)
    expect(existsSync(info.dataDir), 'temporary directory removed').to.equal(false)
    // Every node stops at once: none has an in-sync replica left to take its partitions, so none waits for a hand-off.
    expect(playground.stderr).not.to.include('has not moved the leadership')
    expect(playground.stderr).to.include('no other live in-sync replica to hand these partitions to')
    expect(stopMs).to.be.below(LEADERSHIP_HANDOFF_MAX_MS)
    // Nodes first, then Consul: every node's last line comes before Consul is asked to stop, and Consul still ran until then.
    const consulAsked = playground.stderr.indexOf('nodes stopped; stopping Consul')
    expect(consulAsked).to.be.greaterThan(0)
    for (const name of ['n1', 'n2', 'n3']) expect(playground.stderr.indexOf(`${name}     | `, consulAsked), `a line of ${name} after Consul was asked to stop`).to.equal(-1)
    expect(playground.stderr.indexOf('Shutdown without a Leave')).to.be.greaterThan(consulAsked).and.greaterThan(0)
  })

  it('keeps --data-dir, refuses a second up on it while it runs, and resumes it with the data there', async () => {
    const dataDir = path.join(await scratchDir(), 'playground')
    const first = up(['--json', '--data-dir', dataDir])
    const info = await first.summary()
    expect(info).to.include({dataDir, dataDirKept: true, resumed: false})
    expect(first.stderr).to.include('kept after exit')
    const created = await runCli(['topics', 'create', 'kept', '--replication-factor', '3', '--brokers', info.brokers])
    expect(created.code, created.stderr).to.equal(0)
    const produced = await runCli(['produce', '-t', 'kept', '--acks', 'all', '--brokers', info.brokers], {input: 'a\nb\nc\nd\n', timeoutMs: 60_000})
    expect(produced.code, produced.stderr).to.equal(0)

    const second = await runCli(['cluster', 'up', '--data-dir', dataDir], {env: {LIGNUM_CONSUL_BIN: consulBin}})
    expect(second.code).to.equal(4)
    expect(second.stderr.trim()).to.match(/^Error: the data directory .* is in use by another lignum process \(pid \d+\); stop it or choose another --data-dir$/)

    expect(await stopWith(first, 'SIGTERM', first.pids())).to.equal(143)
    expect(existsSync(path.join(dataDir, 'n1')), 'kept').to.equal(true)

    const mismatch = await runCli(['cluster', 'up', '--nodes', '2', '--data-dir', dataDir], {env: {LIGNUM_CONSUL_BIN: consulBin}})
    expect(mismatch.code).to.equal(2)
    expect(mismatch.stderr.trim()).to.equal(`Error: ${dataDir} holds a playground of 3 nodes; pass --nodes 3 (or no --nodes) to resume it, or choose another --data-dir`)

    const resumed = up(['--json', '--data-dir', dataDir])
    const again = await resumed.summary()
    // The ports were free again, so the addresses are the ones printed the first time.
    expect(again).to.deep.include({resumed: true, dataDir, brokers: info.brokers, kafkaBootstrap: info.kafkaBootstrap, consul: {...info.consul, pid: again.consul.pid}})
    expect(again.nodes).to.have.length(3)
    expect(resumed.stderr).to.include(`resuming the playground in ${dataDir}`)
    const records = await eventually('the kept records read back', async () => {
      const consumed = await runCli(['consume', '-t', 'kept', '--from', 'beginning', '--exit', '--brokers', again.brokers])
      return consumed.code === 0 && consumed.stdout !== '' ? consumed.stdout : undefined
    }, 60_000)
    expect(records).to.equal('a\nb\nc\nd\n')
    expect(await stopWith(resumed, 'SIGINT', resumed.pids())).to.equal(130)
    expect(existsSync(path.join(dataDir, 'playground.json'))).to.equal(true)
  })

  it('stops with a non-zero exit naming the node and its exit when a node dies on its own', async () => {
    const playground = up(['--json', '--nodes', '2'])
    const info = await playground.summary()
    process.kill(info.nodes[1]!.pid, 'SIGKILL')
    const {code} = await playground.exited
    expect(code).to.equal(5)
    // --json: the error is a JSON line on stderr too.
    expect(JSON.parse(lastLine(playground.stderr))).to.deep.equal({error: {code: 'UNAVAILABLE', message: 'n2 exited on its own with signal SIGKILL, so the playground stopped; its lines above say why'}})
    expect(playground.pids().filter((pid) => isAlive(pid))).to.deep.equal([])
    expect(existsSync(info.dataDir)).to.equal(false)
  })

  it('on a terminal colours each name, and Ctrl-C reaches the playground alone, which stops the node, then Consul, and exits 130', async () => {
    const saved = {NO_COLOR: process.env.NO_COLOR, LIGNUM_CONSUL_BIN: process.env.LIGNUM_CONSUL_BIN}
    delete process.env.NO_COLOR
    process.env.LIGNUM_CONSUL_BIN = consulBin
    let pids: number[] = []
    try {
      const session = runOnTerminal(['cluster', 'up', '--nodes', '1'])
      await session.waitFor(/Ctrl-C stops the nodes/, UP_TIMEOUT_MS)
      pids = [...session.screen().matchAll(/ pid (\d+)/g)].map((match) => Number(match[1]))
      expect(pids, 'the node\'s and Consul\'s pids').to.have.length(2)
      expect(session.screen()).to.include('\u001B[36mn1     |\u001B[0m ').and.include('\u001B[90mconsul |\u001B[0m ')
      session.type('\u0003')
      expect(await session.exited).to.equal(130)
      expect(pids.filter((pid) => isAlive(pid))).to.deep.equal([])
      // The node heard of the stop from the playground, not from the terminal: it is in a process group of its own.
      expect(session.screen()).to.match(/n1 .*shutting down signal=SIGTERM/).and.not.match(/signal=SIGINT/)
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      for (const pid of pids.filter((candidate) => isAlive(candidate))) process.kill(pid, 'SIGKILL')
    }
  })

  it('stops every child on SIGHUP (a closed terminal) too, and exits 129', async () => {
    const playground = up(['--json', '--nodes', '1'])
    await playground.summary()
    expect(await stopWith(playground, 'SIGHUP', playground.pids())).to.equal(129)
  })

  it('leaves no child running when it ends another way: a reader that closed stdout', async () => {
    const playground = up(['--json', '--nodes', '1'])
    playground.closeStdout()
    const {code} = await playground.exited
    const dataDir = /starting a playground in (\S+)/.exec(playground.stderr)?.[1]
    expect(dataDir, playground.stderr).to.be.a('string')
    expect(code, playground.stderr.slice(-2000)).to.equal(0)
    expect(processesMentioning(dataDir!)).to.deep.equal([])
    expect(existsSync(dataDir!), 'temporary directory removed').to.equal(false)
  })

  describe('refuses in one line', () => {
    it('--nodes outside 1 to 9', async () => {
      for (const nodes of ['0', '10']) {
        const result = await runCli(['cluster', 'up', '--nodes', nodes], {env: {LIGNUM_CONSUL_BIN: consulBin}})
        expect(result.code).to.equal(2)
        expect(result.stderr).to.equal(`Error: --nodes must be 1 to 9 (every node runs on this machine; past 9 it only slows it down), not ${nodes}\n`)
      }
    })

    it('no consul binary anywhere', async () => {
      const home = await scratchDir()
      const result = await runCli(['cluster', 'up'], {env: {LIGNUM_CONSUL_BIN: '', HOME: home, XDG_CACHE_HOME: path.join(home, 'cache'), PATH: path.join(home, 'bin')}})
      expect(result.code).to.equal(2)
      expect(result.stderr).to.equal('Error: no consul binary found: run scripts/ensure-consul (it builds and caches one), put consul on PATH, or set LIGNUM_CONSUL_BIN\n')
    })

    it('a Consul that fails to start, with its reason, and leaves nothing behind', async () => {
      const dir = await scratchDir()
      const fakeConsul = path.join(dir, 'consul')
      await writeFile(fakeConsul, '#!/bin/sh\necho "==> Starting Consul agent..."\necho "==> Error starting agent: bind: address already in use" >&2\nexit 1\n')
      await chmod(fakeConsul, 0o755)
      const dataDir = path.join(dir, 'playground')
      const result = await runCli(['cluster', 'up', '--data-dir', dataDir], {env: {LIGNUM_CONSUL_BIN: fakeConsul}})
      expect(result.code).to.equal(5)
      expect(lastLine(result.stderr)).to.equal(`Error: Consul (${fakeConsul}) did not start, it exited with code 1: Error starting agent: bind: address already in use; fix that, or set LIGNUM_CONSUL_BIN to another consul`)
      expect(existsSync(path.join(dataDir, '.lock')), 'unlocked').to.equal(false)
    })

    it('a --data-dir that holds something other than a playground', async () => {
      const dir = await scratchDir()
      await writeFile(path.join(dir, 'notes.txt'), 'mine\n')
      const result = await runCli(['cluster', 'up', '--data-dir', dir], {env: {LIGNUM_CONSUL_BIN: consulBin}})
      expect(result.code).to.equal(4)
      expect(result.stderr).to.equal(`Error: ${dir} holds other files and no playground.json, so it is not a playground's directory; choose an empty or new --data-dir\n`)
    })
  })
})
