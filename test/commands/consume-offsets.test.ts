import {setTimeout as sleep} from 'node:timers/promises'
import {expect} from 'chai'
import {runCli, type CliResult} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'

/**
 * Every spelling of consume -o, through the real CLI against a real node. The topic has
 * partitions of unequal length (5, 2 and 0 records), and a second topic holds records from two
 * moments in time, so time positions have a boundary to land on.
 */
describe('consume -o as kcat and rpk spell it', function () {
  this.timeout(120_000)
  const suite = serverForSuite()
  let beforeMs = 0
  let betweenMs = 0

  before(async () => {
    const brokers = suite.brokers
    expect((await runCli(['topics', 'create', 'uneven', '--partitions', '3', ...brokers])).code).to.equal(0)
    expect((await runCli(['produce', '-t', 'uneven', '-p', '0', ...brokers], {input: 'a0\na1\na2\na3\na4\n'})).code).to.equal(0)
    expect((await runCli(['produce', '-t', 'uneven', '-p', '1', ...brokers], {input: 'b0\nb1\n'})).code).to.equal(0)
    beforeMs = Date.now()
    await sleep(20)
    expect((await runCli(['produce', '-t', 'timed', ...brokers], {input: 'early-1\nearly-2\n'})).code).to.equal(0)
    await sleep(50)
    betweenMs = Date.now()
    await sleep(50)
    expect((await runCli(['produce', '-t', 'timed', ...brokers], {input: 'late-1\nlate-2\n'})).code).to.equal(0)
  })

  const consume = (args: string[]) => runCli(['consume', ...args, ...suite.brokers])
  const lines = (result: CliResult) => result.stdout.split('\n').filter((line) => line !== '').sort()
  function expectRead(result: CliResult, expected: string[]): void {
    expect(result.code, result.stderr).to.equal(0)
    expect(lines(result)).to.deep.equal([...expected].sort())
  }

  it('-0 is the end (it read from offset 0 before): nothing to print, and -N is N before the end', async () => {
    const atEnd = await consume(['-t', 'uneven', '-p', '0', '-o', '-0', '-e'])
    expectRead(atEnd, [])
    expect(atEnd.stderr).to.equal('')
    expectRead(await consume(['-t', 'uneven', '-p', '0', '-o', '-2', '-e']), ['a3', 'a4'])
  })

  it('+N is N after the start, N:M a range of offsets, and the named ends', async () => {
    expectRead(await consume(['-t', 'uneven', '-p', '0', '-o', '+3', '-e']), ['a3', 'a4'])
    expectRead(await consume(['-t', 'uneven', '-o', '1:2', '-e']), ['a1', 'b1'])
    expectRead(await consume(['-t', 'uneven', '-o', 'oldest', '-e']), ['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1'])
    expectRead(await consume(['-t', 'uneven', '-o', 'newest', '-e']), [])
  })

  it('-o N past some partitions\' end starts each at min(N, its end), with one warning naming them', async () => {
    const result = await consume(['-t', 'uneven', '-o', '3', '-e'])
    expectRead(result, ['a3', 'a4'])
    expect(result.stderr).to.equal('Warning: partitions 1 (ends at 2, before offset 3), 2 (ends at 0, before offset 3) of "uneven" end before the asked offset: each starts at its end\n')
  })

  it('starts at a time with @T and s@T, and stops at one with e@T even without -e', async () => {
    expectRead(await consume(['-t', 'timed', '-o', `@${betweenMs}`, '-e']), ['late-1', 'late-2'])
    expectRead(await consume(['-t', 'timed', '-o', `s@${betweenMs}`, '-e']), ['late-1', 'late-2'])
    // No -e: the stop time alone ends it.
    expectRead(await consume(['-t', 'timed', '-o', `e@${betweenMs}`]), ['early-1', 'early-2'])
  })

  it('reads time ranges, relative times and ISO times', async () => {
    expectRead(await consume(['-t', 'timed', '-o', `@${beforeMs}:${betweenMs}`]), ['early-1', 'early-2'])
    expectRead(await consume(['-t', 'timed', '-o', `@:${betweenMs}`]), ['early-1', 'early-2'])
    expectRead(await consume(['-t', 'timed', '-o', `@${betweenMs}:`, '-e']), ['late-1', 'late-2'])
    expectRead(await consume(['-t', 'timed', '-o', '@-1h', '-e']), ['early-1', 'early-2', 'late-1', 'late-2'])
    expectRead(await consume(['-t', 'timed', '-o', '@-1h:-1ms']), ['early-1', 'early-2', 'late-1', 'late-2'])
    expectRead(await consume(['-t', 'timed', '-o', `@${new Date(betweenMs).toISOString()}`, '-e']), ['late-1', 'late-2'])
    expectRead(await consume(['-t', 'timed', '-o', '@-1h:1h']), ['early-1', 'early-2', 'late-1', 'late-2'])
  })

  it('starts at the group\'s committed offsets with stored, and needs -G for it', async () => {
    const refused = await consume(['-t', 'uneven', '-o', 'stored', '-e'])
    expect(refused.code).to.equal(2)
    expect(refused.stderr).to.equal('Error: --from stored starts at a group\'s committed offsets; name the group with -G, e.g. -o stored -G billing\n')
    expectRead(await consume(['-t', 'uneven', '-p', '0', '-G', 'readers', '-c', '2']), ['a0', 'a1'])
    expectRead(await consume(['-t', 'uneven', '-p', '0', '-G', 'readers', '-o', 'stored', '-e']), ['a2', 'a3', 'a4'])
  })

  it('refuses a position it cannot read in one line naming the accepted forms, exit 2', async () => {
    for (const from of ['soon', '@yesterday', '3:1']) {
      const result = await consume(['-t', 'uneven', '-o', from, '-e'])
      expect(result.code, from).to.equal(2)
      expect(result.stderr.trimEnd().split('\n'), result.stderr).to.have.length(1)
    }
    expect((await consume(['-t', 'uneven', '-o', 'soon'])).stderr).to.equal('Error: --from "soon" is not a position; use beginning, end, stored, N, +N, -N (-0 is the end), N:M, @T, @T1:T2, s@T or e@T, where a time T is epoch ms, an ISO-8601 date or -1h (an hour ago)\n')
  })
})
