/**
 * One damaged partition never takes the node down: real `lignum serve` processes over data
 * directories damaged by code (a flipped length byte, a deleted middle segment, a last batch
 * cut after a clean stop, damage in the consumer offsets log, a CRC failure found by a read),
 * then `segments repair --yes` and a restart that serves the partition again.
 */
import {expect} from 'chai'
import {readdir, readFile, rm, stat, truncate, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {errorTable} from '../../src/errors.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {startServer, type RunningServer} from '../helpers/server.js'

// Two one-record batches per segment: six records make three segments.
const SEGMENT_BYTES = 160

interface DamageDetail {
  kind: string
  reason: string
  file: string
  position: number
  offset: number
  repair: string
}

function brokersOf(server: RunningServer): string[] {
  return ['--brokers', server.grpcAddress]
}

async function produce(server: RunningServer, topic: string, partition: number, values: string[]): Promise<void> {
  // One batch per record, so segments roll and damage hits one batch.
  const result = await runCli(['produce', '-t', topic, '-p', String(partition), '--batch-size', '1', ...brokersOf(server)], {input: values.join('\n') + '\n'})
  expect(result.code, result.stderr).to.equal(0)
}

function consume(server: RunningServer, topic: string, partition: number, extra: string[] = []): Promise<CliResult> {
  return runCli(['consume', '-t', topic, '-p', String(partition), '-e', ...extra, ...brokersOf(server)])
}

function segmentFiles(dir: string): Promise<string[]> {
  return readdir(dir).then((names) => names.filter((name) => name.endsWith('.log')).sort().map((name) => path.join(dir, name)))
}

interface ReadyBody {
  status: string
  damagedPartitions: {topic: string; partition: number; damage: DamageDetail}[]
}

async function readyz(server: RunningServer): Promise<{status: number; body: ReadyBody}> {
  const response = await fetch(`${server.httpUrl}/readyz`)
  return {status: response.status, body: (await response.json()) as ReadyBody}
}

function describeJson(server: RunningServer, topic: string): Promise<{partitions: {partition: number; state: string; damage?: DamageDetail; logEndOffset: number}[]}> {
  return runCli(['topics', 'describe', topic, '--json', ...brokersOf(server)]).then((result) => {
    expect(result.code, result.stderr).to.equal(0)
    return JSON.parse(result.stdout)
  })
}

/** A server log line (JSON) at error level with this message. */
function errorLines(server: RunningServer, message: string): Record<string, unknown>[] {
  return server
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.level === 'error' && line.msg === message)
}

