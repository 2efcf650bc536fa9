/**
 * The controller election across a Consul rebuilt from scratch (a dev agent restarted), each
 * node's pieces wired by hand in this process against a real Consul so the test decides what
 * each election observes and when:
 * - the controller of the old history steps down the moment it observes the new history, in
 *   which another session holds the lock, though its lease is still valid and a snapshot of
 *   the new history has an index far below the one it took the lock at;
 * - a node that saw the old history does not take the free lock of the new one before the
 *   check's TTL plus the lock-delay have passed (the time Consul forgot it would have waited).
 */
import {expect} from 'chai'
import {ClusterKeys} from '../../src/cluster/cluster-keys.js'
import {ConsulApi} from '../../src/cluster/consul-api.js'
import {ConsulSession} from '../../src/cluster/consul-session.js'
import {ControllerElection} from '../../src/cluster/controller-election.js'
import {NodeRegistration} from '../../src/cluster/node-registration.js'
import {silentLogger} from '../../src/logger.js'
import {useConsul} from '../helpers/consul-suite.js'
import {plant, waitFor} from './catalog-fixtures.js'

// Long enough that the old controller's lease outlives Consul's restart on a loaded machine.
const SESSION_TTL_MS = 15_000
const LOCK_DELAY_MS = 1_000
// Writes before the rebuild, so the old Consul's index is well above a fresh one's.
const WRITES_BEFORE = 40

/** One node's registration, session and election, renewed by a timer as cluster-member.ts does. */
class HandWiredNode {
  readonly registration: NodeRegistration
  readonly session: ConsulSession
  readonly election: ControllerElection
  private renewTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly api: ConsulApi,
    private readonly keys: ClusterKeys,
    readonly nodeId: string,
  ) {
    const identity = {nodeId, advertiseAddress: '127.0.0.1:1', version: 'test'}
    this.registration = new NodeRegistration(api, keys, identity, SESSION_TTL_MS)
    this.session = new ConsulSession(api, `lignum ${keys.cluster} ${nodeId}`, this.registration.checkId, LOCK_DELAY_MS)
    this.election = new ControllerElection(api, keys, this.registration, this.session, identity, silentLogger)
  }

  /** Registers, opens a session and keeps the lease renewed (errors are retried by the next tick). */
  async join(): Promise<void> {
    await this.registration.register()
    await this.session.ensure()
    clearInterval(this.renewTimer)
    this.renewTimer = setInterval(() => {
      this.registration.renew().then(
        () => this.election.onLeaseRenewed(),
        () => undefined,
      )
    }, SESSION_TTL_MS / 3)
  }

  /** After the rebuild: everything this node had in Consul is gone; join again. */
  async rejoin(): Promise<void> {
    this.session.forget()
    await this.registration.deregister().catch(() => undefined)
    await this.join()
  }

  /** Hands the election a fresh snapshot of the controller keys, as the watch would. */
  async observe(newHistory = false): Promise<number> {
    const snapshot = await this.api.kvTree(this.keys.controllerKeysPrefix, 0, 0)
    this.election.observe(snapshot.data, snapshot.index, newHistory)
    return snapshot.index
  }

  stop(): void {
    clearInterval(this.renewTimer)
  }
}

describe('controller election across a rebuilt Consul (real Consul)', function () {
  this.timeout(120_000)
  const consul = useConsul({
    stopFirst: async () => {
      for (const node of nodes) node.stop()
      api?.close()
    },
  })
  let api: ConsulApi
  let nodes: HandWiredNode[] = []

  before(async function () {
    api = new ConsulApi(consul().url, 5_000)
  })

  it('the old controller steps down on the new history; a node that saw the old one waits a TTL plus the lock-delay before taking the lock', async function () {
    const keys = new ClusterKeys('rebuilt')
    const [oldController, waiter] = [new HandWiredNode(api, keys, 'n1'), new HandWiredNode(api, keys, 'n2')]
    nodes.push(oldController, waiter)
    await oldController.join()
    await oldController.observe()
    await waitFor('n1 to take the lock', () => oldController.election.isController())
    for (let write = 0; write < WRITES_BEFORE; write += 1) await plant(api, `${keys.controllerKeysPrefix}filler-${write}`, String(write))
    await waiter.join()
    const indexBefore = await waiter.observe()
    expect(waiter.election.isController()).to.equal(false)

    await consul().restart()
    // A node that never saw the old history takes the lock of the new one at once.
    const newcomer = new HandWiredNode(api, keys, 'n3')
    nodes.push(newcomer)
    await newcomer.join()
    await newcomer.observe()
    await waitFor('n3 to take the lock in the rebuilt Consul', () => newcomer.election.isController())

    expect(oldController.registration.leaseValid(), 'the old controller\'s lease is still valid').to.equal(true)
    expect(oldController.election.isController()).to.equal(true)
    const indexAfter = await oldController.observe(true)
    expect(indexAfter).to.be.lessThan(indexBefore)
    expect(oldController.election.isController(), 'the old controller after observing the new history').to.equal(false)

    // The waiter: the lock is free once n3 lets it go.
    newcomer.stop()
    await newcomer.election.resign()
    await waiter.rejoin()
    const sawNewHistoryAtMs = performance.now()
    await waiter.observe(true)
    await waitFor('n2 to take the lock', () => waiter.election.isController(), 30_000)
    const waitedMs = performance.now() - sawNewHistoryAtMs
    expect(waitedMs, 'how long n2 waited before taking the lock').to.be.at.least(SESSION_TTL_MS + LOCK_DELAY_MS)
    expect(waiter.election.epoch, 'an epoch above any seen').to.be.greaterThan(newcomer.election.epochs.highest)
  })
})
