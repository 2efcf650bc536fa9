/**
 * The tls benchmark's own helpers: medians per workload and transport, the ratio mutual TLS ÷
 * plaintext of those medians, the markdown section, and its options. The benchmark itself runs
 * with `npm run bench -- --only tls`.
 */
import {expect} from 'chai'
import {percentChange, renderTlsMarkdown, tlsRatios, tlsRows, type TlsSample, type Transport} from '../../bench/peers/tls-report.js'
import {parseTlsOptions} from '../../bench/tls.js'

function sample(run: number, transport: Transport, workload: string, recordsPerSec: number, serverCpuSeconds: number): TlsSample {
  return {run, transport, workload, driver: 'd', timing: 'tool-reported', recordsPerSec, mbPerSec: recordsPerSec / 1e4, serverCpuSeconds, serverPeakRssMb: 100, loadAverage1m: 1}
}

describe('tls benchmark helpers', () => {
  // Three runs each; the medians are the middle values, whatever the order the runs came in.
  const samples = [
    sample(1, 'plaintext', 'produce', 300, 1.0), sample(1, 'mtls', 'produce', 150, 2.0),
    sample(2, 'mtls', 'produce', 180, 1.2), sample(2, 'plaintext', 'produce', 100, 0.5),
    sample(3, 'plaintext', 'produce', 200, 0.8), sample(3, 'mtls', 'produce', 900, 1.6),
  ]

  it('takes the median of each transport and divides mutual TLS by plaintext', () => {
    const rows = tlsRows(samples)
    expect(rows.map((row) => [row.transport, row.recordsPerSec, row.serverCpuSeconds, row.runs])).to.deep.equal([['plaintext', 200, 0.8, 3], ['mtls', 180, 1.6, 3]])
    expect(rows[0]!.recordsPerSecByRun).to.deep.equal([300, 100, 200])
    expect(tlsRatios(rows)).to.deep.equal([{workload: 'produce', throughputRatio: 0.9, serverCpuRatio: 2}])
  })

  it('has no ratio for a workload one transport did not measure', () => {
    expect(tlsRatios(tlsRows(samples.filter((one) => one.transport === 'plaintext')))).to.deep.equal([{workload: 'produce', throughputRatio: null, serverCpuRatio: null}])
  })

  it('says the change as a signed percentage', () => {
    expect(percentChange(0.9)).to.equal('-10.0%')
    expect(percentChange(2)).to.equal('+100.0%')
    expect(percentChange(null)).to.equal('–')
  })

  it('renders the rows and the ratios into its section', () => {
    const rows = tlsRows(samples)
    const markdown = renderTlsMarkdown({
      machine: {cpus: 2, cpuModel: 'test cpu', kernel: 'Linux'}, date: '2026-01-01T00:00:00.000Z', command: 'npm run bench -- --only tls',
      versions: {lignum: 'lignum 0.1.0'}, settings: {server: 'lignum serve'}, negotiated: {protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384'},
      rows, ratios: tlsRatios(rows), samples,
    })
    expect(markdown).to.include('| produce | mtls | d | 180 | 0.0 | 1.60 | 100 | 150, 180, 900 | tool-reported |')
    expect(markdown).to.include('| produce | 0.900 | -10.0% | 2.000 | +100.0% |')
    expect(markdown).to.include('TLSv1.3, TLS_AES_256_GCM_SHA384')
  })

  it('reads its options and refuses nonsense', () => {
    expect(parseTlsOptions([])).to.deep.equal({runs: 5, scale: 1})
    expect(parseTlsOptions(['--tls-runs', '3', '--tls-scale', '0.1'])).to.deep.equal({runs: 3, scale: 0.1})
    expect(() => parseTlsOptions(['--tls-runs', 'zero'])).to.throw(/--tls-runs must be a whole number of at least 1, not zero/)
    expect(() => parseTlsOptions(['--tls-scale', '-1'])).to.throw(/--tls-scale must be a number above 0/)
  })
})
