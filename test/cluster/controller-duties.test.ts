/**
 * The controller's election duty against a catalog whose writes can be applied after their
 * call gave up (a slow Consul answer): a stale "offline" that lands late must not leave a
 * partition offline while its in-sync replica is live. The catalog here keeps Consul's rule
 * that matters: a check-and-set lands only on the ModifyIndex it names.
 */
import {expect} from 'chai'
import {CATALOG_RECORD_VERSION, type PartitionState, type StoredPartitionState} from '../../src/cluster/catalog-records.js'
import {electPartitionLeaders, type ControllerTerm, type ElectionCatalog} from '../../src/cluster/controller-duties.js'
import type {ElectionInput} from '../../src/cluster/leader-election.js'
import type {NodeReplicaHealth} from '../../src/cluster/replica-health.js'
import {LignumError} from '../../src/errors.js'
import {silentLogger} from '../../src/logger.js'

const TERM: ControllerTerm = {sessionId: 'controller-session', epoch: 3}
// cluster-member.ts reruns a refused or failed duty; a bound keeps a broken duty from looping forever here.
const DUTY_RUNS_MAX = 20

const ONE_IN_SYNC: PartitionState = {version: CATALOG_RECORD_VERSION, replicas: ['a', 'b', 'c'], leader: 'a', leaderEpoch: 4, isr: ['a'], epoch: TERM.epoch, partitionEpoch: 7}

/** One partition in a Consul-like store; the first `slowWrites` writes time out and land only before the next write arrives. */
class SlowWriteCatalog implements ElectionCatalog {
  stored: StoredPartitionState
  private pending: (() => void)[] = []

  constructor(private slowWrites: number, state: PartitionState = ONE_IN_SYNC) {
    this.stored = {topic: 'orders', partition: 0, modifyIndex: 10, state: structuredClone(state)}
  }

  async describeAllTopics() {
    return [{topic: {name: 'orders', settings: {}}, partitions: [structuredClone(this.stored)]}]
  }

  async writePartitionAsController(term: ControllerTerm, current: StoredPartitionState, next: ElectionInput) {
    this.landPending()
    const apply = () => this.apply(term, current, next)
    if (this.slowWrites > 0) {
      this.slowWrites -= 1
      this.pending.push(() => void apply())
      throw new LignumError('UNAVAILABLE', 'Consul request timed out')
    }
    return apply()
  }

  /** Consul gets round to the writes whose callers gave up. */
  landPending(): void {
    for (const write of this.pending.splice(0)) write()
  }

  private apply(term: ControllerTerm, current: StoredPartitionState, next: ElectionInput): StoredPartitionState | undefined {
    if (current.modifyIndex !== this.stored.modifyIndex) return undefined
    const {isrIncarnations: _replaced, ...kept} = this.stored.state
    const state = {...kept, ...structuredClone(next), epoch: term.epoch, partitionEpoch: this.stored.state.partitionEpoch + 1}
    this.stored = {...this.stored, modifyIndex: this.stored.modifyIndex + 1, state}
    return structuredClone(this.stored)
  }
}

/** cluster-member.ts's loop: the duty runs again while it resolves false or throws; `live` may change between runs. */
async function runUntilSettled(catalog: ElectionCatalog, liveForRun: (run: number) => Set<string>, nodes: NodeReplicaHealth[] = []): Promise<void> {
  for (let run = 0; run < DUTY_RUNS_MAX; run++) {
    try {
      if (await electPartitionLeaders(catalog, TERM, liveForRun(run), silentLogger, nodes)) return
    } catch {
      // retried, as cluster-member does
    }
  }
  throw new Error(`the duty did not settle in ${DUTY_RUNS_MAX} runs`)
}

describe('controller election duty', () => {
  it('elects as usual when every write is answered', async () => {
    const catalog = new SlowWriteCatalog(0)
    await runUntilSettled(catalog, () => new Set(['b', 'c']))
    expect(catalog.stored.state).to.deep.include({leader: null, leaderEpoch: 5, isr: ['a']})
  })

  it('does not leave a partition offline when its "offline" write lands after the call timed out and the leader came back', async () => {
    const catalog = new SlowWriteCatalog(1)
    // The leader's check went critical for the first run only: it is live again when the duty reruns.
    await runUntilSettled(catalog, (run) => (run === 0 ? new Set(['b', 'c']) : new Set(['a', 'b', 'c'])))
    catalog.landPending()
    expect(catalog.stored.state.leader, JSON.stringify(catalog.stored.state)).to.equal('a')
    expect(catalog.stored.state.leaderEpoch).to.be.greaterThan(4)
  })

  it('settles a write whose answers are lost several times in a row with one landing', async () => {
    const catalog = new SlowWriteCatalog(3)
    await runUntilSettled(catalog, () => new Set(['b', 'c']))
    catalog.landPending()
    expect(catalog.stored.state).to.deep.include({leader: null, leaderEpoch: 5, isr: ['a']})
    expect(catalog.stored.modifyIndex, 'one of the attempts landed, the others were refused').to.equal(11)
  })

  describe('restarted followers (KIP-903)', () => {
    const ALL_IN_SYNC: PartitionState = {...ONE_IN_SYNC, isr: ['a', 'b', 'c'], leaderIncarnation: 'a-1', isrIncarnations: {a: 'a-1', b: 'b-1', c: 'c-1'}}
    const registered = (incarnations: Record<string, string>): NodeReplicaHealth[] =>
      Object.entries(incarnations).map(([id, incarnation]) => ({id, incarnation, damagedReplicas: [], unverifiedReplicas: []}))

    it('takes a follower that re-registered under a new incarnation out of the ISR at the next partition epoch, sending the same check-and-set while answers are lost', async () => {
      const catalog = new SlowWriteCatalog(2, ALL_IN_SYNC)
      await runUntilSettled(catalog, () => new Set(['a', 'b', 'c']), registered({a: 'a-1', b: 'b-2', c: 'c-1'}))
      catalog.landPending()
      expect(catalog.stored.state).to.deep.include({leader: 'a', leaderEpoch: 4, isr: ['a', 'c'], isrIncarnations: {a: 'a-1', c: 'c-1'}, partitionEpoch: 8})
      expect(catalog.stored.modifyIndex, 'one of the attempts landed').to.equal(11)
    })

    it('does not elect a follower that restarted (maybe emptied by a power loss) when the leader dies: the one that kept its process leads', async () => {
      const catalog = new SlowWriteCatalog(0, ALL_IN_SYNC)
      await runUntilSettled(catalog, () => new Set(['b', 'c']), registered({b: 'b-2', c: 'c-1'}))
      expect(catalog.stored.state).to.deep.include({leader: 'c', leaderEpoch: 5, isr: ['c'], leaderIncarnation: 'c-1', partitionEpoch: 8})
    })

    it('leaves a state with no recorded incarnations as it is (a cluster upgrading from before they were recorded)', async () => {
      const {isrIncarnations: _none, ...older} = ALL_IN_SYNC
      const catalog = new SlowWriteCatalog(0, older)
      await runUntilSettled(catalog, () => new Set(['a', 'b', 'c']), registered({a: 'a-1', b: 'b-2', c: 'c-2'}))
      expect(catalog.stored.modifyIndex).to.equal(10)
    })
  })
})