describe('a damaged partition (real server processes)', function () {
  this.timeout(120_000)
  let server: RunningServer | undefined
  let dataDir: string

  /** `orders` with two partitions of six records ("p<partition>-<n>") in small segments, and `other`. */
  async function writeTopicsAndStop(): Promise<void> {
    server = await startServer()
    dataDir = server.dataDir
    const created = await runCli(['topics', 'create', 'orders', '--partitions', '2', '--segment-bytes', String(SEGMENT_BYTES), ...brokersOf(server)])
    expect(created.code, created.stderr).to.equal(0)
    for (const partition of [0, 1]) await produce(server, 'orders', partition, Array.from({length: 6}, (_, index) => `p${partition}-${index}`))
    await produce(server, 'other', 0, ['o-0'])
    await server.stop()
  }

  afterEach(async () => {
    await server?.stop()
    server = undefined
    if (dataDir) await rm(dataDir, {recursive: true, force: true})
  })

  it('starts with a flipped length byte in one partition, serves the rest, reports it, refuses it, and serves it again after repair', async () => {
    await writeTopicsAndStop()
    const [first] = await segmentFiles(path.join(dataDir, 'orders-1'))
    const bytes = await readFile(first)
    const secondBatch = bytes.readInt32BE(8) + 12
    bytes.writeInt32BE(0x0fff_ffff, secondBatch + 8) // the length of the batch at offset 1
    await writeFile(first, bytes)

    server = await startServer({dataDir})
    const described = await describeJson(server, 'orders')
    expect(described.partitions[0]).to.include({state: 'online', logEndOffset: 6})
    expect(described.partitions[1].state).to.equal('damaged')
    expect(described.partitions[1].damage).to.include({kind: 'damaged-batch', file: first, position: secondBatch, offset: 1})
    expect(described.partitions[1].damage?.repair).to.equal(`lignum segments repair --data-dir ${dataDir} -t orders -p 1`)
    const text = await runCli(['topics', 'describe', 'orders', ...brokersOf(server)])
    expect(text.stdout).to.match(/^orders\s+1\s+\S+\s+DAMAGED/m)
    expect(text.stdout).to.include(`orders-1 is DAMAGED and offline: ${first} at position ${secondBatch} (offset 1)`)

    const ready = await readyz(server)
    expect(ready.status).to.equal(200)
    expect(ready.body.damagedPartitions).to.have.length(1)
    expect(ready.body.damagedPartitions[0]).to.deep.include({topic: 'orders', partition: 1})
    expect(ready.body.damagedPartitions[0].damage).to.include({file: first, position: secondBatch, offset: 1})
    const statusRun = await runCli(['cluster', 'status', '--json', ...brokersOf(server)])
    expect(statusRun.code, 'a damaged partition is offline').to.equal(errorTable.PARTITIONS_OFFLINE.exitCode)
    const status = JSON.parse(statusRun.stdout)
    expect(status.health.offline).to.deep.equal(['orders-1'])
    expect(status.partitions.find((entry: {topic: string; partition: number}) => entry.topic === 'orders' && entry.partition === 1).leaderState).to.equal('damaged')
    expect(status.damagedPartitions.map((entry: {topic: string; partition: number}) => `${entry.topic}-${entry.partition}`)).to.deep.equal(['orders-1'])
    expect((await runCli(['cluster', 'status', ...brokersOf(server)])).stdout).to.include(`orders-1 is DAMAGED and offline: ${first} at position ${secondBatch} (offset 1)`)
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text()
    expect(metrics).to.match(/^lignum_partition_damaged\{topic="orders",partition="1"\} 1$/m)
    const logged = errorLines(server, 'partition is damaged: it is offline, the node serves the others')
    expect(logged).to.have.length(1)
    expect(logged[0]).to.include({topic: 'orders', partition: 1, file: first, position: secondBatch, offset: 1})

    // Every other partition serves.
    expect((await consume(server, 'orders', 0)).stdout).to.equal(Array.from({length: 6}, (_, index) => `p0-${index}`).join('\n') + '\n')
    await produce(server, 'other', 0, ['o-1'])
    expect((await consume(server, 'other', 0)).stdout).to.equal('o-0\no-1\n')

    // The damaged one refuses reads and writes, naming the file and the repair.
    for (const refused of [await consume(server, 'orders', 1), await runCli(['produce', '-t', 'orders', '-p', '1', ...brokersOf(server)], {input: 'no\n'})]) {
      expect(refused.code, refused.stderr).to.equal(4)
      expect(refused.stderr.trim().split('\n'), refused.stderr).to.have.length(1)
      expect(refused.stderr).to.include(`partition orders-1 is damaged: ${first} at position ${secondBatch} (offset 1)`)
      expect(refused.stderr).to.include(`lignum segments repair --data-dir ${dataDir} -t orders -p 1`)
    }
    const http = await fetch(`${server.httpUrl}/api/message?topic=orders&partition=1`)
    expect(((await http.json()) as {error: {code: string}}).error.code).to.equal('PARTITION_DAMAGED')

    // The repair is offline: refused while the server holds the data directory.
    const locked = await runCli(['segments', 'repair', '--data-dir', dataDir, '-t', 'orders', '-p', '1', '--yes'])
    expect(locked.code).to.equal(4)
    expect(locked.stderr).to.match(/^Error: cannot repair while a server uses the data directory: .*in use by another lignum process \(pid \d+\)/)

    await server.stop()
    const repaired = await runCli(['segments', 'repair', '--data-dir', dataDir, '-t', 'orders', '-p', '1', '--yes', '--json'])
    expect(repaired.code, repaired.stderr).to.equal(0)
    const report = JSON.parse(repaired.stdout)
    expect(report).to.include({repaired: true, topic: 'orders', partition: 1})
    expect(report.keep).to.include({logEndOffset: 1})
    expect(report.drops.length).to.be.greaterThan(1)
    expect(report.totals.bytes).to.be.greaterThan(0)

    server = await startServer({dataDir})
    expect((await describeJson(server, 'orders')).partitions[1]).to.include({state: 'online', logEndOffset: 1})
    expect((await readyz(server)).body.damagedPartitions).to.deep.equal([])
    await produce(server, 'orders', 1, ['after repair'])
    expect((await consume(server, 'orders', 1)).stdout).to.equal('p1-0\nafter repair\n')
  })

  it('starts with a deleted middle segment or a last batch cut after a clean stop, each partition offline alone', async () => {
    await writeTopicsAndStop()
    const zero = await segmentFiles(path.join(dataDir, 'orders-0'))
    expect(zero.length).to.be.greaterThan(2)
    await rm(zero[1])
    const one = await segmentFiles(path.join(dataDir, 'orders-1'))
    const last = one.at(-1)!
    await truncate(last, (await stat(last)).size - 3)

    server = await startServer({dataDir})
    const described = await describeJson(server, 'orders')
    expect(described.partitions.map((partition) => partition.state)).to.deep.equal(['damaged', 'damaged'])
    expect(described.partitions[0].damage).to.include({kind: 'missing-segment', file: zero[2], position: 0})
    expect(described.partitions[1].damage).to.include({kind: 'damaged-batch', file: last, offset: 5})
    expect(described.partitions[1].damage?.reason).to.match(/recovery point/)
    expect((await consume(server, 'other', 0)).stdout).to.equal('o-0\n')
    await server.stop()

    for (const partition of ['0', '1']) {
      const repaired = await runCli(['segments', 'repair', '--data-dir', dataDir, '-t', 'orders', '-p', partition, '--yes'])
      expect(repaired.code, repaired.stderr).to.equal(0)
      expect(repaired.stdout).to.match(/^Repaired orders-\d: its log now ends at offset \d+/m)
    }
    server = await startServer({dataDir})
    const after = await describeJson(server, 'orders')
    expect(after.partitions.map((partition) => partition.state)).to.deep.equal(['online', 'online'])
    expect((await consume(server, 'orders', 1)).stdout).to.equal(Array.from({length: 5}, (_, index) => `p1-${index}`).join('\n') + '\n')
  })

  it('starts with damage in the consumer offsets log; committing offsets then fails clearly', async () => {
    server = await startServer()
    dataDir = server.dataDir
    await produce(server, 'other', 0, ['o-0', 'o-1'])
    const grouped = await runCli(['consume', '-t', 'other', '--group', 'billing', '-e', ...brokersOf(server)])
    expect(grouped.code, grouped.stderr).to.equal(0)
    await server.stop()
    const [offsetsLog] = await segmentFiles(path.join(dataDir, '__consumer_offsets-0'))
    const bytes = await readFile(offsetsLog)
    expect(bytes.length).to.be.greaterThan(61)
    bytes.write('garbage!', 8, 'latin1') // over the first batch's length and epoch
    await writeFile(offsetsLog, bytes)

    server = await startServer({dataDir})
    expect((await consume(server, 'other', 0)).stdout).to.equal('o-0\no-1\n')
    const ready = await readyz(server)
    expect(ready.status).to.equal(200)
    expect(ready.body.damagedPartitions.map((entry) => `${entry.topic}-${entry.partition}`)).to.deep.equal(['__consumer_offsets-0'])
    const refused = await runCli(['consume', '-t', 'other', '--group', 'billing', '-e', ...brokersOf(server)])
    expect(refused.code).to.equal(4)
    expect(refused.stderr).to.include('partition __consumer_offsets-0 is damaged')
    expect(refused.stderr).to.include(`lignum segments repair --data-dir ${dataDir} -t __consumer_offsets -p 0`)
  })

  it('logs a CRC failure a read finds in a closed segment once, at error level, and refuses that read', async () => {
    await writeTopicsAndStop()
    const [first] = await segmentFiles(path.join(dataDir, 'orders-0'))
    const bytes = await readFile(first)
    const firstBatchBytes = bytes.readInt32BE(8) + 12
    bytes[firstBatchBytes + firstBatchBytes - 2] ^= 0x01 // inside the value of offset 1, below the recovery point
    await writeFile(first, bytes)

    server = await startServer({dataDir})
    const partitions = (await describeJson(server, 'orders')).partitions
    expect(partitions[0].state, JSON.stringify(partitions[0])).to.equal('online')
    for (let attempt = 0; attempt < 2; attempt++) {
      const refused = await consume(server, 'orders', 0, ['--from', '1'])
      expect(refused.code).to.equal(4)
      expect(refused.stderr).to.include(`partition orders-0 is damaged: ${first} at position ${firstBatchBytes} (offset 1)`)
      expect(refused.stderr).to.match(/CRC-32C.*stop the node, then run: lignum segments repair/)
    }
    const logged = errorLines(server, 'a read met a damaged batch; it is not served')
    expect(logged).to.have.length(1)
    expect(logged[0]).to.include({topic: 'orders', partition: 0, file: first, position: firstBatchBytes, offset: 1})
    expect((await consume(server, 'orders', 0, ['--to', '1'])).stdout).to.equal('p0-0\n')
  })
})
