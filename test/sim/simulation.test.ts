import {expect} from 'chai'
import {digestOf, runSeeds} from '../../sim/seed-runs.js'
import {simulate, type SimulationResult} from '../../sim/simulation.js'

// A fixed set, run by every `npm test` in a process of its own, so file I/O other test files
// leave running does not stretch each event's wait for quiescence. `npm run simulate -- --seeds N`
// explores further.
const THREE_REPLICA_SEEDS = Array.from({length: 16}, (_, index) => index + 1)
const FIVE_REPLICA_SEEDS = [1, 2, 3, 4]
// With --disk-faults, seeds that failed before the simulated control plane passed incarnations
// and replica health to the election (31, 58, 296: divergent, a leader back within the TTL at
// its old epoch with an emptier log; 57, 66: damaged-leader, a flipped bit's replica leading),
// and before the ISR recorded its members' incarnations (15, 18: lost, a follower emptied by a
// power loss stayed in the ISR and was elected). Registering no incarnation fails 58 again;
// registering every replica healthy, 66; leaving restarted followers in the ISR, 15 and 18.
// (132 was here for replica health; since the leader starts a restarted follower over, its
// schedule ends with its sole in-sync replica holding the flipped bit elected as the last
// resort, the damaged-leader limit sim/README.md describes.)
const DISK_FAULT_SEEDS = [15, 18, 31, 57, 58, 66, 296]

describe('deterministic simulation of replication and failover', function () {
  // Generous: the machine may be loaded; nothing here asserts speed.
  this.timeout(300_000)
  const threeReplicaRuns: SimulationResult[] = []
  const fiveReplicaRuns: SimulationResult[] = []

  before(async () => {
    for (const seed of THREE_REPLICA_SEEDS) threeReplicaRuns.push(await simulate(seed, 3))
  })

  it('keeps every invariant for the fixed seeds with three replicas', () => {
    for (const result of threeReplicaRuns) {
      expect(result.violations, `seed ${result.seed}: ${result.schedule.slice(-60).join('\n')}`).to.deep.equal([])
    }
  })

  it('keeps every invariant for the fixed seeds with five replicas', async () => {
    for (const seed of FIVE_REPLICA_SEEDS) {
      const result = await simulate(seed, 5)
      fiveReplicaRuns.push(result)
      expect(result.violations, `seed ${seed}: ${result.schedule.slice(-60).join('\n')}`).to.deep.equal([])
    }
  })

  it('keeps every invariant for disk-fault seeds that a restart within the TTL, a power loss or a flipped bit broke before incarnations, replica health and the ISR\'s incarnations', async () => {
    const runs: SimulationResult[] = []
    for (const seed of DISK_FAULT_SEEDS) {
      const result = await simulate(seed, 3, {diskFaults: true})
      runs.push(result)
      expect(result.violations, `seed ${seed}: ${result.schedule.slice(-60).join('\n')}`).to.deep.equal([])
    }
    const lines = runs.flatMap((result) => result.schedule)
    // The mechanisms ran: a restarted leader refused its old leadership, and the election saw a replica reported unverified and one damaged.
    expect(lines.some((line) => line.includes('does not act on the leadership'))).to.equal(true)
    expect(lines.some((line) => /controller: sees live .* unverified/.test(line))).to.equal(true)
    expect(lines.some((line) => line.includes('restarted followers removed from the ISR'))).to.equal(true)
    expect(lines.some((line) => /reports damaged \[sim-0\]/.test(line))).to.equal(true)
  })

  it('exercises failover: the fixed seeds crash nodes, change leaders and still acknowledge writes', () => {
    let crashes = 0
    let leaderChanges = 0
    let acknowledged = 0
    for (const result of threeReplicaRuns) {
      crashes += result.crashes
      leaderChanges += result.leaderChanges
      acknowledged += result.acknowledged
    }
    expect(crashes).to.be.greaterThan(0)
    expect(leaderChanges).to.be.greaterThan(0)
    expect(acknowledged).to.be.greaterThan(100)
    // The elections are the production controller's (controller-duties.ts logs each one into the schedule).
    expect(threeReplicaRuns.some((result) => result.schedule.some((line) => line.includes('controller: partition leader elected')))).to.equal(true)
  })

  it('replays every fixed seed exactly: the same schedule, event for event', async () => {
    // Digests, so a mismatch names the seeds; a seed's own replay (npm run simulate -- --seed S) shows its schedule.
    const differing: number[] = []
    for (const first of [...threeReplicaRuns, ...fiveReplicaRuns]) {
      const second = await simulate(first.seed, first.replicas as 3 | 5)
      if (digestOf(second.schedule) !== digestOf(first.schedule) || second.acknowledged !== first.acknowledged) differing.push(first.seed)
    }
    expect(differing, 'seeds whose second run differed from the first').to.deep.equal([])
    // The same seed in a worker thread, as npm run simulate runs it.
    const [inWorker] = await runSeeds({seeds: [THREE_REPLICA_SEEDS[0]], job: {replicas: 3}, workers: 2, replays: 2})
    expect(inWorker.scheduleDigest).to.equal(digestOf(threeReplicaRuns[0].schedule))
    expect(inWorker.result.violations).to.deep.equal([])
  })

  it('catches a leader that commits at its own log end without its followers', async () => {
    const result = await simulate(1, 3, {sabotage: 'leader-high-watermark-at-own-log-end'})
    expect(result.violations.some((violation) => violation.startsWith('lost:'))).to.equal(true)
    expect(result.violations.some((violation) => violation.startsWith('high-watermark:'))).to.equal(true)
  })

  it('catches a follower that does not truncate to its new leader: the replicas diverge below the high watermark', async () => {
    // Seeds that lead a deposed leader's unreplicated tail into a new epoch, found by `--sabotage follower-skips-truncation`.
    for (const seed of [11, 13]) {
      const result = await simulate(seed, 3, {sabotage: 'follower-skips-truncation'})
      expect(result.violations.some((violation) => violation.startsWith('divergent:')), `seed ${seed}: ${result.violations.join('; ')}`).to.equal(true)
    }
    // The planted bug is taken out again: the same seeds pass.
    for (const seed of [11, 13]) expect((await simulate(seed, 3)).violations).to.deep.equal([])
  })
})
