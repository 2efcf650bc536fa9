import {expect} from 'chai'
import {runCli} from '../../helpers/cli.js'
import {useConsul} from '../../helpers/consul-suite.js'
import {startServer} from '../../helpers/server.js'
import {runOnTerminal} from '../../helpers/terminal.js'
import {TerminalScreen} from '../../helpers/terminal-screen.js'
import {controllerWithAllUp} from '../../cluster/three-nodes.js'
import {ServeProcess} from '../../cluster/serve-process.js'

describe('lignum cluster status on a terminal', function () {
  this.timeout(60_000)

  it('draws the partitions with their replicas and the health line with --partitions, and exits 0 when healthy', async () => {
    const server = await startServer()
    try {
      await runCli(['produce', '-t', 'drawn', '--brokers', server.grpcAddress], {input: 'a\nb\n'})
      const terminal = runOnTerminal(['cluster', 'status', '--partitions', '--brokers', server.grpcAddress])
      expect(await terminal.exited, terminal.screen()).to.equal(0)
      // Without escape sequences: what a person reads.
      const screen = terminal.screen().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      expect(screen).to.match(new RegExp(`drawn\\s+0\\s+${server.nodeId}\\s+0\\s+${server.nodeId}\\s+${server.nodeId}\\s+1\\s+2\\s+online`))
      expect(screen).to.match(new RegExp(`drawn\\s+0\\s+${server.nodeId}\\s+leader\\s+2\\s+0`))
      expect(screen).to.include('healthy: 1 partition, none offline or under-replicated')
    } finally {
      await server.stop()
    }
  })

  it('with many partitions keeps the cluster line (as worded in a pipe) and the node table on a 24-row screen, once and with --watch', async () => {
    const server = await startServer()
    try {
      const created = await runCli(['topics', 'create', 'wide', '--partitions', '64', '--brokers', server.grpcAddress])
      expect(created.code, created.stderr).to.equal(0)
      const piped = await runCli(['cluster', 'status', '--brokers', server.grpcAddress])
      expect(piped.code, piped.stderr).to.equal(0)
      const headline = piped.stdout.split('\n')[0]!
      expect(headline).to.match(/^cluster \S+ \(standalone\): controller /)
      const size = {rows: 24, columns: 120}

      const once = runOnTerminal(['cluster', 'status', '--brokers', server.grpcAddress], {size})
      expect(await once.exited, once.screen()).to.equal(0)
      const onceScreen = TerminalScreen.of(once.screen(), size.rows, size.columns)
      expect(onceScreen.scrolledOffLines, onceScreen.text()).to.equal(0)
      expect(onceScreen.lines()[0]).to.equal(headline)
      expect(onceScreen.lines()).to.include.members(['partitions: 64 partitions in 1 topic: 64 online', 'healthy: 64 partitions, none offline or under-replicated'])
      expect(onceScreen.text()).to.match(new RegExp(`NODE\\s+ADDRESS\\s+STATUS\\s+VERSION\\s+ROLE\\n${server.nodeId}\\s+\\S+\\s+up\\s+\\S+\\s+controller`))

      const watching = runOnTerminal(['cluster', 'status', '--watch', '--brokers', server.grpcAddress], {size})
      await watching.waitFor(/refreshing every second/)
      await new Promise((resolve) => setTimeout(resolve, 3500))
      const watchScreen = TerminalScreen.of(watching.screen(), size.rows, size.columns)
      watching.type('\x03')
      expect(await watching.exited).to.equal(0)
      expect(watchScreen.scrolledOffLines, watchScreen.text()).to.equal(0)
      expect(watchScreen.screenClears, watchScreen.text()).to.equal(0)
      expect(watchScreen.lines()[0]).to.equal(headline)
      expect(watchScreen.lines().filter((line) => line.startsWith('NODE '))).to.have.length(1)
      expect(watchScreen.lines()).to.include('partitions: 64 partitions in 1 topic: 64 online')
    } finally {
      await server.stop()
    }
  })
})

describe('lignum cluster status on a terminal, nodes stopped (real Consul, three real nodes)', function () {
  this.timeout(240_000)
  // Long enough that Consul still has the stopped node up while the test looks.
  const SESSION_TTL_MS = 30_000
  const consul = useConsul({stopFirst: () => Promise.all(nodes.map((node) => node.destroy()))})
  let nodes: ServeProcess[] = []

  before(async function () {
    this.timeout(180_000)
    nodes = await Promise.all(['u1', 'u2', 'u3'].map((nodeId) => ServeProcess.start({consulUrl: consul().url, cluster: 'status-unreachable', nodeId, sessionTtlMs: SESSION_TTL_MS, lockDelayMs: 1000})))
    await controllerWithAllUp(nodes)
  })

  it('shows a killed node as unreachable, not up, while Consul still has it up; watching through it, marks it unreachable with the error', async () => {
    const size = {rows: 30, columns: 120}
    const [first, second, third] = nodes as [ServeProcess, ServeProcess, ServeProcess]
    const watching = runOnTerminal(['cluster', 'status', '--watch', '--brokers', third.address], {size})
    await watching.waitFor(/3\/3 nodes up/)
    const killedAtMs = Date.now()
    await second.killHard()
    await third.killHard()
    await watching.waitFor(/no answer from/)
    const watchScreen = TerminalScreen.of(watching.screen(), size.rows, size.columns)
    watching.type('\x03')
    expect(await watching.exited).to.equal(0)
    expect(watchScreen.text()).to.match(/^u3\s+\S+\s+unreachable\s/m)
    expect(watchScreen.text()).to.match(/no answer from \S+; showing its last answer/)

    const terminal = runOnTerminal(['cluster', 'status', '--brokers', first.address], {size})
    await terminal.exited
    const screen = TerminalScreen.of(terminal.screen(), size.rows, size.columns)
    expect(Date.now() - killedAtMs, 'Consul must still have the killed nodes up').to.be.below(SESSION_TTL_MS)
    expect(screen.text()).to.match(/^u1\s+\S+\s+up\s/m)
    expect(screen.text()).to.match(/^u2\s+\S+\s+unreachable\s/m)
    expect(screen.text()).to.match(/^u3\s+\S+\s+unreachable\s/m)
    expect(screen.text()).to.match(/^node u2 is unreachable: /m)
    expect(screen.lines()[0]).to.match(/1\/3 nodes up, answered by u1$/)
    const piped = await runCli(['cluster', 'status', '--json', '--brokers', first.address])
    const document = JSON.parse(piped.stdout) as {nodes: {id: string; status: string}[]}
    expect(document.nodes.map((node) => `${node.id} ${node.status}`)).to.deep.equal(['u1 up', 'u2 unreachable', 'u3 unreachable'])
  })
})
