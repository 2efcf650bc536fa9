/**
 * The fault suite on the Kafka path: Kafka's own Java KafkaProducer (enable.idempotence=true,
 * acks=all, unlimited retries, five requests in flight) writes the steady load through the
 * nodes' Kafka listeners while the partition's leader is killed with -9 (and, in a second run,
 * stopped with SIGTERM), another node takes over, and the old one comes back. The fault
 * suite's checker then reads every replica's files: every acknowledged value is there once,
 * at its acknowledged offset; no value (acknowledged or not) is stored twice, whatever the
 * client retried; the replicas agree. The client must also have failed no record: its
 * delivery timeout outlasts the failover, so a failure is a retry the cluster refused.
 */
import {expect} from 'chai'
import {totalViolations} from '../../faults/checker.js'
import {scenarioNamed} from '../../faults/scenarios/index.js'
import {runScenario, type RunResult} from '../../faults/suite.js'
import type {Scenario} from '../../faults/scenario.js'
import {ConsulAgent, requireConsulBinary} from '../helpers/consul.js'
import {requireKafkaTools, type KafkaTools} from '../helpers/kafka-tools.js'

const SEED = 1
const NO_VIOLATIONS = {lost: 0, duplicated: 0, changed: 0, divergent: 0, nonMonotonic: 0, phantom: 0, underReplicatedAcks: 0}
// Two seconds of warm-up at 200 records/s before the fault, and more after it.
const ACKNOWLEDGED_MIN = 400

function counts(run: RunResult): string {
  const {acknowledged, failed, violations} = run.result
  return `acknowledged ${acknowledged}, failed ${failed}, lost ${violations.lost}, duplicated ${violations.duplicated}, failover ${run.failoverSeconds.map((seconds) => `${seconds.toFixed(1)} s`).join(', ')}, ${run.durationSeconds.toFixed(0)} s`
}

describe('fault suite on the Kafka path: idempotent KafkaProducer through a leader failover (real nodes, real Consul, Kafka 4.1.1 client)', function () {
  this.timeout(180_000)
  let consul: ConsulAgent
  let consulBinary: string
  let tools: KafkaTools

  before(async function () {
    tools = await requireKafkaTools(this)
    consulBinary = await requireConsulBinary(this)
    this.timeout(120_000)
    consul = await ConsulAgent.start(consulBinary, 'dev')
  })

  after(async () => {
    await consul?.destroy()
  })

  async function runOnKafka(scenario: Scenario): Promise<RunResult> {
    const run = await runScenario({url: consul.url, binary: consulBinary}, scenario, SEED, () => undefined, {client: {kafka: tools}})
    const explained = `${JSON.stringify(run.result.examples)}; ${run.notes.join('; ')}`
    console.log(`      ${scenario.name} on Kafka: ${counts(run)}; ${run.notes.join('; ')}`)
    expect(run.result.violations, explained).to.deep.equal(NO_VIOLATIONS)
    expect(totalViolations(run.result.violations)).to.equal(0)
    expect(run.expectationsFailed, explained).to.deep.equal([])
    expect(run.result.failed, `records the idempotent producer failed: ${explained}`).to.equal(0)
    expect(run.result.acknowledged, 'the load was acknowledged').to.be.greaterThan(ACKNOWLEDGED_MIN)
    expect(run.failoverSeconds, 'a failover was measured').to.have.length.greaterThan(0)
    return run
  }

  it('answers the retries of batches the new leader copied but nobody acknowledged, when the leader is killed with -9', async () => {
    const run = await runOnKafka(scenarioNamed('idempotent-retry-leader-kill')!)
    const notes = run.notes.join('; ')
    expect(notes).to.match(/kill -9 leader n\d/)
    // The new leader held batches the producer had no answer for: their retries must have reached it.
    const answered = /before the restart \(lignum_produce_duplicates_total\): (.*?)(;|$)/.exec(notes)?.[1] ?? ''
    const total = [...answered.matchAll(/n\d (\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0)
    expect(total, `retries answered as duplicates: ${answered}`).to.be.greaterThan(0)
  })

  it('loses and duplicates nothing when the leader shuts down cleanly (SIGTERM) and comes back', async () => {
    const run = await runOnKafka(scenarioNamed('leader-clean-bounce')!)
    expect(run.notes.join('; ')).to.match(/SIGTERM leader n\d/)
  })
})
