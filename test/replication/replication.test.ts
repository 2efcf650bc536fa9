import {expect} from 'chai'
import type {Partition} from '../../src/broker/partition.js'
import {LignumError} from '../../src/errors.js'
import {batchPositions, setBaseOffset, setPartitionLeaderEpoch} from '../../src/format/record-batch.js'
import {InProcessLeaderClient} from '../../src/replication/in-process-leader-client.js'
import {eventually, incarnationOf, quiet, recordsBatch, ThreeReplicas, TOPIC} from './replicas.js'

async function rejection(promise: Promise<unknown>): Promise<LignumError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught)
  expect(error, 'expected a LignumError').to.be.instanceOf(LignumError)
  return error as LignumError
}

/** Produces with acks=all as the broker does: append (refused below min ISR), then wait for the high watermark. */
function produceAll(leader: Partition, values: string[]): {done: Promise<number>; settled: () => boolean} {
  let settled = false
  const done = leader
    .appendAsLeader(recordsBatch(values), {acks: 'all'})
    .then(async ({lastOffset}) => {
      await leader.waitForHighWatermark(lastOffset, 600_000)
      return lastOffset
    })
    .finally(() => (settled = true))
  return {done, settled: () => settled}
}

/** A batch as a leader of `epoch` wrote it at `baseOffset`. */
function epochBatch(values: string[], baseOffset: number, epoch: number): Buffer {
  const batch = recordsBatch(values)
  setBaseOffset(batch, baseOffset)
  setPartitionLeaderEpoch(batch, epoch)
  return batch
}

/** Moves the manual clock in steps, letting fetches, appends and ISR writes run between them. */
async function advance(replicas: ThreeReplicas, totalMs: number, stepMs = 250): Promise<void> {
  for (let passed = 0; passed < totalMs; passed += stepMs) {
    replicas.clock.advance(Math.min(stepMs, totalMs - passed))
    await quiet(5)
  }
}

async function expectIdenticalLogs(replicas: ThreeReplicas): Promise<void> {
  const leaderEnd = replicas.leader.logEndOffset
  await eventually(() => [1, 2, 3].every((id) => replicas.node(id).partition.logEndOffset === leaderEnd), 'every replica to reach the leader\'s log end')
  const [one, two, three] = [await replicas.dump(1), await replicas.dump(2), await replicas.dump(3)]
  expect(one.length).to.be.greaterThan(0)
  expect(one.every((batch) => batch.crcValid)).to.equal(true)
  expect(two).to.deep.equal(one)
  expect(three).to.deep.equal(one)
}

