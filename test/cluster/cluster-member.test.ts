/**
 * ClusterMember against a real Consul: members in their own processes (so they can be
 * killed, frozen and stopped), checked through the views they report.
 */
import {expect} from 'chai'
import {ConsulAgent, requireConsulBinary, freePort} from '../helpers/consul.js'
import {useConsul} from '../helpers/consul-suite.js'
import {expectNoOverlappingTerms} from './controller-terms.js'
import {eventually, MemberProcess, type MemberAnswer, type MemberSettings} from './member-process.js'

const SESSION_TTL_MS = 3_000
const LOCK_DELAY_MS = 1_000
// Room on a loaded 2-core machine for processes to start and Consul to answer.
const SETTLE_MS = 45_000

describe('cluster member (real Consul)', function () {
  this.timeout(180_000)
  let consulBinary: string
  const consul = useConsul()
  let members: MemberProcess[] = []
  let clusterCount = 0

  before(async function () {
    consulBinary = await requireConsulBinary(this)
  })

  afterEach(async function () {
    await Promise.all(members.map((member) => member.stop()))
    members = []
  })

  function settings(cluster: string, index: number, overrides: Partial<MemberSettings> = {}): MemberSettings {
    return {
      consulUrl: consul().url,
      cluster,
      nodeId: `node-${index}`,
      advertiseAddress: `127.0.0.1:${41000 + index}`,
      sessionTtlMs: SESSION_TTL_MS,
      lockDelayMs: LOCK_DELAY_MS,
      ...overrides,
    }
  }

  async function startMembers(count: number, overrides: Partial<MemberSettings> = {}): Promise<MemberProcess[]> {
    clusterCount += 1
    const cluster = `test-${clusterCount}`
    const started = await Promise.all(Array.from({length: count}, (_, index) => MemberProcess.start(settings(cluster, index + 1, overrides))))
    members.push(...started)
    return started
  }

  async function answers(from: MemberProcess[]): Promise<MemberAnswer[]> {
    return Promise.all(from.map((member) => member.answer()))
  }

  /** Waits until every member reports the same controller, held by one of `candidates`, with `upNodes` up. */
  async function agreedController(from: MemberProcess[], upNodes: string[], candidates = upNodes): Promise<MemberAnswer[]> {
    return eventually(
      `agreement on a controller among ${candidates.join(', ')} with ${upNodes.join(', ')} up`,
      async () => {
        const all = await answers(from)
        const controllers = new Set(all.map((answer) => answer.view.controller))
        const controller = all[0]!.view.controller
        if (controllers.size !== 1 || controller === null || !candidates.includes(controller)) return undefined
        const actingCount = all.filter((answer) => answer.isController).length
        if (actingCount !== 1) return undefined
        for (const answer of all) {
          const up = answer.view.nodes.filter((node) => node.status === 'up').map((node) => node.id)
          if (JSON.stringify(up) !== JSON.stringify([...upNodes].sort())) return undefined
        }
        return all
      },
      SETTLE_MS,
    )
  }

  it('three members: all up, exactly one controller, every member agrees', async function () {
    const three = await startMembers(3)
    const all = await agreedController(three, ['node-1', 'node-2', 'node-3'])
    const view = all[0]!.view
    expect(view.cluster).to.equal('test-1')
    expect(view.controllerEpoch).to.be.at.least(1)
    expect(view.consulReachable).to.equal(true)
    expect(view.nodes.map((node) => node.address)).to.deep.equal(['127.0.0.1:41001', '127.0.0.1:41002', '127.0.0.1:41003'])
    expect(view.nodes.every((node) => node.version === '0.0.0-test')).to.equal(true)
    for (const answer of all) {
      expect(answer.ready).to.equal(true)
      expect(answer.view).to.deep.equal(view)
      expect(answer.isController).to.equal(answer === all[three.findIndex((member) => member.nodeId === view.controller)])
    }
  })

  it('kill -9 of the controller: another takes over within TTL plus lock-delay; the killed node shows down', async function () {
    const three = await startMembers(3)
    const before = await agreedController(three, ['node-1', 'node-2', 'node-3'])
    const oldController = three.find((member) => member.nodeId === before[0]!.view.controller)!
    const others = three.filter((member) => member !== oldController)
    const killedAtMs = Date.now()
    await oldController.killHard()
    const otherIds = others.map((member) => member.nodeId)
    const after = await agreedController(others, otherIds)
    const takeoverMs = Date.now() - killedAtMs
    const newController = after[0]!.view.controller!
    expect(newController).to.not.equal(oldController.nodeId)
    expect(after[0]!.view.controllerEpoch).to.be.greaterThan(before[0]!.view.controllerEpoch)
    const killed = after[0]!.view.nodes.find((node) => node.id === oldController.nodeId)
    expect(killed?.status).to.equal('down')
    // The takeover waits for Consul to expire the dead node's check (TTL) and the lock-delay;
    // the rest is slack for a loaded machine.
    expect(takeoverMs).to.be.lessThan(SESSION_TTL_MS + LOCK_DELAY_MS + 10_000)
    expectNoOverlappingTerms(others)
  })

  it('kill -9 of the controller and a restart within its TTL that reports a damaged replica: some node becomes controller', async function () {
    const three = await startMembers(3)
    const before = await agreedController(three, ['node-1', 'node-2', 'node-3'])
    const oldController = three.find((member) => member.nodeId === before[0]!.view.controller)!
    await oldController.killHard()
    // The same node at once, well within its old session's TTL: its registration renews the
    // check the old session is tied to.
    const restarted = await MemberProcess.start(oldController.settings)
    members.push(restarted)
    restarted.reportDamaged('faults-0')
    const now = three.map((member) => (member === oldController ? restarted : member))
    const after = await agreedController(now, ['node-1', 'node-2', 'node-3'])
    expect(after[0]!.view.controllerEpoch).to.be.greaterThan(before[0]!.view.controllerEpoch)
    expectNoOverlappingTerms(now)
  })

  /** The ids of the sessions Consul holds for a node (ConsulSession names them after the node). */
  async function sessionsOf(member: MemberProcess): Promise<string[]> {
    const response = await fetch(`${consul().url}/v1/session/list`)
    const sessions = (await response.json()) as {ID: string; Name: string}[]
    return sessions.filter((session) => session.Name === `lignum ${member.settings.cluster} ${member.nodeId}`).map((session) => session.ID)
  }

  it('kill -9 of a member that is not the controller and a restart within its TTL: the new process ends the session the earlier one left', async function () {
    // A TTL a restart (a new process, tsx compiling) surely fits in on a loaded machine: a
    // slower one lets the check go critical, and Consul ends the earlier session itself.
    const three = await startMembers(3, {sessionTtlMs: 3 * SESSION_TTL_MS})
    const before = await agreedController(three, ['node-1', 'node-2', 'node-3'])
    const victim = three.find((member) => member.nodeId !== before[0]!.view.controller)!
    const [earlier] = await sessionsOf(victim)
    expect(earlier, `a session of ${victim.nodeId}`).to.be.a('string')
    await victim.killHard()
    // At once, within the TTL: the new process renews the check the earlier session is tied
    // to, so Consul itself never ends that session.
    const restarted = await MemberProcess.start(victim.settings)
    members.push(restarted)
    const now = three.map((member) => (member === victim ? restarted : member))
    await agreedController(now, ['node-1', 'node-2', 'node-3'])
    const sessions = await eventually('one session of the node, the new process\'s', async () => {
      const ids = await sessionsOf(restarted)
      return ids.length === 1 && ids[0] !== earlier ? ids : undefined
    }, SETTLE_MS)
    expect(restarted.logged('ended the sessions an earlier process of this node left in Consul').map((line) => line.sessions), 'ended by the new process, not by Consul').to.deep.equal([[earlier]])
    expect(sessions).to.have.length(1)
  })

  it('SIGSTOP of the controller past its TTL: another takes over; after SIGCONT the old one steps down and logs it', async function () {
    const three = await startMembers(3)
    const epochs: number[] = []
    const before = await agreedController(three, ['node-1', 'node-2', 'node-3'])
    epochs.push(before[0]!.view.controllerEpoch)
    const frozen = three.find((member) => member.nodeId === before[0]!.view.controller)!
    const others = three.filter((member) => member !== frozen)
    frozen.signal('SIGSTOP')
    const during = await eventually(
      'a new controller while the old one is frozen',
      async () => {
        const all = await answers(others)
        for (const answer of all) epochs.push(answer.view.controllerEpoch)
        const controller = all[0]!.view.controller
        const agreed = all.every((answer) => answer.view.controller === controller)
        return agreed && controller !== null && controller !== frozen.nodeId ? all : undefined
      },
      SETTLE_MS,
    )
    const newController = during[0]!.view.controller
    frozen.signal('SIGCONT')
    const stepDown = await eventually(
      'the old controller to log that it stepped down',
      async () => frozen.logged('stepped down as controller').at(-1),
      SETTLE_MS,
    )
    expect(String(stepDown.reason)).to.match(/renewal overdue|session|lock/)
    const after = await agreedController(three, ['node-1', 'node-2', 'node-3'], [newController!])
    for (const answer of after) epochs.push(answer.view.controllerEpoch)
    expect(after.find((answer) => answer.isController)).to.equal(after[three.findIndex((member) => member.nodeId === newController)])
    expect(epochs).to.deep.equal([...epochs].sort((left, right) => left - right), 'the epoch only grows')
    expectNoOverlappingTerms(three)
  })

  it('a member stopped with SIGTERM deregisters and releases the lock: a new controller without waiting for the TTL', async function () {
    // A long TTL, so that a takeover by expiry could not happen within the test's bound.
    const longTtlMs = 60_000
    const three = await startMembers(3, {sessionTtlMs: longTtlMs})
    const before = await agreedController(three, ['node-1', 'node-2', 'node-3'])
    const leaving = three.find((member) => member.nodeId === before[0]!.view.controller)!
    const others = three.filter((member) => member !== leaving)
    const stoppedAtMs = Date.now()
    await leaving.stop()
    expect(leaving.exitCode).to.equal(0)
    const after = await agreedController(others, others.map((member) => member.nodeId))
    expect(Date.now() - stoppedAtMs).to.be.lessThan(longTtlMs / 2)
    expect(after[0]!.view.controllerEpoch).to.be.greaterThan(before[0]!.view.controllerEpoch)
    expect(after[0]!.view.nodes.find((node) => node.id === leaving.nodeId)?.status).to.equal('down')
    expectNoOverlappingTerms(three)
  })

  it('a fourth member started later shows up', async function () {
    const three = await startMembers(3)
    await agreedController(three, ['node-1', 'node-2', 'node-3'])
    const fourth = await MemberProcess.start(settings(three[0]!.settings.cluster, 4))
    members.push(fourth)
    const all = await agreedController([...three, fourth], ['node-1', 'node-2', 'node-3', 'node-4'])
    expect(all[3]!.view.nodes.map((node) => node.id)).to.deep.equal(['node-1', 'node-2', 'node-3', 'node-4'])
  })

  it('Consul rebuilt from scratch: members re-register and elect a controller under an epoch above any seen', async function () {
    const three = await startMembers(3)
    const before = await agreedController(three, ['node-1', 'node-2', 'node-3'])
    const epochBefore = before[0]!.view.controllerEpoch
    // A dev agent keeps nothing: services, sessions and the epoch counter are all gone.
    await consul().restart()
    const after = await eventually(
      'a controller again, under a newer epoch, and every member ready',
      async () => {
        const all = await agreedController(three, ['node-1', 'node-2', 'node-3'])
        return all[0]!.view.controllerEpoch > epochBefore && all.every((answer) => answer.ready) ? all : undefined
      },
      SETTLE_MS,
    )
    expect(after.map((answer) => answer.ready)).to.deep.equal([true, true, true])
    // A rebuilt Consul forgot the old lock and its lock-delay: the old controller steps down
    // on the first answer of the new Consul (index gone backwards, or its renewal refused),
    // and nobody takes the new lock before a TTL plus the lock-delay, so no two terms overlap.
    expectNoOverlappingTerms(three)
  })

  it('starts while Consul is down, reports the cluster unavailable, and joins when Consul comes up', async function () {
    const httpPort = await freePort()
    const [member] = await startMembers(1, {consulUrl: `http://127.0.0.1:${httpPort}`})
    const alone = await member!.answer()
    expect(alone.ready).to.equal(false)
    expect(alone.isController).to.equal(false)
    expect(alone.view.consulReachable).to.equal(false)
    expect(alone.view.controller).to.equal(null)
    await eventually('the member to log that Consul is unreachable', async () => member!.logged('Consul unreachable: serving local data only, the cluster is unavailable until it returns')[0], SETTLE_MS)
    const late = await ConsulAgent.start(consulBinary, 'dev', {http: httpPort})
    try {
      const joined = await eventually('the member to join once Consul is up', async () => {
        const answer = await member!.answer()
        // The view follows Consul's KV through a blocking watch, a moment after the election.
        return answer.ready && answer.isController && answer.view.controller !== null ? answer : undefined
      }, SETTLE_MS)
      expect(joined.view.controller).to.equal('node-1')
      expect(joined.view.consulReachable).to.equal(true)
      await member!.stop()
    } finally {
      await late.destroy()
    }
  })

  it('rejects options that cannot work, with a message naming the fix', async function () {
    const {ClusterMember} = await import('../../src/cluster/cluster-member.js')
    const {silentLogger} = await import('../../src/logger.js')
    const base = {consulUrl: consul().url, cluster: 'c', nodeId: 'n', advertiseAddress: '127.0.0.1:1', version: 'v', sessionTtlMs: 3000, lockDelayMs: 1000, logger: silentLogger}
    await expectConfigError(ClusterMember.start({...base, consulUrl: 'ftp://x'}), /http:\/\/ or https:\/\//)
    await expectConfigError(ClusterMember.start({...base, cluster: 'a/b'}), /invalid cluster name "a\/b"/)
    await expectConfigError(ClusterMember.start({...base, nodeId: ''}), /invalid node id/)
    await expectConfigError(ClusterMember.start({...base, sessionTtlMs: 10}), /at least 1000 ms/)
  })
})

async function expectConfigError(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  )
  expect(error, 'an error').to.be.instanceOf(Error)
  expect((error as {code?: string}).code).to.equal('CONFIG')
  expect((error as Error).message).to.match(message)
}
