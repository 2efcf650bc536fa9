/**
 * The background verification of what a node stored before it started: a bit flipped in a
 * closed segment, which the open does not CRC-check and nothing reads, is found and reported
 * damaged; a whole replica leaves the unverified list; damage a later read finds is reported too.
 * Real brokers over real data directories, damaged by code.
 */
import {expect} from 'chai'
import {mkdtemp} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Broker, type BrokerConfig} from '../../src/broker/broker.js'
import type {ReplicaHealth} from '../../src/cluster/replica-health.js'
import {silentLogger} from '../../src/logger.js'
import {initialReplicaHealth, ReplicaVerification} from '../../src/server/replica-verification.js'
import {eventually} from '../cluster/member-process.js'
import {flipBitInFirstSegment} from '../helpers/segment-damage.js'

const config: BrokerConfig = {autoCreateTopics: false, defaultPartitions: 1, partitionsPerTopicMax: 8, batchBytesMax: 64 * 1024, logDefaults: {flushPolicy: 'always'}}
// A couple of one-record batches per segment: eight records make several closed segments.
const SEGMENT_BYTES = 200
const RECORDS = 8
const REPORT_WAIT_MS = 10_000

async function storedTopic(partitions: number): Promise<string> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lignum-replica-verification-'))
  const broker = await Broker.open(dataDir, config, silentLogger)
  await broker.createTopic('t', {partitions, settings: {segmentBytes: SEGMENT_BYTES}})
  for (let partition = 0; partition < partitions; partition++) {
    for (let index = 0; index < RECORDS; index++) await broker.produce({topic: 't', partition, records: [{key: null, value: Buffer.from(`value-${index}`)}], acks: 1})
  }
  await broker.close()
  return dataDir
}

function verify(broker: Broker): {verification: ReplicaVerification; reports: ReplicaHealth[]} {
  const reports: ReplicaHealth[] = []
  const initial = initialReplicaHealth(broker)
  const verification = new ReplicaVerification({broker, logger: silentLogger, report: async (health) => void reports.push(health)}, initial, initial)
  verification.start()
  return {verification, reports}
}

describe('replica verification', () => {
  it('finds a bit flipped in a closed segment that the open did not check, and reports the replica damaged', async () => {
    const dataDir = await storedTopic(2)
    await flipBitInFirstSegment(path.join(dataDir, 't-0'))
    const broker = await Broker.open(dataDir, config, silentLogger)
    try {
      // The open does not see it: the partition opens and is only unverified.
      expect(initialReplicaHealth(broker)).to.deep.equal({damaged: [], unverified: ['t-0', 't-1']})
      const {verification, reports} = verify(broker)
      await eventually('the verification to finish', async () => (reports.at(-1)?.unverified.length === 0 ? true : undefined), REPORT_WAIT_MS)
      await verification.stop()
      expect(reports.at(-1)).to.deep.equal({damaged: ['t-0'], unverified: []})
    } finally {
      await broker.close()
    }
  })

  it('reports a whole replica verified, and damage a later read finds', async () => {
    const dataDir = await storedTopic(1)
    const broker = await Broker.open(dataDir, config, silentLogger)
    const {verification, reports} = verify(broker)
    try {
      await eventually('the verification to finish', async () => (reports.length > 0 ? true : undefined), REPORT_WAIT_MS)
      expect(reports).to.deep.equal([{damaged: [], unverified: []}])
    } finally {
      await verification.stop()
      await broker.close()
    }
    await flipBitInFirstSegment(path.join(dataDir, 't-0'))
    const reopened = await Broker.open(dataDir, config, silentLogger)
    // Verified already by this process's standards: only a read can find it now.
    const reads: ReplicaHealth[] = []
    const later = new ReplicaVerification({broker: reopened, logger: silentLogger, report: async (health) => void reads.push(health)}, {damaged: [], unverified: []}, {damaged: [], unverified: []})
    later.start()
    try {
      const error = await reopened.fetch('t', 0, 0, {maxBytes: 1024, maxWaitMs: 0}).then(() => undefined, (caught: Error) => caught)
      expect(error?.message).to.match(/damaged/)
      await eventually('the damage a read found to be reported', async () => (reads.length > 0 ? true : undefined), REPORT_WAIT_MS)
      expect(reads).to.deep.equal([{damaged: ['t-0'], unverified: []}])
    } finally {
      await later.stop()
      await reopened.close()
    }
  })
})
