import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'

/** kcat's -D, -K and -Z, input templates and --print-offsets, through the real CLI against a real node. */
describe('produce and consume: delimiters, templates, nulls and printed offsets', function () {
  this.timeout(120_000)
  const suite = serverForSuite()
  const cli = (args: string[], input?: string) => runCli([...args, ...suite.brokers], {input})
  const jsonLines = (stdout: string) => stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)

  it('splits records at -D and keys at -K on produce, and prints them back with -K and -D on consume', async () => {
    const produced = await cli(['produce', '-t', 'delimited', '-D', '|', '-K', '::'], 'a::1|b::two|no key|')
    expect(produced.code, produced.stderr).to.equal(0)
    const consumed = await cli(['consume', '-t', 'delimited', '-e', '-K', '=', '-D', ';\\n'])
    expect(consumed.stdout).to.equal('a=1;\nb=two;\n=no key;\n')
    expect((await cli(['consume', '-t', 'delimited', '-e', '-D', '\\0'])).stdout).to.equal('1\0two\0no key\0')
    expect((await cli(['consume', '-t', 'delimited', '-e', '-K', '\\t'])).stdout).to.equal('a\t1\nb\ttwo\n\tno key\n')
  })

  it('makes empty keys and values null with -Z, and keeps them empty without', async () => {
    expect((await cli(['produce', '-t', 'nulls', '-Z', '-K', ':'], ':only value\nonly key:\n')).code).to.equal(0)
    expect((await cli(['produce', '-t', 'nulls', '-K', ':'], ':empty key\n')).code).to.equal(0)
    const records = jsonLines((await cli(['consume', '-t', 'nulls', '-e', '--json'])).stdout)
    expect(records.map(({key, value}) => ({key, value}))).to.deep.equal([
      {key: null, value: 'only value'},
      {key: 'only key', value: null},
      {key: '', value: 'empty key'},
    ])
  })

  it('reads records through an input template, partition included', async () => {
    expect((await cli(['topics', 'create', 'templated', '--partitions', '3'])).code).to.equal(0)
    const produced = await cli(['produce', '-t', 'templated', '-f', '%p\\t%k=%v\\n'], '2\tuser-1=signed in\n0\tuser-2=left\n')
    expect(produced.code, produced.stderr).to.equal(0)
    const records = jsonLines((await cli(['consume', '-t', 'templated', '-e', '--json'])).stdout)
    expect(records.map(({partition, key, value}) => ({partition, key, value})).sort((a, b) => Number(a.partition) - Number(b.partition))).to.deep.equal([
      {partition: 0, key: 'user-2', value: 'left'},
      {partition: 2, key: 'user-1', value: 'signed in'},
    ])
    const refused = await cli(['produce', '-t', 'templated', '-f', '%k %v'], 'fine 1\nnot-fine\n')
    expect(refused.code).to.equal(2)
    expect(refused.stderr).to.equal('Error: record 2 of the input does not match --format "%k %v": no " " after the key (the 1 record(s) before it were produced)\n')
  })

  it('prints the topic, partition and offset of each record with --print-offsets, as lines or JSON lines', async () => {
    const human = await cli(['produce', '-t', 'printed', '-p', '0', '--print-offsets'], 'one\ntwo\nthree\n')
    expect(human.code, human.stderr).to.equal(0)
    expect(human.stdout).to.equal('Produced to printed partition 0 at offset 0\nProduced to printed partition 0 at offset 1\nProduced to printed partition 0 at offset 2\n')
    const json = await cli(['produce', '-t', 'printed', '-p', '0', '--print-offsets', '--json'], 'four\nfive\n')
    const [first, second, summary] = jsonLines(json.stdout)
    expect([first, second]).to.deep.equal([{topic: 'printed', partition: 0, offset: 3}, {topic: 'printed', partition: 0, offset: 4}])
    expect(summary).to.include({topic: 'printed', recordsSent: 2, recordsAcknowledged: 2})
  })

  it('reads stdin for --file -, and --quiet leaves stderr empty', async () => {
    const result = await cli(['produce', '-t', 'dash', '--file', '-', '--quiet', '--json'], 'x\ny\n')
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.equal('')
    expect(JSON.parse(result.stdout)).to.include({recordsAcknowledged: 2, bytes: 4})
  })
})