describe('replication: three replicas in one process', function () {
  this.timeout(20_000)
  let replicas: ThreeReplicas

  afterEach(async () => {
    await replicas?.close()
  })

  it('acknowledges acks=all only once both followers fetched past the batch; the three logs are identical batch by batch', async () => {
    replicas = await ThreeReplicas.start()
    const leader = replicas.leader
    expect(leader.role).to.equal('leader')
    replicas.setLink(3, false)
    const first = produceAll(leader, ['a', 'b', 'c'])
    await eventually(() => replicas.node(2).partition.logEndOffset === 3, 'follower 2 to copy the batch')
    await quiet()
    expect(first.settled(), 'acks=all must wait for follower 3').to.equal(false)
    expect(leader.highWatermark).to.equal(0)

    replicas.setLink(3, true)
    replicas.clock.advance(100)
    expect(await first.done).to.equal(2)
    expect(leader.followerState(2)?.logEndOffset).to.equal(3)
    expect(leader.followerState(3)?.logEndOffset).to.equal(3)

    for (let index = 0; index < 5; index++) await produceAll(leader, [`r${index}`, `s${index}`]).done
    await expectIdenticalLogs(replicas)
    // The followers learn the high watermark from the fetch answers.
    await advance(replicas, 1000)
    await eventually(() => [2, 3].every((id) => replicas.node(id).partition.highWatermark === leader.highWatermark), 'followers to learn the high watermark')
  })

  it('changes no ISR once its node began to shut down, though its followers stop fetching', async () => {
    replicas = await ThreeReplicas.start()
    const leader = replicas.leader
    await produceAll(leader, ['a']).done
    const writesBefore = replicas.control.writes.length
    replicas.nodes.get(1)!.manager.stopIsrChanges()
    replicas.setLink(2, false)
    replicas.setLink(3, false)
    await leader.appendAsLeader(recordsBatch(['b']))
    await advance(replicas, 12_000)
    expect(leader.isr).to.deep.equal([1, 2, 3])
    expect(replicas.control.writes.length).to.equal(writesBefore)
  })

  it('drops a follower that stopped fetching from the ISR after replicaLagMaxMs, refuses acks=all below min ISR, and takes it back once caught up', async () => {
    replicas = await ThreeReplicas.start()
    const leader = replicas.leader
    await produceAll(leader, ['a']).done

    replicas.setLink(3, false)
    const waiting = produceAll(leader, ['b'])
    await advance(replicas, 9000)
    expect(leader.isr).to.deep.equal([1, 2, 3])
    expect(waiting.settled()).to.equal(false)
    await advance(replicas, 3000)
    await eventually(() => leader.isr.length === 2, 'the ISR to shrink')
    expect(leader.isr).to.deep.equal([1, 2])
    expect(replicas.control.state.isr).to.deep.equal([1, 2])
    expect(replicas.control.writes.at(-1)).to.deep.include({isr: [1, 2], leaderEpoch: 1, accepted: true})
    await waiting.done
    await produceAll(leader, ['c']).done

    replicas.setLink(2, false)
    // An idle follower at the leader's log end is in sync (Kafka's rule): a write makes it lag.
    await leader.appendAsLeader(recordsBatch(['c2']))
    await advance(replicas, 12_000)
    await eventually(() => leader.isr.length === 1, 'the ISR to shrink to the leader')
    const endBefore = leader.logEndOffset
    const refused = await rejection(leader.appendAsLeader(recordsBatch(['d']), {acks: 'all'}))
    expect(refused.code).to.equal('NOT_ENOUGH_REPLICAS')
    expect(leader.logEndOffset).to.equal(endBefore)
    const acksOne = await leader.appendAsLeader(recordsBatch(['e']))
    expect(acksOne.baseOffset).to.equal(endBefore)

    replicas.setLink(2, true)
    replicas.setLink(3, true)
    for (let round = 0; round < 40 && leader.isr.length < 3; round++) await advance(replicas, 500)
    expect([...leader.isr].sort()).to.deep.equal([1, 2, 3])
    expect([...replicas.control.state.isr].sort()).to.deep.equal([1, 2, 3])
    await produceAll(leader, ['f']).done
    await expectIdenticalLogs(replicas)
  })

  it('keeps the old ISR when the control plane refuses the write', async () => {
    replicas = await ThreeReplicas.start()
    const leader = replicas.leader
    await produceAll(leader, ['a']).done
    replicas.control.failWrites = true
    replicas.setLink(3, false)
    const waiting = produceAll(leader, ['b'])
    waiting.done.catch(() => {}) // rejected with UNAVAILABLE when the replicas close
    await advance(replicas, 12_000)
    expect(waiting.settled(), 'acks=all waits while follower 3 stays in the ISR').to.equal(false)
    expect(replicas.control.writes.some((write) => !write.accepted && write.isr.join() === '1,2')).to.equal(true)
    expect(leader.isr).to.deep.equal([1, 2, 3])
    expect(leader.pendingIsr).to.equal(null)
  })

  it('sends an ISR expansion again when its answer is lost, so the leader never leaves out a follower the stored ISR holds', async () => {
    // Found by the simulator (npm run simulate -- --seed 94 before this fix): an expansion given
    // up on landed later, and the leader acknowledged records its new in-sync follower lacked.
    replicas = await ThreeReplicas.start()
    const leader = replicas.leader
    await produceAll(leader, ['a']).done
    replicas.setLink(3, false)
    await leader.appendAsLeader(recordsBatch(['b']))
    await advance(replicas, 12_000)
    await eventually(() => leader.isr.length === 2, 'the ISR to shrink')
    replicas.control.loseAnswers = 1
    replicas.setLink(3, true)
    const expansions = () => replicas.control.writes.filter((write) => write.isr.length === 3)
    for (let round = 0; round < 100 && expansions().length === 0; round++) await advance(replicas, 50, 50)
    await eventually(() => leader.pendingIsr === null, 'the expansion to settle')
    expect(replicas.control.state.isr).to.deep.equal([1, 2, 3])
    expect(leader.isr, 'the leader\'s ISR, against the stored one').to.deep.equal([1, 2, 3])
    expect(expansions().length, 'the expansion sent again after its lost answer').to.equal(2)
  })

  it('names, in an ISR expansion, the incarnation the added follower fetched with, so the controller can tell a later restart', async () => {
    replicas = await ThreeReplicas.start()
    const leader = replicas.leader
    await produceAll(leader, ['a']).done
    expect(leader.followerIncarnation(3), 'carried by the follower\'s fetches').to.equal(incarnationOf(3))
    replicas.setLink(3, false)
    await leader.appendAsLeader(recordsBatch(['b']))
    await advance(replicas, 12_000)
    await eventually(() => leader.isr.length === 2, 'the ISR to shrink')
    expect(replicas.control.writes.at(-1)?.addedIncarnations, 'a shrink adds nobody').to.equal(undefined)
    replicas.setLink(3, true)
    const expansions = () => replicas.control.writes.filter((write) => write.isr.length === 3)
    for (let round = 0; round < 100 && expansions().length === 0; round++) await advance(replicas, 50, 50)
    expect(expansions()[0]?.addedIncarnations).to.deep.equal({3: incarnationOf(3)})
  })

  it('applies new partition state while an ISR write hangs, and drops the write\'s outcome', async () => {
    replicas = await ThreeReplicas.start()
    const leader = replicas.leader
    await produceAll(leader, ['a']).done
    replicas.control.hangWrites = true
    replicas.setLink(3, false)
    await leader.appendAsLeader(recordsBatch(['b']))
    await advance(replicas, 12_000)
    expect(leader.pendingIsr).to.deep.equal([1, 2])
    expect(leader.isr).to.deep.equal([1, 2, 3])
    const moved = {...replicas.control.state, leader: 2, leaderEpoch: 2, isr: [1, 2]}
    expect(await replicas.node(1).manager.applyPartitionState(moved)).to.equal('following')
    expect(leader.role).to.equal('follower')
    expect(leader.pendingIsr).to.equal(null)
  })

  it('truncates a diverged follower to the leader\'s epoch end, looping back over epochs the leader never had, and converges', async () => {
    replicas = await ThreeReplicas.start({
      beforeState: async (setup) => {
        const common = [epochBatch(['a', 'b'], 0, 1), epochBatch(['c', 'd'], 2, 1)]
        for (const id of [1, 2, 3]) for (const batch of common) await setup.node(id).partition.appendAsFollower(batch)
        // Node 1 (the next leader) went on in epoch 2. Node 2 holds more of epoch 1 and then
        // epoch 3, which node 1 never saw: asked for epoch 3, node 1 answers epoch 2 ending at 6,
        // node 2's epoch 1 ends at 6 too, and only a second round (epoch 1 ends at 4) finds
        // that offsets 4 and 5 diverged. Node 3 holds more of epoch 1 than node 1 does.
        await setup.node(1).partition.appendAsFollower(epochBatch(['e2-1', 'e2-2'], 4, 2))
        await setup.node(2).partition.appendAsFollower(epochBatch(['e1-x', 'e1-y'], 4, 1))
        await setup.node(2).partition.appendAsFollower(epochBatch(['e3-1', 'e3-2', 'e3-3'], 6, 3))
        await setup.node(3).partition.appendAsFollower(epochBatch(['e1-extra'], 4, 1))
        setup.control.state = {...setup.control.state, leader: 1, leaderEpoch: 4}
      },
    })
    const leader = replicas.leader
    expect(leader.leaderEpoch).to.equal(4)
    await produceAll(leader, ['e4-1']).done
    await expectIdenticalLogs(replicas)
    const dump = await replicas.dump(2)
    expect(dump.map((batch) => [batch.baseOffset, batch.partitionLeaderEpoch])).to.deep.equal([[0, 1], [2, 1], [4, 2], [6, 4]])
    const truncations = replicas.logger.lines.filter((line) => line.message === 'truncating a follower to the leader')
    expect(truncations.map((line) => line.fields?.offset)).to.have.members([6, 4, 4])
  })

  it('answers a fetch with a stale leader epoch FENCED_LEADER_EPOCH, one to a follower of its epoch UNKNOWN_LEADER_EPOCH and of an older one NOT_LEADER; the fenced fetcher stops until new state', async () => {
    replicas = await ThreeReplicas.start()
    await produceAll(replicas.leader, ['a']).done
    const toLeader = new InProcessLeaderClient(() => replicas.node(1).partition)
    const toFollower = new InProcessLeaderClient(() => replicas.node(2).partition)
    const fetch = {topic: TOPIC, partition: 0, fetchOffset: 0, replicaId: 3, maxBytes: 1 << 20, maxWaitMs: 0}
    expect((await toLeader.fetch({...fetch, leaderEpoch: 0})).error?.code).to.equal('FENCED_LEADER_EPOCH')
    expect((await toLeader.fetch({...fetch, leaderEpoch: 2})).error?.code).to.equal('UNKNOWN_LEADER_EPOCH')
    expect((await toLeader.fetch({...fetch, leaderEpoch: 1})).error).to.equal(undefined)
    // Asked as leader of the epoch it follows at: not a leader of it (yet), retry; of an older one: stale.
    expect((await toFollower.fetch({...fetch, leaderEpoch: 1})).error?.code).to.equal('UNKNOWN_LEADER_EPOCH')
    expect((await toFollower.fetch({...fetch, leaderEpoch: 0})).error?.code).to.equal('NOT_LEADER')
    expect((await toLeader.offsetsForLeaderEpoch(TOPIC, 0, 1, 0)).error?.code).to.equal('FENCED_LEADER_EPOCH')

    // The leader moves to epoch 2 before follower 2 hears of it: follower 2's fetcher is fenced.
    const next = {...replicas.control.state, leaderEpoch: 2}
    replicas.control.state = next
    await replicas.node(1).manager.applyPartitionState(next)
    replicas.node(1).partition.appendAsLeader(recordsBatch(['b']))
    await eventually(() => replicas.node(2).manager.fetcherFor(TOPIC, 0)?.phase === 'stopped', 'follower 2 to be fenced')
    expect(replicas.node(2).manager.fetcherFor(TOPIC, 0)?.stoppedBy?.code).to.equal('FENCED_LEADER_EPOCH')
    await replicas.publish(next)
    await advance(replicas, 1000)
    await expectIdenticalLogs(replicas)
  })

  it('ignores partition state with an older leader epoch', async () => {
    replicas = await ThreeReplicas.start()
    const newer = {...replicas.control.state, leader: 2, leaderEpoch: 3}
    await replicas.publish(newer)
    expect(await replicas.node(1).manager.applyPartitionState({...newer, leader: 1, leaderEpoch: 2})).to.equal('ignored')
    expect(replicas.node(1).partition.role).to.equal('follower')
    expect(replicas.node(2).partition.role).to.equal('leader')
  })

  it('never shows a consumer of the leader an offset at or past the high watermark while a follower lags', async () => {
    replicas = await ThreeReplicas.start()
    const leader = replicas.leader
    await produceAll(leader, ['a']).done
    replicas.setLink(3, false)
    const seen: {offset: number; highWatermark: number}[] = []
    let position = 0
    const consumeOnce = async () => {
      const {batches, highWatermark} = await leader.fetch(position, 1 << 20, 0)
      for (const {header} of batchPositions(batches)) {
        for (let offset = header.baseOffset; offset <= header.lastOffset; offset++) seen.push({offset, highWatermark})
        position = header.lastOffset + 1
      }
    }
    for (let index = 0; index < 10; index++) {
      await leader.appendAsLeader(recordsBatch([`v${index}`]))
      await quiet(5)
      await consumeOnce()
    }
    expect(leader.logEndOffset).to.equal(11)
    expect(leader.highWatermark).to.equal(1)
    expect(seen.map((entry) => entry.offset)).to.deep.equal([0])
    expect(seen.every((entry) => entry.offset < entry.highWatermark)).to.equal(true)
    // Once follower 3 leaves the ISR the rest is committed and readable.
    await advance(replicas, 12_000)
    await eventually(() => leader.highWatermark === 11, 'the high watermark to reach the log end')
    await consumeOnce()
    expect(seen.map((entry) => entry.offset)).to.deep.equal([...Array(11).keys()])
    expect(seen.every((entry) => entry.offset < entry.highWatermark)).to.equal(true)
  })
})
