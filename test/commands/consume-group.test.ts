/**
 * `consume -G` as a group member (against a real `lignum serve`, standalone): two members of one
 * group split a 6-partition topic 3/3; when one exits the other takes over all 6 within the
 * session timeout; and across that rebalance no record is skipped, shown by counting every
 * (partition, offset) produced, while records were being produced the whole time. For each
 * assignor, range (eager) and cooperative-sticky (incremental), with each commit policy; and a
 * member killed with SIGKILL (no LeaveGroup) is replaced once its session expires.
 */
import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {GroupMemberProcess as Member, settledSplit, sleep, waitFor} from '../helpers/group-member-process.js'
import {serverForSuite} from '../helpers/server.js'
import {LignumClient} from '../../src/client/index.js'

const PARTITIONS = 6
const SESSION_TIMEOUT_MS = 3_000
// After a kill: the session timeout, then the survivor's next heartbeat (a third of it) hears of
// the rebalance, rejoins and reads; generous for a loaded 2-core machine.
const KILLED_TAKEOVER_MARGIN_MS = 4_000

describe('consume -G: members of a group split the partitions (against lignum serve)', function () {
  this.timeout(120_000)
  const suite = serverForSuite()
  let client: LignumClient
  const members: Member[] = []
  before(async () => {
    client = await LignumClient.connect({brokers: suite.server.grpcAddress})
  })
  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return
    for (const member of members) console.log(`member exit ${member.process.exitCode}: ${member.stderr}; highest ${Array.from({length: PARTITIONS}, (_, partition) => member.highest(partition))}`)
    console.log(suite.server.logs().split('\n').filter((line) => line.includes('consumer group')).join('\n'))
  })
  after(() => {
    for (const member of members) if (member.process.exitCode === null) member.process.kill('SIGKILL')
    client?.close()
  })

  // Every assignor with both commit policies: auto (every interval, and at each revocation) and
  // sync (once the printed records are caught up with what was fetched).
  const combinations = ['range', 'cooperative-sticky'].flatMap((assignor) => ['auto', 'sync'].map((commit) => ({assignor, commit})))
  for (const {assignor, commit} of combinations) {
    it(`${assignor}, --commit ${commit}: splits 6 partitions 3/3, hands all 6 to the survivor within the session timeout, and skips no record across the rebalance`, async () => {
      await splitThenTakeOver({assignor, commit, exit: 'SIGINT'})
    })
  }

  // A member killed outright sends no LeaveGroup: the coordinator drops it when its session
  // expires, and the survivor re-reads what it printed after its last commit (at least once).
  for (const assignor of ['range', 'cooperative-sticky']) {
    it(`${assignor}: a member killed with SIGKILL is dropped after the session timeout, the survivor gets all 6 partitions, and no record is skipped`, async () => {
      await splitThenTakeOver({assignor, commit: 'auto', exit: 'SIGKILL'})
    })
  }

  async function splitThenTakeOver({assignor, commit, exit}: {assignor: string; commit: string; exit: 'SIGINT' | 'SIGKILL'}): Promise<void> {
    const name = `${assignor}-${commit}-${exit.toLowerCase()}`
    const topic = `split-${name}`
    expect((await runCli(['topics', 'create', topic, '--partitions', String(PARTITIONS), ...suite.brokers])).code).to.equal(0)
    const producer = client.producer({lingerMs: 0})
    const lastProduced = new Map<number, number>()
    const produceRound = async () => {
      const sent = await Promise.all(Array.from({length: PARTITIONS}, (_, partition) => producer.send(topic, {partition, value: `p${partition}`})))
      for (const metadata of sent) lastProduced.set(metadata.partition, Math.max(metadata.offset, lastProduced.get(metadata.partition) ?? -1))
      return sent
    }
    const memberArgs = ['-t', topic, '-G', `splitters-${name}`, '--assignor', assignor, '--commit', commit, '--session-timeout', `${SESSION_TIMEOUT_MS}ms`, ...suite.brokers]
    const a = new Member(memberArgs)
    const b = new Member(memberArgs)
    members.push(a, b)

    // A round produced after the group settled is printed once, 3 partitions by each member.
    const split = await settledSplit(a, b, PARTITIONS, produceRound, 30_000)

    // Production runs through the rebalance; b exits (Ctrl-C, or killed) part-way through.
    let producing = true
    const production = (async () => {
      while (producing) {
        await produceRound()
        await sleep(5)
      }
    })()
    await sleep(1_000)
    const producedBeforeExit = new Map(lastProduced)
    b.process.kill(exit)
    const exitedAtMs = Date.now()
    const exitCode = await b.exited
    if (exit === 'SIGINT') expect(exitCode).to.equal(0)
    else expect(b.process.signalCode).to.equal('SIGKILL')
    // A clean exit hands over at once; a killed member only once the coordinator expires its session.
    const takeoverDeadlineMs = exit === 'SIGINT' ? SESSION_TIMEOUT_MS : SESSION_TIMEOUT_MS + KILLED_TAKEOVER_MARGIN_MS
    await waitFor('the survivor to read every partition past the exit', () => [...producedBeforeExit].every(([partition, offset]) => a.highest(partition) > offset), takeoverDeadlineMs)
    const takeoverMs = Date.now() - exitedAtMs
    await sleep(1_000)
    producing = false
    await production
    await waitFor('the survivor to read to the end', () => [...lastProduced].every(([partition, offset]) => a.highest(partition) >= offset), 15_000)
    a.process.kill('SIGINT')
    expect(await a.exited).to.equal(0)

    let counted = 0
    let duplicates = 0
    const skipped: string[] = []
    for (const [partition, last] of lastProduced) {
      for (let offset = 0; offset <= last; offset++) {
        const byA = a.has(partition, offset)
        const byB = b.has(partition, offset)
        counted++
        if (byA && byB) duplicates++
        if (!byA && !byB) skipped.push(`${partition}:${offset}`)
      }
    }
    console.log(`      ${assignor} --commit ${commit}, b ${exit}: split a=${split.a} b=${split.b}; takeover ${takeoverMs} ms after b exited; ${counted} records counted, ${duplicates} read twice, ${skipped.length} skipped`)
    expect(skipped, 'records no member printed').to.deep.equal([])
    expect(takeoverMs).to.be.below(takeoverDeadlineMs)
    expect(a.stderr + b.stderr).to.equal('')
    // The handover came from the session expiring, not from a LeaveGroup the killed member never sent.
    const removals = suite.server.logs().split('\n').filter((line) => line.includes('consumer group member removed') && line.includes(`splitters-${name}`))
    expect(removals.some((line) => line.includes('its session timeout'))).to.equal(exit === 'SIGKILL')
  }
})
