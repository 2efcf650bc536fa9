import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'

/**
 * Input that is not what produce expects: one line on stderr, exit 2, and the whole records
 * before it kept. And what produce counts and delivers.
 */
describe('produce: bad input, counts and delivery', function () {
  this.timeout(120_000)
  const suite = serverForSuite()

  const frame = (value: string) => {
    const bytes = Buffer.from(value, 'utf8')
    const length = Buffer.alloc(4)
    length.writeUInt32BE(bytes.length)
    return Buffer.concat([length, bytes])
  }

  function expectOneLine(result: {code: number | null; stdout: string; stderr: string}, says: RegExp): void {
    expect(result.code, result.stderr).to.equal(2)
    expect(result.stdout).to.equal('')
    expect(result.stderr.trimEnd().split('\n'), result.stderr).to.have.length(1)
    expect(result.stderr).to.match(says)
  }

  it('refuses text given to --binary at the first implausible length, not after buffering it all', async () => {
    const result = await runCli(['produce', '-t', 'not-binary', '--binary', ...suite.brokers], {input: 'hello world\n'.repeat(100_000)})
    expectOneLine(result, /at byte 0 gives a record length of 1751477356 bytes.*without --binary, one record per line.*no record was produced/)
  })

  it('produces the whole binary records before a cut one and says how many', async () => {
    const input = Buffer.concat([frame('one'), frame('two'), frame('three').subarray(0, 6)])
    const result = await runCli(['produce', '-t', 'cut-binary', '--binary', ...suite.brokers], {input})
    expectOneLine(result, /ends inside a record at byte 14: expected a record of 5 bytes, found 2.*the 2 record\(s\) before it were produced/)
    const stored = await runCli(['consume', '-t', 'cut-binary', '-e', ...suite.brokers])
    expect(stored.stdout).to.equal('one\ntwo\n')
  })

  it('says "a 4-byte length, found N byte(s)" when the input ends inside a length', async () => {
    const result = await runCli(['produce', '-t', 'short-length', '--binary', ...suite.brokers], {input: Buffer.concat([frame('x'), Buffer.from([0, 0])])})
    expectOneLine(result, /expected a 4-byte length, found 2 byte\(s\).*the 1 record\(s\) before it were produced/)
  })

  it('refuses a line longer than a request can carry, keeping the lines before it', async () => {
    const input = Buffer.concat([Buffer.from('first\n'), Buffer.alloc(64 * 1024 * 1024 + 1, 'x')])
    const result = await runCli(['produce', '-t', 'endless-line', ...suite.brokers], {input})
    expectOneLine(result, /line 2 of the input is longer than 67108864 bytes.*the 1 record\(s\) before it were produced/)
    const stored = await runCli(['consume', '-t', 'endless-line', '-e', ...suite.brokers])
    expect(stored.stdout).to.equal('first\n')
  })

  it('counts the input bytes each record took, so the summary (and the progress bar) reach the file size', async () => {
    const keyed = await runCli(['produce', '-t', 'counted', '-K', '::', '--json', ...suite.brokers], {input: 'key::value\nplain\n'})
    expect(JSON.parse(keyed.stdout)).to.include({recordsAcknowledged: 2, bytes: 17})
    const framed = await runCli(['produce', '-t', 'counted', '--binary', '--json', ...suite.brokers], {input: Buffer.concat([frame('one'), frame('')])})
    expect(JSON.parse(framed.stdout)).to.include({recordsAcknowledged: 2, bytes: 11})
  })

  it('stores what --acks 0 sent: fire and forget must still reach the node before the process exits', async () => {
    const lines = Array.from({length: 1000}, (_, index) => `n${index}`)
    const produced = await runCli(['produce', '-t', 'no-acks', '--acks', '0', ...suite.brokers], {input: lines.join('\n') + '\n'})
    expect(produced.code, produced.stderr).to.equal(0)
    const stored = await runCli(['consume', '-t', 'no-acks', '-e', ...suite.brokers])
    expect(stored.stdout).to.equal(lines.join('\n') + '\n')
  })

  it('refuses an empty -K delimiter', async () => {
    const result = await runCli(['produce', '-t', 'empty-delimiter', '-K', '', ...suite.brokers], {input: 'a:b\n'})
    expectOneLine(result, /-K needs a delimiter of at least one character/)
  })
})
