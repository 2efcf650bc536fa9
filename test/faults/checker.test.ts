/**
 * The fault suite's checker on hand-built histories: a clean run counts nothing, and each
 * kind of violation is counted from the smallest history that shows it.
 */
import {expect} from 'chai'
import {check, totalViolations, type CheckInput, type ProducedRecord, type ReplicaLog} from '../../faults/checker.js'

function acknowledged(value: string, offset: number, acks: 1 | 'all' = 'all', sentAtMs = 0, answeredAtMs = 1): ProducedRecord {
  return {value, partition: 0, acks, outcome: {kind: 'acknowledged', offset}, sentAtMs, answeredAtMs}
}

function replica(node: string, values: string[]): ReplicaLog {
  return {node, partition: 0, records: values.map((value, offset) => ({offset, value}))}
}

/** Three values acknowledged at 0..2, three identical replicas, a consumer that saw them in order. */
function cleanHistory(): CheckInput {
  const values = ['a', 'b', 'c']
  return {
    produced: values.map((value, offset) => acknowledged(value, offset)),
    consumers: [{consumer: 'c1', records: values.map((value, offset) => ({partition: 0, offset, value}))}],
    replicas: ['n1', 'n2', 'n3'].map((node) => replica(node, values)),
    highWatermarks: new Map([[0, 3]]),
  }
}

describe('fault suite checker', () => {
  it('counts nothing on a clean history', () => {
    const result = check(cleanHistory())
    expect(totalViolations(result.violations)).to.equal(0)
    expect(result.acknowledged).to.equal(3)
  })

  it('counts an acknowledged value missing from the final log as lost', () => {
    const input = cleanHistory()
    input.produced.push(acknowledged('d', 3))
    const result = check(input)
    expect(result.violations.lost).to.equal(1)
    expect(totalViolations(result.violations)).to.equal(1)
  })

  it('reports a lost acks=1 value without counting it as a violation', () => {
    const input = cleanHistory()
    input.produced.push(acknowledged('d', 3, 1))
    const result = check(input)
    expect(result.lostAcks1).to.equal(1)
    expect(totalViolations(result.violations)).to.equal(0)
  })

  it('does not count a failed value, stored or not', () => {
    const input = cleanHistory()
    input.produced.push({value: 'x', partition: 0, acks: 'all', outcome: {kind: 'failed'}, sentAtMs: 0, answeredAtMs: 1})
    const result = check(input)
    expect(result.failed).to.equal(1)
    expect(totalViolations(result.violations)).to.equal(0)
  })

  it('counts a value stored at two offsets as duplicated', () => {
    const input = cleanHistory()
    input.replicas = ['n1', 'n2', 'n3'].map((node) => replica(node, ['a', 'b', 'c', 'b']))
    input.highWatermarks.set(0, 4)
    const result = check(input)
    expect(result.violations.duplicated).to.equal(1)
    expect(totalViolations(result.violations)).to.equal(1)
  })

  it('counts an acknowledged offset holding another value as changed', () => {
    const input = cleanHistory()
    input.replicas = ['n1', 'n2', 'n3'].map((node) => replica(node, ['a', 'c', 'b']))
    const result = check(input)
    expect(result.violations.changed).to.equal(2)
    expect(result.violations.lost).to.equal(0)
    // The consumer saw b at 1 and c at 2, which the final log no longer holds there.
    expect(result.violations.phantom).to.equal(2)
  })

  it('counts replicas that differ below the high watermark as divergent, and not above it', () => {
    const input = cleanHistory()
    input.replicas[2] = replica('n3', ['a', 'x', 'c', 'y'])
    const result = check(input)
    expect(result.violations.divergent).to.equal(1)
    expect(totalViolations(result.violations)).to.equal(1)
  })

  it('counts a replica missing a record below the high watermark as divergent', () => {
    const input = cleanHistory()
    input.replicas[1] = replica('n2', ['a', 'b'])
    expect(check(input).violations.divergent).to.equal(1)
  })

  it('counts a consumer whose offsets go back as non-monotonic', () => {
    const input = cleanHistory()
    input.consumers[0]!.records.push({partition: 0, offset: 1, value: 'b'})
    const result = check(input)
    expect(result.violations.nonMonotonic).to.equal(1)
    expect(totalViolations(result.violations)).to.equal(1)
  })

  it('counts a record a consumer saw that the final log lost as phantom', () => {
    const input = cleanHistory()
    input.consumers[0]!.records.push({partition: 0, offset: 3, value: 'truncated'})
    const result = check(input)
    expect(result.violations.phantom).to.equal(1)
    expect(totalViolations(result.violations)).to.equal(1)
  })

  it('counts an acks=all value sent and acknowledged while too few replicas were live', () => {
    const input = cleanHistory()
    input.produced[2] = acknowledged('c', 2, 'all', 100, 200)
    input.underReplicatedWindows = [{partition: 0, fromMs: 50, toMs: 300}]
    const result = check(input)
    expect(result.violations.underReplicatedAcks).to.equal(1)
    // Sent before the window opened: its copies may have been made before the followers stopped.
    input.produced[2] = acknowledged('c', 2, 'all', 40, 200)
    expect(check(input).violations.underReplicatedAcks).to.equal(0)
  })

  it('counts an acknowledgement inside the window above what the stopped followers held as single-copy', () => {
    const input = cleanHistory()
    // Sent before the followers stopped, answered while they were: they held offsets 0 and 1 only.
    input.produced[2] = acknowledged('c', 2, 'all', 40, 200)
    input.underReplicatedWindows = [{partition: 0, fromMs: 50, toMs: 300, copiedBelowOffset: 2}]
    expect(check(input).violations.underReplicatedAcks).to.equal(1)
    input.underReplicatedWindows = [{partition: 0, fromMs: 50, toMs: 300, copiedBelowOffset: 3}]
    expect(check(input).violations.underReplicatedAcks).to.equal(0)
  })
})
