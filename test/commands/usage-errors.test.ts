import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'

/**
 * Mistakes in flags and arguments, caught before any connection: each must be one line on
 * stderr that says what is wrong and where to read more, with exit code 2 and nothing on stdout.
 */
describe('usage errors (bad flags and arguments)', function () {
  this.timeout(60_000)

  const cases: {args: string[]; says: RegExp}[] = [
    {args: ['produce'], says: /missing required flag --topic/i},
    {args: ['produce', '-t'], says: /--topic expects a value/},
    {args: ['produce', '-t', 'x', '--acks', '2'], says: /--acks=2 .*one of: 0, 1, all/},
    {args: ['consume', '-t', 'x', '-c', '0'], says: /--count: expected an integer greater than or equal to 1 but received: 0/i},
    {args: ['consume', '-t', 'x', '--bogus'], says: /nonexistent flag: --bogus/i},
    {args: ['consume', '-t', 'x', '--json', '--format', '%s'], says: /--json=true cannot also be provided when using --format/},
    {args: ['consume', '-t', 'x', '--replica', 'all'], says: /--replica=all .*one of: leader, any/},
    {args: ['tail', '-t', 'x', '--replica', 'nearest'], says: /--replica=nearest .*one of: leader, any/},
    {args: ['consume', '-t', 'x', '--data-dir', '.', '--replica', 'any'], says: /--data-dir=. cannot also be provided when using --replica/},
    {args: ['topics', 'create'], says: /missing 1 required arg: name/i},
    {args: ['topics', 'create', 'a', 'b'], says: /unexpected argument: b/i},
    {args: ['segments', 'inspect', '--records', '-d', '.'], says: /--dump/},
  ]

  for (const {args, says} of cases) {
    it(`lignum ${args.join(' ')}: one line naming the problem and the command's --help`, async () => {
      const result = await runCli(args, {env: {LIGNUM_BROKERS: '127.0.0.1:1'}})
      expect(result.code).to.equal(2)
      expect(result.stdout).to.equal('')
      const lines = result.stderr.trimEnd().split('\n')
      expect(lines, result.stderr).to.have.length(1)
      // With --json the line is JSON, {"error": {"code", "message"}}, the message the same words.
      const said = args.includes('--json') ? (JSON.parse(lines[0]!) as {error: {code: string; message: string}}).error.message : lines[0]!
      if (!args.includes('--json')) expect(said).to.match(/^Error: /)
      expect(said).to.match(says)
      const command = args[0] === 'topics' || args[0] === 'segments' ? `${args[0]} ${args[1]}` : args[0]
      expect(said).to.contain(`lignum ${command} --help`)
    })
  }
})

describe('lignum help', function () {
  this.timeout(60_000)

  it('shows a command\'s help as people type it: lignum help topics create', async () => {
    const result = await runCli(['help', 'topics', 'create'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.contain('$ lignum topics create NAME')
    expect(result.stdout).to.contain('EXAMPLES')
  })

  it('names an unknown command in one line and points at the list', async () => {
    const result = await runCli(['help', 'nope'])
    expect(result.code).to.equal(3)
    expect(result.stderr.trimEnd()).to.equal('Error: no command "nope"; run "lignum help" to list the commands')
  })
})

describe('unknown commands', function () {
  this.timeout(60_000)

  const cases: {args: string[]; says: string}[] = [
    {args: ['consme', '-t', 'x'], says: 'Error: no command "consme" (did you mean "lignum consume"?); run "lignum help" to list the commands'},
    {args: ['topics', 'lst'], says: 'Error: no command "topics lst" (did you mean "lignum topics list"?); run "lignum help" to list the commands'},
    {args: ['frobnicate'], says: 'Error: no command "frobnicate"; run "lignum help" to list the commands'},
  ]

  for (const {args, says} of cases) {
    it(`lignum ${args.join(' ')}: one line with the nearest command, if any, and exit 2`, async () => {
      const result = await runCli(args)
      expect(result.code).to.equal(2)
      expect(result.stdout).to.equal('')
      expect(result.stderr).to.equal(`${says}\n`)
    })
  }
})

describe('consume with a range that ends before it starts', function () {
  this.timeout(30_000)

  it('refuses --to below --from in one line, before connecting, as offline consume does', async () => {
    const result = await runCli(['consume', '-t', 'x', '--from', '5', '--to', '3', '--brokers', '127.0.0.1:1'])
    expect(result.code).to.equal(2)
    expect(result.stdout).to.equal('')
    expect(result.stderr).to.equal('Error: --to 3 is below --from 5; --to is exclusive and must be at least --from\n')
  })
})
