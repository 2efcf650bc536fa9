import {expect} from 'chai'
import type {Partition} from '../../src/broker/partition.js'
import {LignumError} from '../../src/errors.js'
import {encodeRecordBatch} from '../../src/format/record-batch.js'
import {quiet, ThreeReplicas, TIMESTAMP} from './replicas.js'

/**
 * Idempotence across leaders, in one process: followers copy an idempotent producer's batches
 * through the replication path and learn them, so the next leader answers a retry of one of
 * the producer's last five batches with its first offsets; a follower's truncation rebuilds its
 * producer state, so a batch cut away is appended again, not answered from memory.
 */
const PRODUCER_ID = 42
const OTHER_PRODUCER_ID = 77
// Two one-record batches per segment: followers roll in the middle of a fetch answer.
const SEGMENT_BATCHES = 2

function idempotentBatch(producerId: number, sequence: number, value: string): Buffer {
  return encodeRecordBatch([{key: null, value: Buffer.from(value), timestamp: TIMESTAMP}], {producerId, producerEpoch: 0, baseSequence: sequence})
}

async function rejection(promise: Promise<unknown>): Promise<LignumError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught)
  expect(error, 'expected a LignumError').to.be.instanceOf(LignumError)
  return error as LignumError
}

/** Moves the manual clock until `condition` holds, letting fetches and appends run between steps. */
async function advanceUntil(replicas: ThreeReplicas, condition: () => boolean, what: string): Promise<void> {
  for (let step = 0; step < 400; step++) {
    if (condition()) return
    replicas.clock.advance(100)
    await quiet(5)
  }
  throw new Error(`timed out waiting for ${what}`)
}

function logEnds(replicas: ThreeReplicas): number[] {
  return [1, 2, 3].map((id) => replicas.node(id).partition.logEndOffset)
}

async function moveLeadership(replicas: ThreeReplicas, leader: number, leaderEpoch: number): Promise<Partition> {
  await replicas.publish({...replicas.control.state, leader, leaderEpoch, isr: [1, 2, 3]})
  const partition = replicas.node(leader).partition
  expect(partition.role).to.equal('leader')
  return partition
}

describe('idempotent producers across a leader change (three replicas in one process)', function () {
  this.timeout(30_000)
  let replicas: ThreeReplicas

  afterEach(async () => {
    await replicas?.close()
  })

  it('answers a retry on the new leader with the first offsets, and appends a batch a truncation cut away', async () => {
    const one = idempotentBatch(PRODUCER_ID, 0, 'v0').length
    replicas = await ThreeReplicas.start({logConfig: {segmentBytes: one * SEGMENT_BATCHES}})
    const first = replicas.leader
    // The followers are cut off while six batches are appended, so each copies them in one answer.
    replicas.setLink(2, false)
    replicas.setLink(3, false)
    const offsets = []
    for (let sequence = 0; sequence < 6; sequence++) offsets.push(await first.appendAsLeader(idempotentBatch(PRODUCER_ID, sequence, `v${sequence}`), {acks: 1}))
    expect(offsets.map((batch) => batch.baseOffset)).to.deep.equal([0, 1, 2, 3, 4, 5])
    replicas.setLink(2, true)
    replicas.setLink(3, true)
    await advanceUntil(replicas, () => logEnds(replicas).every((end) => end === 6), 'both followers to copy the six batches')

    // Sequence 6 reaches only the first leader, which then loses its role.
    replicas.setLink(2, false)
    replicas.setLink(3, false)
    expect(await first.appendAsLeader(idempotentBatch(PRODUCER_ID, 6, 'v6'), {acks: 1})).to.deep.include({baseOffset: 6, duplicate: false})
    const second = await moveLeadership(replicas, 2, 2)

    // Sequence 5 is one of the producer's last five batches: answered, not appended again.
    expect(await second.appendAsLeader(idempotentBatch(PRODUCER_ID, 5, 'v5'), {acks: 1})).to.deep.equal({baseOffset: 5, lastOffset: 5, duplicate: true})
    expect(await second.appendAsLeader(idempotentBatch(PRODUCER_ID, 2, 'v2'), {acks: 1})).to.deep.equal({baseOffset: 2, lastOffset: 2, duplicate: true})
    expect(second.duplicatesAnswered).to.equal(2)
    // Sequence 0 is older than the last five: refused, not appended.
    expect((await rejection(second.appendAsLeader(idempotentBatch(PRODUCER_ID, 0, 'v0'), {acks: 1}))).code).to.equal('OUT_OF_ORDER_SEQUENCE')
    expect(second.logEndOffset).to.equal(6)

    // Another producer takes offset 6 on the new leader; the first leader, now a follower,
    // truncates its sequence 6 away. The retry of sequence 6 is then new: appended at 7.
    expect(await second.appendAsLeader(idempotentBatch(OTHER_PRODUCER_ID, 0, 'other'), {acks: 1})).to.deep.include({baseOffset: 6})
    expect(await second.appendAsLeader(idempotentBatch(PRODUCER_ID, 6, 'v6'), {acks: 1})).to.deep.equal({baseOffset: 7, lastOffset: 7, duplicate: false})
    await advanceUntil(replicas, () => logEnds(replicas).every((end) => end === 8), 'every replica to copy the new leader\'s log')
    const truncations = replicas.logger.lines.filter((line) => line.message === 'truncating a follower to the leader')
    expect(truncations.map((line) => line.fields?.offset)).to.include(6)

    // The old leader leads again: what it knows of the producer is what its log now holds.
    const third = await moveLeadership(replicas, 1, 3)
    expect(await third.appendAsLeader(idempotentBatch(PRODUCER_ID, 6, 'v6'), {acks: 1})).to.deep.equal({baseOffset: 7, lastOffset: 7, duplicate: true})
    expect(await third.appendAsLeader(idempotentBatch(PRODUCER_ID, 3, 'v3'), {acks: 1})).to.deep.equal({baseOffset: 3, lastOffset: 3, duplicate: true})
    expect(await third.appendAsLeader(idempotentBatch(OTHER_PRODUCER_ID, 0, 'other'), {acks: 1})).to.deep.equal({baseOffset: 6, lastOffset: 6, duplicate: true})
    expect(await third.appendAsLeader(idempotentBatch(PRODUCER_ID, 7, 'v7'), {acks: 1})).to.deep.equal({baseOffset: 8, lastOffset: 8, duplicate: false})
  })
})
