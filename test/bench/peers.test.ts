/**
 * The peer benchmark's own helpers: parsing the peers' tool output (from lines as those tools
 * print them), medians and rows, the open-loop fixed-rate driver, the /proc readings, and
 * that a tool past its deadline is killed. The benchmark itself is run by `npm run bench`.
 */
import {spawn} from 'node:child_process'
import {expect} from 'chai'
import {parseConsumerSummary, parseProducerSummary} from '../../bench/peers/kafka.js'
import {parseBenchRate} from '../../bench/peers/nats.js'
import {median, renderMarkdown, summarize, type Sample} from '../../bench/peers/report.js'
import {measureFixedRate, percentile} from '../../bench/peers/fixed-rate.js'
import {readUsage, resetPeakRss, runTool} from '../../bench/peers/processes.js'
import {buildWorkloads} from '../../bench/peers/workloads.js'

describe('peer benchmark helpers', () => {
  it('reads the summary line of Kafka\'s ProducerPerformance', () => {
    const output = [
      '492998 records sent, 98579.9 records/sec (9.40 MB/sec), 1210.1 ms avg latency, 2162.0 ms max latency.',
      '1000000 records sent, 148698.9 records/sec (14.18 MB/sec), 1261.16 ms avg latency, 2191.00 ms max latency, 1465 ms 50th, 2095 ms 95th, 2147 ms 99th, 2161 ms 99.9th.',
    ].join('\n')
    expect(parseProducerSummary(output)).to.deep.equal({records: 1_000_000, recordsPerSecond: 148698.9, p50Ms: 1465, p99Ms: 2147})
    expect(() => parseProducerSummary('nothing useful')).to.throw(/no summary/)
  })

  it('reads the CSV of Kafka\'s ConsumerPerformance by column name', () => {
    const output = [
      'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
      '2026-11-25 17:03:53:957, 2026-11-25 17:03:57:058, 95.3674, 30.7538, 1000000, 322476.6204, 1618, 1483, 64.3071, 674308.8334',
    ].join('\n')
    expect(parseConsumerSummary(output)).to.deep.equal({records: 1_000_000, fetchSeconds: 1.483})
  })

  it('reads the rate `nats bench` prints, with its thousands separators', () => {
    const output = 'NATS JetStream asynchronous publisher stats: 167,362 msgs/sec ~ 16 MiB/sec ~ min: 1,770.60us'
    expect(parseBenchRate(output)).to.equal(167_362)
  })

  it('takes medians of odd and even counts', () => {
    expect(median([3, 1, 2])).to.equal(2)
    expect(median([4, 1, 3, 2])).to.equal(2.5)
    expect(median([])).to.equal(null)
  })

  it('makes one row per system and workload from the runs that succeeded, and keeps failures visible', () => {
    const base = {system: 'kafka', durability: 'os-writeback', workload: 'produce-100B-acks1', driver: 'ProducerPerformance', timing: 'tool-reported'}
    const samples: Sample[] = [
      {...base, run: 0, recordsPerSec: 100, mbPerSec: 0.01, serverPeakRssMb: 300, serverCpuSeconds: 2},
      {...base, run: 1, recordsPerSec: 300, mbPerSec: 0.03, serverPeakRssMb: 320, serverCpuSeconds: 3},
      {...base, run: 2, error: 'ProducerPerformance exited 1'},
      {run: 0, system: 'nats-jetstream', durability: 'os-writeback', workload: 'consume-100B', error: 'not installed'},
    ]
    const rows = summarize(samples)
    expect(rows).to.have.length(2)
    expect(rows[0]).to.include({system: 'kafka', runs: 2, recordsPerSec: 200, serverPeakRssMb: 310, error: 'ProducerPerformance exited 1'})
    expect(rows[0]!.recordsPerSecByRun).to.deep.equal([100, 300])
    expect(rows[1]).to.include({system: 'nats-jetstream', runs: 0, recordsPerSec: null, error: 'not installed'})
    const markdown = renderMarkdown({
      machine: {cpus: 2, cpuModel: 'test cpu', memoryBytes: 2 ** 30, kernel: 'Linux'}, date: '2026-01-01T00:00:00.000Z',
      versions: {kafka: '4.1.1'}, settings: {runs: 3}, disk: {syncedSequentialMbPerSec: 100, synced4KiBWritesPerSec: 1000, runs: []}, rows,
    })
    expect(markdown).to.contain('| kafka | produce-100B-acks1 | os-writeback | ProducerPerformance | 200 |')
    expect(markdown).to.contain('| nats-jetstream | consume-100B | os-writeback | – | not run: not installed |')
  })

  it('builds the issue\'s workloads, with consumers reading what the acks=1 producers wrote', () => {
    const workloads = buildWorkloads({scale: 1, latencySeconds: 20})
    const names = workloads.map((workload) => workload.name)
    expect(names).to.deep.equal([
      'produce-100B-acks1', 'produce-100B-acksall', 'produce-1KiB-acks1', 'produce-1KiB-acksall',
      'consume-100B', 'consume-1KiB', 'latency-100B-10k-per-s-acksall',
    ])
    const consume = workloads.find((workload) => workload.name === 'consume-1KiB')!
    const produce = workloads.find((workload) => workload.name === 'produce-1KiB-acks1')!
    expect(consume.topic).to.equal(produce.topic)
    expect(consume.records).to.equal(200_000)
  })

  it('measures latency from when a record was due, open loop', async () => {
    expect(percentile(Float64Array.from([1, 2, 3, 4]), 0.5)).to.equal(2)
    expect(percentile(Float64Array.from([1, 2, 3, 4]), 0.99)).to.equal(4)
    // Every send is acknowledged 20 ms later: no percentile can be below that.
    const result = await measureFixedRate(() => new Promise((resolve) => setTimeout(resolve, 20)), 200, 1000)
    expect(result.records).to.equal(200)
    expect(result.p50Ms).to.be.at.least(19)
    expect(result.p99Ms).to.be.at.least(result.p50Ms)
  })

  it('reads CPU seconds and peak RSS of a process from /proc, and resets the peak', async function () {
    this.timeout(20_000)
    // A process that touched 256 MiB once and gave it back: its peak stays high until reset.
    const peakBytes = 256 * 1024 * 1024
    const child = spawn(process.execPath, ['--expose-gc', '-e', `
      let held = Buffer.alloc(${peakBytes}, 1)
      held = null
      globalThis.gc()
      const rssKiB = () => Number(/VmRSS:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1])
      const timer = setInterval(() => { if (rssKiB() < ${peakBytes / 2048}) { clearInterval(timer); console.log('released'); setInterval(() => {}, 1000) } }, 20)
    `], {stdio: ['ignore', 'pipe', 'inherit']})
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve())
        child.once('exit', (code) => reject(new Error(`the child exited with ${code} before releasing its memory`)))
      })
      const before = await readUsage(child.pid!)
      expect(before.cpuSeconds).to.be.greaterThan(0)
      expect(before.peakRssBytes).to.be.at.least(peakBytes)
      expect(await resetPeakRss(child.pid!)).to.equal(true)
      expect((await readUsage(child.pid!)).peakRssBytes).to.be.below(peakBytes / 2)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('kills a tool that outlives its deadline', async () => {
    const result = await runTool('sleep', ['30'], {timeoutMs: 200})
    expect(result.signal).to.equal('SIGKILL')
    expect(result.code).to.equal(null)
  })
})
