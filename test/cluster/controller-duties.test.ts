/**
 * The controller's election duty against a catalog whose writes can be applied after their
 * call gave up (a slow Consul answer): a stale "offline" that lands late must not leave a
 * partition offline while its in-sync replica is live. The catalog here keeps Consul's rule
 * that matters: a check-and-set lands only on the ModifyIndex it names.
 */
import {expect} from 'chai'
import {CATALOG_RECORD_VERSION, type StoredPartitionState} from '../../src/cluster/catalog-records.js'
import {electPartitionLeaders, type ControllerTerm, type ElectionCatalog} from '../../src/cluster/controller-duties.js'
import type {ElectionInput} from '../../src/cluster/leader-election.js'
import {LignumError} from '../../src/errors.js'
import {silentLogger} from '../../src/logger.js'

const TERM: ControllerTerm = {sessionId: 'controller-session', epoch: 3}
// cluster-member.ts reruns a refused or failed duty; a bound keeps a broken duty from looping forever here.
const DUTY_RUNS_MAX = 20

/** One partition in a Consul-like store; the first `slowWrites` writes time out and land only before the next write arrives. */
class SlowWriteCatalog implements ElectionCatalog {
  stored: StoredPartitionState = {
    topic: 'orders',
    partition: 0,
    modifyIndex: 10,
    state: {version: CATALOG_RECORD_VERSION, replicas: ['a', 'b', 'c'], leader: 'a', leaderEpoch: 4, isr: ['a'], epoch: TERM.epoch, partitionEpoch: 7},
  }
  private pending: (() => void)[] = []

  constructor(private slowWrites: number) {}

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
    const state = {...this.stored.state, ...structuredClone(next), epoch: term.epoch, partitionEpoch: this.stored.state.partitionEpoch + 1}
    this.stored = {...this.stored, modifyIndex: this.stored.modifyIndex + 1, state}
    return structuredClone(this.stored)
  }
}

/** cluster-member.ts's loop: the duty runs again while it resolves false or throws; `live` may change between runs. */
async function runUntilSettled(catalog: ElectionCatalog, liveForRun: (run: number) => Set<string>): Promise<void> {
  for (let run = 0; run < DUTY_RUNS_MAX; run++) {
    try {
      if (await electPartitionLeaders(catalog, TERM, liveForRun(run), silentLogger)) return
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
})
