/**
 * The kafka-perf part's own helpers: its options, and its rows (medians per workload and
 * system), ratios (Lignum ÷ Kafka) and markdown from samples. The part itself is run by
 * `npm run bench -- --only kafka-perf`.
 */
import {expect} from 'chai'
import {parsePerfOptions} from '../../bench/kafka-perf.js'
import {perfRatios, perfRows, renderPerfMarkdown, type PerfSample, type PerfSystem} from '../../bench/peers/kafka-perf-report.js'

function sample(run: number, system: PerfSystem, workload: string, recordsPerSec: number, serverCpuSeconds: number): PerfSample {
  return {run, system, workload, tool: 'ProducerPerformance', records: 1000, recordsPerSec, mbPerSec: recordsPerSec * 100 / 1e6, serverCpuSeconds, loadAverage1m: 1.5}
}

describe('kafka-perf benchmark helpers', () => {
  it('reads its options, and refuses ones it cannot use', () => {
    expect(parsePerfOptions([])).to.deep.equal({runs: 3, scale: 1, profile: false})
    expect(parsePerfOptions(['--kafka-perf-runs', '5', '--kafka-perf-scale', '0.1', '--kafka-perf-profile'])).to.deep.equal({runs: 5, scale: 0.1, profile: true})
    expect(() => parsePerfOptions(['--kafka-perf-runs', '0'])).to.throw(/--kafka-perf-runs must be a whole number/)
    expect(() => parsePerfOptions(['--kafka-perf-scale', '-1'])).to.throw(/--kafka-perf-scale must be a number above 0/)
  })

  it('takes medians per workload and system, and the ratio Lignum over Kafka of them', () => {
    const samples = [
      sample(1, 'lignum', 'produce-100B', 90, 1), sample(1, 'kafka', 'produce-100B', 100, 4),
      sample(2, 'kafka', 'produce-100B', 300, 2), sample(2, 'lignum', 'produce-100B', 150, 2),
      sample(3, 'lignum', 'produce-100B', 120, 3), sample(3, 'kafka', 'produce-100B', 80, 6),
    ]
    const rows = perfRows(samples)
    expect(rows.map((row) => [row.system, row.recordsPerSec, row.serverCpuSeconds, row.recordsPerSecByRun])).to.deep.equal([
      ['lignum', 120, 2, [90, 150, 120]],
      ['kafka', 100, 4, [100, 300, 80]],
    ])
    expect(perfRatios(rows)).to.deep.equal([{workload: 'produce-100B', throughputRatio: 1.2, serverCpuRatio: 0.5}])
    const markdown = renderPerfMarkdown({machine: {cpus: 2, cpuModel: 'cpu', kernel: 'Linux'}, date: 'now', command: 'npm run bench -- --only kafka-perf', versions: {}, settings: {}, rows, ratios: perfRatios(rows), samples})
    expect(markdown).to.include('| produce-100B | 1.200 | met | 0.500 |')
  })

  it('says by how much a ratio below 1 misses the goal', () => {
    const rows = perfRows([sample(1, 'lignum', 'consume-1024B', 72, 1), sample(1, 'kafka', 'consume-1024B', 100, 1)])
    const markdown = renderPerfMarkdown({machine: {}, date: 'now', command: 'c', versions: {}, settings: {}, rows, ratios: perfRatios(rows), samples: []})
    expect(markdown).to.include('| consume-1024B | 0.720 | not met (28.0% short) | 1.000 |')
  })
})
