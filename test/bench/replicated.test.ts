/**
 * The replicated benchmark's own helpers: the sections of bench/results/latest.{json,md}
 * (the peers part rewriting the files keeps the replicated section, and a section rewrite
 * touches nothing else), the ratios computed from the rows, its options, and the summary of a
 * CPU profile. Files are written to a temporary directory. The benchmark itself runs with
 * `npm run bench -- --only replicated`.
 */
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {topSelfTime} from '../../bench/peers/cpu-profile.js'
import {renderReplicatedMarkdown, replicationRatios} from '../../bench/peers/replicated-report.js'
import {summarize, writeResults, type Results, type Sample} from '../../bench/peers/report.js'
import {withSection, writeSection} from '../../bench/peers/result-sections.js'
import {parseReplicatedOptions} from '../../bench/replicated.js'

function peersResults(date: string): Results {
  return {
    machine: {cpus: 2, cpuModel: 'test cpu', memoryBytes: 2 ** 30, kernel: 'Linux'}, date,
    versions: {kafka: '4.1.1'}, settings: {runs: 3}, disk: {syncedSequentialMbPerSec: 100, synced4KiBWritesPerSec: 1000, runs: []}, rows: [],
  }
}

function sample(system: string, workload: string, values: Partial<Sample>): Sample {
  return {run: 0, system, durability: 'os-writeback', workload, driver: 'd', timing: 'tool-reported', ...values}
}

