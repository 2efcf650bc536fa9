/**
 * The fault suite's results table from hand-built runs: a run whose scenario expectation
 * failed (a leader scenario whose leadership never moved) fails its row as a violation does,
 * and the failover column gives the median and the worst over every failover measured.
 */
import {expect} from 'chai'
import type {CheckResult} from '../../faults/checker.js'
import {renderTable, rowViolations, summarizeRuns, type RunResult} from '../../faults/suite.js'

function cleanResult(acknowledged: number): CheckResult {
  return {violations: {lost: 0, duplicated: 0, changed: 0, divergent: 0, nonMonotonic: 0, phantom: 0, underReplicatedAcks: 0}, acknowledged, failed: 0, lostAcks1: 0, examples: {}}
}

function run(seed: number, expectationsFailed: string[], failoverSeconds: number[]): RunResult {
  return {scenario: 'leader-hard-bounce', seed, result: cleanResult(100), longestUnavailabilitySeconds: 4, durationSeconds: 30, expectationsFailed, failoverSeconds, notes: []}
}

describe('fault suite results table', () => {
  it('fails a row whose run never saw the leadership move, though the checker counted nothing', () => {
    const [row] = summarizeRuns([run(1, [], [3]), run(2, ['leadership never moved'], [])])
    expect(row!.expectationsFailed).to.equal(1)
    expect(rowViolations(row!)).to.equal(1)
  })

  it('passes a row whose runs all failed over, and gives the median and worst failover', () => {
    const [row] = summarizeRuns([run(1, [], [2, 6]), run(2, [], [3])])
    expect(rowViolations(row!)).to.equal(0)
    expect(row!.failoverMedianSeconds).to.equal(3)
    expect(row!.failoverWorstSeconds).to.equal(6)
    expect(renderTable([row!])).to.include('3.0 / 6.0')
  })
})
