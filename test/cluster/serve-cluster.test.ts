/**
 * The must-show list, with real `lignum serve --consul …` processes on loopback and
 * a real Consul: membership, one controller agreed by every node, failover after kill -9 and
 * SIGSTOP, a clean stop handing over at once, a late fourth node, and a Consul restart that
 * heals without restarting any node.
 */
import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {useConsul} from '../helpers/consul-suite.js'
import {expectNoOverlappingTerms} from './controller-terms.js'
import {eventually} from './member-process.js'
import {ServeProcess, type ServeSettings} from './serve-process.js'
import type {ClusterStatus} from '../../src/ui/cluster-status-table.js'
import {printLogs} from './cluster-reads.js'

const SESSION_TTL_MS = 3_000
const LOCK_DELAY_MS = 1_000
// Room on a loaded 2-core machine for processes to start and Consul to answer.
const SETTLE_MS = 60_000
const ALL_THREE = ['n1', 'n2', 'n3']

describe('lignum serve --consul (three real nodes, real Consul)', function () {
  this.timeout(240_000)
  const consul = useConsul({kind: 'persistent'})
  let nodes: ServeProcess[] = []
  let clusterCount = 0

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      printLogs(nodes, 40)
    }
    await Promise.all(nodes.map((node) => node.destroy()))
    nodes = []
  })

  async function startNodes(ids: string[], overrides: Partial<ServeSettings> = {}, cluster?: string): Promise<ServeProcess[]> {
    if (!cluster) clusterCount += 1
    const name = cluster ?? `serve-${clusterCount}`
    const started = await Promise.all(
      ids.map((nodeId) =>
        ServeProcess.start({consulUrl: consul().url, cluster: name, nodeId, sessionTtlMs: SESSION_TTL_MS, lockDelayMs: LOCK_DELAY_MS, ...overrides}),
      ),
    )
    nodes.push(...started)
    return started
  }

  /**
   * Waits until every node in `from` names the same controller among `candidates`, under an
   * epoch of at least `minimumEpoch`, with exactly `upIds` up.
   */
  async function agreement(from: ServeProcess[], upIds: string[], candidates = upIds, minimumEpoch = 1): Promise<ClusterStatus[]> {
    return eventually(
      `every node to agree on a controller among ${candidates.join(', ')} with ${upIds.join(', ')} up`,
      async () => {
        const statuses = await Promise.all(from.map((node) => node.status()))
        const controller = statuses[0]!.controller
        if (controller === null || !candidates.includes(controller) || statuses[0]!.controllerEpoch < minimumEpoch) return undefined
        for (const status of statuses) {
          if (status.controller !== controller || status.controllerEpoch !== statuses[0]!.controllerEpoch) return undefined
          const up = status.nodes.filter((node) => node.status === 'up').map((node) => node.id)
          if (JSON.stringify(up) !== JSON.stringify([...upIds].sort())) return undefined
        }
        return statuses
      },
      SETTLE_MS,
    )
  }

  /** `lignum cluster status --json` against each node: the same document but for `node`. */
  async function statusFromEveryNode(from: ServeProcess[]): Promise<ClusterStatus[]> {
    const documents: ClusterStatus[] = []
    for (const node of from) {
      const result = await runCli(['cluster', 'status', '--json', '--brokers', node.address])
      expect(result.code, result.stderr).to.equal(0)
      const document = JSON.parse(result.stdout) as ClusterStatus
      expect(document.node).to.equal(node.nodeId)
      documents.push(document)
    }
    const withoutNode = documents.map(({node: _node, ...rest}) => rest)
    for (const document of withoutNode) expect(document).to.deep.equal(withoutNode[0])
    return documents
  }

  function nodeOf(id: string | null): ServeProcess {
    const node = nodes.find((candidate) => candidate.nodeId === id)
    if (!node) throw new Error(`no node ${id}`)
    return node
  }

  it('three nodes show up, exactly one is controller, and `cluster status --json` agrees from every node', async function () {
    const three = await startNodes(ALL_THREE)
    await agreement(three, ALL_THREE)
    const documents = await statusFromEveryNode(three)
    const document = documents[0]!
    expect(document.cluster).to.equal(three[0]!.settings.cluster)
    expect(document.mode).to.equal('cluster')
    expect(ALL_THREE).to.include(document.controller)
    expect(document.controllerEpoch).to.be.at.least(1)
    expect(document.nodes.map((node) => [node.id, node.address, node.status])).to.deep.equal(three.map((node) => [node.nodeId, node.address, 'up']))
    expect(three.map((node) => node.logged('became controller').length).reduce((sum, count) => sum + count, 0)).to.equal(1)
    for (const node of three) expect(await node.readyz()).to.equal(200)
  })

  it('kill -9 of the controller: another takes over within the TTL bound plus lock-delay; status shows the killed node down', async function () {
    const three = await startNodes(ALL_THREE)
    const before = await agreement(three, ALL_THREE)
    const killed = nodeOf(before[0]!.controller)
    const survivors = three.filter((node) => node !== killed)
    const killedAtMs = Date.now()
    await killed.killHard()
    await agreement(survivors, survivors.map((node) => node.nodeId))
    const takeoverMs = Date.now() - killedAtMs
    // Consul expires the dead node's check after the TTL, then holds the lock for the
    // lock-delay; the rest is slack for a loaded machine.
    expect(takeoverMs).to.be.lessThan(SESSION_TTL_MS + LOCK_DELAY_MS + 10_000)
    const documents = await statusFromEveryNode(survivors)
    expect(documents[0]!.controller).to.not.equal(killed.nodeId)
    expect(documents[0]!.controllerEpoch).to.be.greaterThan(before[0]!.controllerEpoch)
    expect(documents[0]!.nodes.find((node) => node.id === killed.nodeId)?.status).to.equal('down')
    expectNoOverlappingTerms(survivors)
  })

  it('SIGSTOP of the controller past its TTL: another takes over; after SIGCONT the old one steps down and logs it; never two controllers, the epoch only grows', async function () {
    const three = await startNodes(ALL_THREE)
    const samples: {from: string; status: ClusterStatus}[] = []
    const sample = async (from: ServeProcess[]) => {
      const statuses = await Promise.all(from.map((node) => node.status()))
      statuses.forEach((status, index) => samples.push({from: from[index]!.nodeId, status}))
      return statuses
    }
    const before = await agreement(three, ALL_THREE)
    const frozen = nodeOf(before[0]!.controller)
    const others = three.filter((node) => node !== frozen)
    frozen.signal('SIGSTOP')
    const during = await eventually(
      'a new controller while the old one is frozen',
      async () => {
        const statuses = await sample(others)
        const controller = statuses[0]!.controller
        const agreed = statuses.every((status) => status.controller === controller)
        return agreed && controller !== null && controller !== frozen.nodeId ? statuses : undefined
      },
      SETTLE_MS,
    )
    const newController = during[0]!.controller!
    frozen.signal('SIGCONT')
    const stepDown = await eventually('the old controller to log its step-down', async () => frozen.logged('stepped down as controller').at(-1), SETTLE_MS)
    expect(stepDown.level).to.equal('warn')
    expect(String(stepDown.reason)).to.match(/renewal overdue|session|lock/)
    const after = await agreement(three, ALL_THREE, [newController])
    await sample(three)
    expect(after[0]!.controllerEpoch).to.be.greaterThan(before[0]!.controllerEpoch)
    expectOneControllerPerEpoch(samples)
    expectEpochsOnlyGrow(samples)
    expectNoOverlappingTerms(three)
  })

  it('a node stopped with SIGTERM deregisters and releases the lock at once: a new controller without waiting for the TTL', async function () {
    // A TTL this long makes a takeover by expiry impossible within the bound below.
    const longTtlMs = 60_000
    const three = await startNodes(ALL_THREE, {sessionTtlMs: longTtlMs})
    const before = await agreement(three, ALL_THREE)
    const leaving = nodeOf(before[0]!.controller)
    const staying = three.filter((node) => node !== leaving)
    const stoppedAtMs = Date.now()
    await leaving.stop()
    expect(leaving.exitCode).to.equal(0)
    await agreement(staying, staying.map((node) => node.nodeId))
    expect(Date.now() - stoppedAtMs).to.be.lessThan(longTtlMs / 2)
    const documents = await statusFromEveryNode(staying)
    expect(documents[0]!.controllerEpoch).to.be.greaterThan(before[0]!.controllerEpoch)
    expect(documents[0]!.nodes.find((node) => node.id === leaving.nodeId)?.status).to.equal('down')
    expect(leaving.logged('left the cluster')).to.have.length(1)
  })

  it('a fourth node started later appears as up', async function () {
    const three = await startNodes(ALL_THREE)
    await agreement(three, ALL_THREE)
    const [fourth] = await startNodes(['n4'], {}, three[0]!.settings.cluster)
    const four = [...three, fourth!]
    await agreement(four, [...ALL_THREE, 'n4'])
    const documents = await statusFromEveryNode(four)
    expect(documents[0]!.nodes.map((node) => `${node.id}:${node.status}`)).to.deep.equal(['n1:up', 'n2:up', 'n3:up', 'n4:up'])
  })

  it('Consul restarted (persistent data): nodes say the cluster is unavailable meanwhile, then re-register and elect a controller without a restart', async function () {
    const three = await startNodes(ALL_THREE)
    const before = await agreement(three, ALL_THREE)
    await consul().stop()
    await eventually(
      '/readyz to report every node not ready while Consul is down',
      async () => ((await Promise.all(three.map((node) => node.readyz()))).every((code) => code === 503) ? true : undefined),
      SETTLE_MS,
    )
    const downStatus = await three[0]!.status()
    expect(downStatus.consulReachable).to.equal(false)
    await eventually('a node to log that Consul is unreachable', async () => three[0]!.logged('Consul unreachable: serving local data only, the cluster is unavailable until it returns')[0], SETTLE_MS)
    // Down longer than the TTL: the controller cannot renew, so it must stop acting.
    const controller = nodeOf(before[0]!.controller)
    await eventually('the controller to step down while Consul is down', async () => controller.logged('stepped down as controller')[0], SETTLE_MS)
    await consul().restart()
    // The lock may have survived in Consul's data; its holder resumes only under a new epoch.
    const after = await agreement(three, ALL_THREE, ALL_THREE, before[0]!.controllerEpoch + 1)
    expect(after[0]!.controllerEpoch).to.be.greaterThan(before[0]!.controllerEpoch)
    await eventually(
      '/readyz to report every node ready again',
      async () => ((await Promise.all(three.map((node) => node.readyz()))).every((code) => code === 200) ? true : undefined),
      SETTLE_MS,
    )
    await statusFromEveryNode(three)
    expect(three.every((node) => node.exitCode === null)).to.equal(true)
    expectNoOverlappingTerms(three)
  })
})

/** Across every status sampled, an epoch always names the same controller. */
function expectOneControllerPerEpoch(samples: {status: ClusterStatus}[]): void {
  const controllerOfEpoch = new Map<number, string>()
  for (const {status} of samples) {
    if (status.controller === null) continue
    const known = controllerOfEpoch.get(status.controllerEpoch)
    expect(known ?? status.controller, `epoch ${status.controllerEpoch} named two controllers`).to.equal(status.controller)
    controllerOfEpoch.set(status.controllerEpoch, status.controller)
  }
}

/** Each node's successive answers never show the epoch going back. */
function expectEpochsOnlyGrow(samples: {from: string; status: ClusterStatus}[]): void {
  const lastEpoch = new Map<string, number>()
  for (const {from, status} of samples) {
    expect(status.controllerEpoch, `node ${from}'s epoch went back`).to.be.at.least(lastEpoch.get(from) ?? 0)
    lastEpoch.set(from, status.controllerEpoch)
  }
}
