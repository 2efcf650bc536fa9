/**
 * The replication transport against a real `lignum serve` as the leader: a follower Partition
 * in this process, copied by the real ReplicaFetcher through GrpcLeaderClient, ends with the
 * leader's log batch for batch (offsets, CRCs, leader epochs, as `segments inspect --dump`
 * reports them) and the leader's high watermark. A standalone leader (epoch 0, no replicas
 * configured) serves any replica id as an observer outside its ISR, as Kafka lets non-ISR
 * replicas fetch: its acks=all writes do not wait for one. The leader's answers (fenced,
 * unknown epoch, no such partition) arrive in the answer's error, as in process; only a broken
 * link rejects; bytes that are not protobuf are refused INVALID_ARGUMENT and the node serves on.
 */
import {expect} from 'chai'
import {credentials, makeGenericClientConstructor, Metadata, status, type ServiceError} from '@grpc/grpc-js'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Partition, systemClock} from '../../src/broker/partition.js'
import {LignumError} from '../../src/errors.js'
import {GrpcLeaderClient, GrpcLeaderClients} from '../../src/replication/grpc-leader-client.js'
import {InProcessLeaderClient} from '../../src/replication/in-process-leader-client.js'
import {ReplicaFetcher} from '../../src/replication/replica-fetcher.js'
import type {EpochEndOffsetAnswer} from '../../src/replication/replication-interfaces.js'
import {partitionDirName} from '../../src/log/topic-name.js'
import {runCli} from '../helpers/cli.js'
import {recordingLogger} from '../helpers/manual-clock.js'
import {startServer, type RunningServer} from '../helpers/server.js'
import {eventually} from './replicas.js'

const TOPIC = 'orders'
const FOLLOWER_ID = 2
// Small fetches, so the follower copies in many round trips, not one.
const FETCH_BYTES = 16 * 1024

interface DumpedBatch {
  baseOffset: number
  lastOffset: number
  count: number
  sizeBytes: number
  crc: number
  crcValid: boolean
  partitionLeaderEpoch: number
}

/** `lignum segments inspect --dump --json` of one data directory: the topic's batches. */
async function dumpBatches(dataDir: string): Promise<DumpedBatch[]> {
  const result = await runCli(['segments', 'inspect', '--data-dir', dataDir, '--topic', TOPIC, '--dump', '--json'])
  expect(result.code, result.stderr).to.equal(0)
  const report = JSON.parse(result.stdout) as {partitions: {segments: {batches?: DumpedBatch[]}[]}[]}
  return report.partitions.flatMap((partition) => partition.segments.flatMap((segment) => segment.batches ?? [])).map(({baseOffset, lastOffset, count, sizeBytes, crc, crcValid, partitionLeaderEpoch}) => ({baseOffset, lastOffset, count, sizeBytes, crc, crcValid, partitionLeaderEpoch}))
}

async function produce(server: RunningServer, count: number, prefix: string, acks = '1'): Promise<void> {
  const input = Array.from({length: count}, (_, index) => `${prefix}-${index}-${'x'.repeat(index % 50)}`).join('\n') + '\n'
  const result = await runCli(['produce', '-t', TOPIC, '--brokers', server.grpcAddress, '--acks', acks], {input, timeoutMs: 60_000})
  expect(result.code, result.stderr).to.equal(0)
}

/** An answer without its absent error field, so answers built either way compare. */
function comparable(answer: EpochEndOffsetAnswer): {epoch: number; endOffset: number; error?: string} {
  return answer.error ? {epoch: answer.epoch, endOffset: answer.endOffset, error: answer.error.code} : {epoch: answer.epoch, endOffset: answer.endOffset}
}

async function openFollower(root: string, logger = recordingLogger()): Promise<Partition> {
  return Partition.open(TOPIC, 0, path.join(root, `${TOPIC}-0`), {}, {logger, role: 'follower', leaderEpoch: 0})
}