describe('replicated benchmark helpers', () => {
  let directory: string
  let jsonPath: string
  let markdownPath: string

  beforeEach(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'lignum-bench-sections-'))
    jsonPath = path.join(directory, 'latest.json')
    markdownPath = path.join(directory, 'latest.md')
  })

  afterEach(async () => {
    await rm(directory, {recursive: true, force: true})
  })

  it('keeps the replicated section when the peers part rewrites latest.json and latest.md', async () => {
    await writeResults(peersResults('2026-01-01T00:00:00.000Z'), jsonPath, markdownPath)
    await writeSection(jsonPath, markdownPath, 'replicated', {rows: ['cluster row']}, '## Replicated\n\ncluster table')
    await writeResults(peersResults('2026-02-02T00:00:00.000Z'), jsonPath, markdownPath)

    const json = JSON.parse(await readFile(jsonPath, 'utf8')) as {date: string; sections: Record<string, unknown>}
    expect(json.date).to.equal('2026-02-02T00:00:00.000Z')
    expect(json.sections).to.deep.equal({replicated: {rows: ['cluster row']}})
    const markdown = await readFile(markdownPath, 'utf8')
    expect(markdown).to.match(/^# Lignum beside its peers/)
    expect(markdown).to.include('2026-02-02').and.not.include('2026-01-01')
    expect(markdown.match(/<!-- section replicated -->\n## Replicated\n\ncluster table\n<!-- end section replicated -->/g)).to.have.length(1)
  })

  it('replaces only its own section, leaving the peers part and other sections as they were', async () => {
    await writeResults(peersResults('2026-01-01T00:00:00.000Z'), jsonPath, markdownPath)
    await writeSection(jsonPath, markdownPath, 'other', {kept: true}, 'other block')
    await writeSection(jsonPath, markdownPath, 'replicated', {first: true}, 'first block')
    const before = await readFile(markdownPath, 'utf8')
    await writeSection(jsonPath, markdownPath, 'replicated', {second: true}, 'second block')

    const markdown = await readFile(markdownPath, 'utf8')
    expect(markdown).to.equal(before.replace('first block', 'second block'))
    const json = JSON.parse(await readFile(jsonPath, 'utf8')) as {date: string; sections: Record<string, unknown>}
    expect(json.date).to.equal('2026-01-01T00:00:00.000Z')
    expect(json.sections).to.deep.equal({other: {kept: true}, replicated: {second: true}})
  })

  it('starts a file that does not exist yet with the section alone', async () => {
    await writeSection(jsonPath, markdownPath, 'replicated', [1], 'block')
    expect(await readFile(markdownPath, 'utf8')).to.equal('<!-- section replicated -->\nblock\n<!-- end section replicated -->\n')
    expect(withSection('', 'replicated', 'block $& $1')).to.include('block $& $1')
  })

  it('compares the cluster with one node and with Kafka, row by row, and says when a side is missing', () => {
    const rows = summarize([
      sample('lignum-3-nodes', 'produce-100B-acksall', {recordsPerSec: 150}),
      sample('lignum-1-node', 'produce-100B-acksall', {recordsPerSec: 300}),
      sample('kafka-3-brokers', 'produce-100B-acksall', {recordsPerSec: 100}),
      sample('lignum-3-nodes', 'produce-100B-acksall-library', {recordsPerSec: 200}),
      sample('lignum-3-nodes', 'latency-100B-10k-per-s-acksall', {recordsPerSec: 10_000, p50Ms: 2, p99Ms: 9}),
      sample('lignum-1-node', 'latency-100B-10k-per-s-acksall', {recordsPerSec: 10_000, p50Ms: 1, p99Ms: 3}),
      sample('kafka-3-brokers', 'latency-100B-10k-per-s-acksall', {error: 'did not start'}),
    ])
    expect(replicationRatios(rows)).to.deep.equal([
      {workload: 'produce-100B-acksall', compares: 'lignum-3-nodes / lignum-1-node records/s', value: 0.5},
      {workload: 'produce-100B-acksall', compares: 'lignum-3-nodes / kafka-3-brokers records/s', value: 1.5},
      {workload: 'produce-100B-acksall-library', compares: 'lignum-3-nodes / lignum-1-node records/s', value: null},
      {workload: 'produce-100B-acksall-library', compares: 'lignum-3-nodes / kafka-3-brokers records/s', value: 2},
      {workload: 'latency-100B-10k-per-s-acksall', compares: 'lignum-3-nodes / lignum-1-node p99 ms', value: 3},
      {workload: 'latency-100B-10k-per-s-acksall', compares: 'lignum-3-nodes / kafka-3-brokers p99 ms', value: null},
    ])
    const markdown = renderReplicatedMarkdown({machine: {cpus: 2}, date: 'd', versions: {}, settings: {runs: 3, partitionsPerTopic: 1}, rows, ratios: replicationRatios(rows), notes: ['run 1, lignum-3-nodes, x: waited 2.0 s']})
    expect(markdown).to.include('| kafka-3-brokers | latency-100B-10k-per-s-acksall | – | not run: did not start |')
    expect(markdown).to.include('- produce-100B-acksall: lignum-3-nodes / kafka-3-brokers records/s = 1.500')
    expect(markdown).to.include('- run 1, lignum-3-nodes, x: waited 2.0 s')
  })

  it('reads its options and refuses a system it does not know', () => {
    expect(parseReplicatedOptions([])).to.deep.equal({runs: 3, scale: 1, latencySeconds: 10, systems: ['lignum-3-nodes', 'kafka-3-brokers', 'lignum-1-node'], cpuProfile: false})
    expect(parseReplicatedOptions(['--replicated-runs', '1', '--replicated-systems', 'kafka-3-brokers', '--replicated-cpu-prof'])).to.include({runs: 1, cpuProfile: true})
    expect(() => parseReplicatedOptions(['--replicated-systems', 'kafka'])).to.throw(/unknown --replicated-systems kafka; choose from/)
  })

  it('names the functions with the most self time in a CPU profile, idle left out', async () => {
    const profile = {
      nodes: [
        {id: 1, callFrame: {functionName: '(root)', url: '', lineNumber: -1}},
        {id: 2, callFrame: {functionName: 'append', url: 'file:///x/partition-log.js', lineNumber: 9}},
        {id: 3, callFrame: {functionName: '(idle)', url: '', lineNumber: -1}},
        {id: 4, callFrame: {functionName: 'crc32c', url: 'file:///x/crc.js', lineNumber: 0}},
      ],
      samples: [2, 2, 3, 4, 2],
      timeDeltas: [1000, 1000, 50_000, 2000, 1000],
    }
    const file = path.join(directory, 'node.cpuprofile')
    await writeFile(file, JSON.stringify(profile))
    expect(await topSelfTime(file, 5)).to.deep.equal([
      {function: 'append partition-log.js:10', selfMs: 3, share: 0.6},
      {function: 'crc32c crc.js:1', selfMs: 2, share: 0.4},
    ])
  })
})
