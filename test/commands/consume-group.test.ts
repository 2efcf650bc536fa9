/**
 * `consume -G` as a group member (against a real `lignum serve`, standalone): two members of one
 * group split a 6-partition topic 3/3; when one exits the other takes over all 6 within the
 * session timeout; and across that rebalance no record is skipped, shown by counting every
 * (partition, offset) produced, while records were being produced the whole time. For each
 * assignor: range (eager) and cooperative-sticky (incremental).
 */
import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {GroupMemberProcess as Member, settledSplit, sleep, waitFor} from '../helpers/group-member-process.js'
import {serverForSuite} from '../helpers/server.js'
import {LignumClient} from '../../src/client/index.js'

const PARTITIONS = 6
const SESSION_TIMEOUT_MS = 3_000

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

  // Both commit policies: auto (every interval, and at each revocation) and sync (after printing).
  const commitFlags: Record<string, string[]> = {range: ['--commit', 'sync'], 'cooperative-sticky': []}
  for (const assignor of ['range', 'cooperative-sticky']) {
    it(`${assignor}: splits 6 partitions 3/3, hands all 6 to the survivor within the session timeout, and skips no record across the rebalance`, async () => {
      const topic = `split-${assignor}`
      expect((await runCli(['topics', 'create', topic, '--partitions', String(PARTITIONS), ...suite.brokers])).code).to.equal(0)
      const producer = client.producer({lingerMs: 0})
      const lastProduced = new Map<number, number>()
      const produceRound = async () => {
        const sent = await Promise.all(Array.from({length: PARTITIONS}, (_, partition) => producer.send(topic, {partition, value: `p${partition}`})))
        for (const metadata of sent) lastProduced.set(metadata.partition, Math.max(metadata.offset, lastProduced.get(metadata.partition) ?? -1))
        return sent
      }
      const memberArgs = ['-t', topic, '-G', `splitters-${assignor}`, '--assignor', assignor, '--session-timeout', `${SESSION_TIMEOUT_MS}ms`, ...commitFlags[assignor], ...suite.brokers]
      const a = new Member(memberArgs)
      const b = new Member(memberArgs)
      members.push(a, b)

      // A round produced after the group settled is printed once, 3 partitions by each member.
      const split = await settledSplit(a, b, PARTITIONS, produceRound, 30_000)

      // Production runs through the rebalance; b exits cleanly (Ctrl-C) part-way through.
      let producing = true
      const production = (async () => {
        while (producing) {
          await produceRound()
          await sleep(5)
        }
      })()
      await sleep(1_000)
      const producedBeforeExit = new Map(lastProduced)
      b.process.kill('SIGINT')
      const exitedAtMs = Date.now()
      expect(await b.exited).to.equal(0)
      await waitFor('the survivor to read every partition past the exit', () => [...producedBeforeExit].every(([partition, offset]) => a.highest(partition) > offset), SESSION_TIMEOUT_MS)
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
      console.log(`      ${assignor}: split a=${split.a} b=${split.b}; takeover ${takeoverMs} ms after b exited; ${counted} records counted, ${duplicates} read twice, ${skipped.length} skipped`)
      expect(skipped, 'records no member printed').to.deep.equal([])
      expect(takeoverMs).to.be.below(SESSION_TIMEOUT_MS)
      expect(a.stderr + b.stderr).to.equal('')
    })
  }
})