describe('replication over gRPC (a real lignum serve as the leader)', function () {
  this.timeout(120_000)
  let server: RunningServer
  let root: string
  let client: GrpcLeaderClient

  before(async () => {
    server = await startServer()
    root = await mkdtemp(path.join(os.tmpdir(), 'lignum-follower-'))
    const created = await runCli(['topics', 'create', TOPIC, '--partitions', '1', '--brokers', server.grpcAddress])
    expect(created.code, created.stderr).to.equal(0)
    client = new GrpcLeaderClient(server.grpcAddress)
  })

  after(async () => {
    client?.close()
    await server?.stop()
    await rm(root, {recursive: true, force: true})
  })

  it('answers a fetch following a stale leader epoch FENCED_LEADER_EPOCH, and one from a newer epoch UNKNOWN_LEADER_EPOCH, in the answer', async () => {
    const params = {topic: TOPIC, partition: 0, fetchOffset: 0, replicaId: FOLLOWER_ID, maxBytes: FETCH_BYTES, maxWaitMs: 0}
    const stale = await client.fetch({...params, leaderEpoch: -1})
    expect(stale.error).to.be.instanceOf(LignumError)
    expect(stale.error?.code).to.equal('FENCED_LEADER_EPOCH')
    expect(stale.batches.length).to.equal(0)
    const newer = await client.fetch({...params, leaderEpoch: 1})
    expect(newer.error?.code).to.equal('UNKNOWN_LEADER_EPOCH')
    const epochAnswer = await client.offsetsForLeaderEpoch(TOPIC, 0, 0, -1)
    expect(epochAnswer.error?.code).to.equal('FENCED_LEADER_EPOCH')
  })

  it('stops a real fetcher following a stale epoch: fenced through gRPC', async () => {
    const follower = await openFollower(await mkdtemp(path.join(root, 'fenced-')))
    follower.becomeFollower(0)
    const fetcher = new ReplicaFetcher({partition: follower, replicaId: FOLLOWER_ID, leaderId: 1, leaderEpoch: -1, client, clock: systemClock, logger: recordingLogger()})
    try {
      fetcher.start()
      await eventually(() => fetcher.phase === 'stopped', 'the fenced fetcher to stop', 10_000)
      expect(fetcher.stoppedBy?.code).to.equal('FENCED_LEADER_EPOCH')
    } finally {
      await fetcher.stop()
      await follower.close()
    }
  })

  it('refuses a fetch reporting more appended than it fetches from INVALID_ARGUMENT, in the answer', async () => {
    const answer = await client.fetch({topic: TOPIC, partition: 0, fetchOffset: 0, logEndOffset: 1, leaderEpoch: 0, replicaId: FOLLOWER_ID, maxBytes: FETCH_BYTES, maxWaitMs: 0})
    expect(answer.error?.code).to.equal('INVALID_ARGUMENT')
    expect(answer.error?.message).to.match(/log end offset 1/)
  })

  it('answers a partition the node does not hold in the answer (the fetcher retries), not as a broken link', async () => {
    const answer = await client.fetch({topic: 'absent', partition: 0, fetchOffset: 0, leaderEpoch: 0, replicaId: FOLLOWER_ID, maxBytes: FETCH_BYTES, maxWaitMs: 0})
    expect(answer.error?.code).to.equal('NOT_FOUND')
    const epochAnswer = await client.offsetsForLeaderEpoch('absent', 0, 0, 0)
    expect(epochAnswer.error?.code).to.equal('NOT_FOUND')
    expect(epochAnswer.epoch).to.equal(-1)
  })

  it('cuts a long poll short when the fetcher stops: the call is cancelled, not left to its wait', async () => {
    const follower = await openFollower(await mkdtemp(path.join(root, 'cancel-')))
    follower.becomeFollower(0)
    // The leader's log is empty here, so the first fetch waits at its end.
    const fetcher = new ReplicaFetcher({partition: follower, replicaId: FOLLOWER_ID, leaderId: 1, leaderEpoch: 0, client, clock: systemClock, logger: recordingLogger(), config: {fetchMaxWaitMs: 20_000}})
    try {
      fetcher.start()
      await eventually(() => fetcher.fetches === 1, 'the first long poll', 10_000)
      const stopping = Date.now()
      await fetcher.stop()
      expect(Date.now() - stopping).to.be.lessThan(2000)
    } finally {
      await follower.close()
    }
  })

  it('keeps one client per leader address until it is closed', () => {
    const clients = new GrpcLeaderClients()
    try {
      const first = clients.clientFor(server.grpcAddress)
      expect(clients.clientFor(server.grpcAddress)).to.equal(first)
      expect(clients.clientFor('127.0.0.1:1')).to.not.equal(first)
      clients.close(server.grpcAddress)
      expect(clients.clientFor(server.grpcAddress)).to.not.equal(first)
    } finally {
      clients.closeAll()
    }
  })

  it('rejects when the link is broken: nothing listens at the address', async () => {
    const nowhere = new GrpcLeaderClient('127.0.0.1:1')
    try {
      const failure = await nowhere.fetch({topic: TOPIC, partition: 0, fetchOffset: 0, leaderEpoch: 0, replicaId: FOLLOWER_ID, maxBytes: FETCH_BYTES, maxWaitMs: 0}).then(
        () => null,
        (error: unknown) => error,
      )
      expect(failure).to.be.instanceOf(LignumError)
      expect((failure as LignumError).code).to.equal('UNAVAILABLE')
    } finally {
      nowhere.close()
    }
  })

  it('answers bytes that are not protobuf INVALID_ARGUMENT on both methods, and keeps serving', async () => {
    const identity = (bytes: Buffer) => bytes
    const raw = new (makeGenericClientConstructor({}, 'raw'))(server.grpcAddress, credentials.createInsecure())
    try {
      // Field 1, length-delimited, claiming four billion bytes.
      const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])
      for (const method of ['/lignum.v1.Replication/ReplicaFetch', '/lignum.v1.Replication/OffsetsForLeaderEpoch']) {
        const error = await new Promise<ServiceError>((resolve, reject) => {
          raw.makeUnaryRequest(method, identity, identity, garbage, new Metadata(), {deadline: Date.now() + 10_000}, (failure) => (failure ? resolve(failure) : reject(new Error(`${method} succeeded`))))
        })
        expect(error.code, `${method}: ${error.details}`).to.equal(status.INVALID_ARGUMENT)
        expect(error.details).to.match(/is not valid protobuf/)
      }
    } finally {
      raw.close()
    }
    const answer = await client.fetch({topic: TOPIC, partition: 0, fetchOffset: 0, leaderEpoch: 0, replicaId: FOLLOWER_ID, maxBytes: FETCH_BYTES, maxWaitMs: 0})
    expect(answer.error).to.equal(undefined)
  })

  it('copies the leader\'s log batch for batch with the real fetcher, learns the high watermark, and answers OffsetsForLeaderEpoch as in process', async () => {
    // Replica 2 fetched at 0 earlier and stopped: an observer, acks=all does not wait for it.
    await produce(server, 3000, 'first', 'all')
    await produce(server, 2000, 'second')
    const followerRoot = await mkdtemp(path.join(root, 'copy-'))
    const follower = await openFollower(followerRoot)
    follower.becomeFollower(0)
    const fetcher = new ReplicaFetcher({partition: follower, replicaId: FOLLOWER_ID, leaderId: 1, leaderEpoch: 0, client, clock: systemClock, logger: recordingLogger(), config: {fetchMaxBytes: FETCH_BYTES, fetchMaxWaitMs: 200, backoffMs: 100}})
    fetcher.start()
    let grpcAnswers: EpochEndOffsetAnswer[] = []
    try {
      await eventually(() => follower.logEndOffset === 5000 && follower.highWatermark === 5000, 'the follower to copy 5000 records', 30_000)
      expect(fetcher.fetches).to.be.greaterThan(2)
      // Every answer states the leader's log end, from which a follower knows it is catching up.
      const fromStart = await client.fetch({topic: TOPIC, partition: 0, fetchOffset: 0, logEndOffset: 0, leaderEpoch: 0, replicaId: FOLLOWER_ID + 1, maxBytes: FETCH_BYTES, maxWaitMs: 0})
      expect(fromStart.error).to.equal(undefined)
      expect(fromStart.logEndOffset).to.equal(5000)
      // An observer outside the ISR: the standalone leader's acks=all does not wait for it,
      // and what it appends meanwhile reaches the follower through the long poll.
      await produce(server, 1000, 'third', 'all')
      await eventually(() => follower.logEndOffset === 6000 && follower.highWatermark === 6000, 'the follower to copy the third run', 30_000)
      expect(fetcher.phase).to.not.equal('stopped')
      grpcAnswers = await Promise.all([0, 1, 7].map((epoch) => client.offsetsForLeaderEpoch(TOPIC, 0, epoch, 0)))
    } finally {
      await fetcher.stop()
      await follower.close()
    }
    expect(await server.stop()).to.equal(0)

    const leaderBatches = await dumpBatches(server.dataDir)
    const followerBatches = await dumpBatches(followerRoot)
    expect(leaderBatches.length).to.be.greaterThan(2)
    expect(leaderBatches.at(-1)?.lastOffset).to.equal(5999)
    expect(leaderBatches.every((batch) => batch.crcValid)).to.equal(true)
    expect(followerBatches).to.deep.equal(leaderBatches)

    // The same questions asked in process of the leader's partition, opened from its files.
    const leader = await Partition.open(TOPIC, 0, path.join(server.dataDir, partitionDirName(TOPIC, 0)), {}, {logger: recordingLogger(), role: 'leader', leaderEpoch: 0})
    try {
      const inProcess = new InProcessLeaderClient(() => leader)
      const expected = await Promise.all([0, 1, 7].map((epoch) => inProcess.offsetsForLeaderEpoch(TOPIC, 0, epoch, 0)))
      expect(grpcAnswers.map(comparable)).to.deep.equal(expected.map(comparable))
      expect(comparable(expected[0])).to.deep.equal({epoch: 0, endOffset: 6000})
    } finally {
      await leader.close()
    }
  })
})
