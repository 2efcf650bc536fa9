/**
 * The `tls` part of `npm run bench -- --tls` (issue 11's "Must show"): what mutual TLS costs.
 * One standalone `lignum serve` in plaintext and one with TLS and client certificates required
 * run the e2e part's workloads (1M records of 100 B: `lignum produce --acks 1 --file` and
 * `lignum consume -e`, and the same through the Node client library), with the CLI and the
 * library connecting with a client certificate. Runs alternate between the two transports, the
 * order swapped every run, each server fresh on its own data directory; rows are medians per
 * transport, and the ratio mutual TLS ÷ plaintext of the medians is the cost.
 *
 * The CA, the node's and the client's certificates are made by `openssl` for the run in the
 * part's scratch directory and removed at the end: no key is ever checked in.
 *
 * Options: --tls-runs N (5 per transport), --tls-scale F (1). Only a full run (5+ runs, scale
 * 1) writes its section into bench/results/latest.{json,md}; others write into the scratch
 * directory.
 */
import {mkdir, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {connect as tlsConnect} from 'node:tls'
import {fileURLToPath} from 'node:url'
import type {BenchOptions} from './run.js'
import {makeCa} from '../test/helpers/certificates.js'
import {buildLignum} from './peers/lignum-build.js'
import {lignumSystem, removeInputFiles, startLignum, type LignumTls} from './peers/lignum.js'
import {readUsage, resetPeakRss, stopAllServers} from './peers/processes.js'
import {writeSection} from './peers/result-sections.js'
import {renderTlsMarkdown, tlsRatios, tlsRows, type TlsResults, type TlsSample, type Transport} from './peers/tls-report.js'
import {buildWorkloads, durabilities, type Measurement} from './peers/workloads.js'

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results')
export const sectionName = 'tls'
// Five per transport: the median of five shrugs off two runs a neighbour's job slowed.
const defaultRuns = 5
// The e2e part's workloads: the figures TLS is measured against are the ones quoted elsewhere.
const workloadNames = new Set(['produce-100B-acks1', 'consume-100B'])
const negotiationTimeoutMs = 10_000

interface TlsOptions {
  runs: number
  scale: number
}

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name)
  return index >= 0 ? args[index + 1] : undefined
}

export function parseTlsOptions(args: string[]): TlsOptions {
  const runs = Number(option(args, '--tls-runs') ?? defaultRuns)
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--tls-runs must be a whole number of at least 1, not ${option(args, '--tls-runs')}`)
  const scale = Number(option(args, '--tls-scale') ?? 1)
  if (!(scale > 0)) throw new Error(`--tls-scale must be a number above 0, not ${option(args, '--tls-scale')}`)
  return {runs, scale}
}

/** A CA, a node certificate (IP SAN 127.0.0.1) and a client certificate, for this run only. */
async function makeCertificates(dir: string): Promise<LignumTls> {
  await mkdir(dir, {recursive: true})
  const ca = await makeCa('bench-ca', dir)
  const node = await ca.issue('bench-node')
  const client = await ca.issue('bench-client')
  return {
    serveArgs: ['--tls-cert-file', node.cert, '--tls-key-file', node.key, '--tls-ca-file', ca.cert, '--tls-client-auth', 'required'],
    client: {caFile: ca.cert, certFile: client.cert, keyFile: client.key},
  }
}

export async function run(options: BenchOptions): Promise<TlsResults> {
  const tlsOptions = parseTlsOptions(options.args)
  const stopOnSignal = () => void stopAllServers().finally(() => process.exit(130))
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  const certificateDir = path.join(options.scratchDir, 'certificates')
  try {
    return await measure(options, tlsOptions, await makeCertificates(certificateDir))
  } finally {
    await stopAllServers()
    await rm(certificateDir, {recursive: true, force: true})
    process.removeListener('SIGINT', stopOnSignal)
    process.removeListener('SIGTERM', stopOnSignal)
  }
}

async function measure(options: BenchOptions, tlsOptions: TlsOptions, tls: LignumTls): Promise<TlsResults> {
  const workloads = buildWorkloads({scale: tlsOptions.scale, latencySeconds: 1}).filter((workload) => workloadNames.has(workload.name))
  // One private build for both transports: they differ only in the server's flags and the clients' TLS files.
  const lignum = lignumSystem(options.scratchDir)
  const build = await buildLignum(options.scratchDir)
  const serverTls: Record<Transport, LignumTls | undefined> = {plaintext: undefined, mtls: tls}
  const samples: TlsSample[] = []
  let negotiated: TlsResults['negotiated'] = {protocol: null, cipher: null}
  try {
    for (let runIndex = 0; runIndex < tlsOptions.runs; runIndex++) {
      const order: Transport[] = runIndex % 2 === 0 ? ['plaintext', 'mtls'] : ['mtls', 'plaintext']
      for (const transport of order) {
        const loadAverage1m = Math.round(os.loadavg()[0]! * 100) / 100
        const dataDir = path.join(options.scratchDir, `${transport}-run${runIndex + 1}`)
        await rm(dataDir, {recursive: true, force: true})
        await mkdir(dataDir, {recursive: true})
        const running = await startLignum(build, options.scratchDir, dataDir, durabilities['os-writeback'], undefined, serverTls[transport])
        try {
          if (transport === 'mtls' && negotiated.protocol === null) negotiated = await negotiation(running.address!, tls)
          for (const workload of workloads) {
            await running.run(workload, async (name, drive) => {
              const measured = await meter(running.pid, drive)
              samples.push({run: runIndex + 1, transport, workload: name, loadAverage1m, ...measured})
              options.log(`tls run ${runIndex + 1}/${tlsOptions.runs}: ${transport} ${name}: ${Math.round(measured.recordsPerSec)} records/s, server CPU ${measured.serverCpuSeconds.toFixed(2)} s`)
            })
          }
        } finally {
          await running.stop()
          await rm(dataDir, {recursive: true, force: true})
        }
      }
    }
  } finally {
    await removeInputFiles(options.scratchDir)
    await rm(build.root, {recursive: true, force: true})
  }
  const rows = tlsRows(samples)
  const results: TlsResults = {
    machine: {cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryBytes: os.totalmem(), kernel: `${os.type()} ${os.release()}`, node: process.version},
    date: new Date().toISOString(),
    command: `npm run bench -- --only tls${options.args.filter((arg) => arg !== '--only' && arg !== 'tls').map((arg) => ` ${arg}`).join('')}`,
    versions: {lignum: await lignum.version()},
    settings: {
      ...withoutLatency(lignum.settings(durabilities['os-writeback'])),
      mtls: 'the same node with --tls-cert-file, --tls-key-file, --tls-ca-file and --tls-client-auth required (EC P-256 certificates of one CA, node IP SAN 127.0.0.1); the CLI with --tls-ca, --tls-cert, --tls-key; the library with LignumClient.connect({tls: {caFile, certFile, keyFile}})',
      workloads: workloads.map((workload) => `${workload.name}: ${workload.records} records of ${workload.recordBytes} B`).join('; '),
    },
    negotiated,
    rows,
    ratios: tlsRatios(rows),
    samples,
  }
  const full = tlsOptions.runs >= defaultRuns && tlsOptions.scale === 1
  const outDir = full ? resultsDir : options.scratchDir
  await mkdir(outDir, {recursive: true})
  await writeSection(path.join(outDir, 'latest.json'), path.join(outDir, 'latest.md'), sectionName, results, renderTlsMarkdown(results))
  options.log(`tls: wrote the "${sectionName}" section of ${path.join(outDir, 'latest.json')} and latest.md${full ? '' : ' (not a full run: bench/results/ left alone)'}`)
  return results
}

/** The adapter's settings without the latency workload's, which this part does not run. */
function withoutLatency(settings: Record<string, string>): Record<string, string> {
  const {latency: _latency, ...rest} = settings
  return rest
}

/** One measurement with the server's peak RSS reset before it and its CPU time read around it. */
async function meter(pid: number, drive: () => Promise<Measurement>): Promise<Omit<TlsSample, 'run' | 'transport' | 'workload' | 'loadAverage1m'>> {
  await resetPeakRss(pid)
  const before = await readUsage(pid)
  const measurement = await drive()
  const after = await readUsage(pid)
  return {
    driver: measurement.driver,
    timing: measurement.timing,
    recordsPerSec: measurement.records / measurement.seconds,
    mbPerSec: measurement.bytes / measurement.seconds / 1e6,
    serverCpuSeconds: after.cpuSeconds - before.cpuSeconds,
    serverPeakRssMb: after.peakRssBytes / 2 ** 20,
  }
}

/** The protocol and cipher a client with these files negotiates with the running TLS node. */
async function negotiation(address: string, tls: LignumTls): Promise<TlsResults['negotiated']> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1))
  const [ca, cert, key] = await Promise.all([readFile(tls.client.caFile), readFile(tls.client.certFile!), readFile(tls.client.keyFile!)])
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({host: '127.0.0.1', port, ca, cert, key, ALPNProtocols: ['h2']}, () => {
      const result = {protocol: socket.getProtocol(), cipher: socket.getCipher().standardName}
      socket.destroy()
      resolve(result)
    })
    socket.setTimeout(negotiationTimeoutMs, () => socket.destroy(new Error(`no TLS handshake with 127.0.0.1:${port} within ${negotiationTimeoutMs} ms`)))
    socket.once('error', reject)
  })
}
