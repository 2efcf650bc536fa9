import {expect} from 'chai'
import {decodeEscapes, parseDelimiter} from '../../src/cli/delimiter.js'
import {readInputRecords, type InputOptions, type InputRecord} from '../../src/cli/input-records.js'
import {LignumError} from '../../src/errors.js'

async function read(chunks: (string | Buffer)[], options: InputOptions): Promise<InputRecord[]> {
  async function* stream() {
    for (const chunk of chunks) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
  }
  const records: InputRecord[] = []
  for await (const batch of readInputRecords(stream(), options)) records.push(...batch)
  return records
}

const text = (bytes: Buffer | null) => (bytes === null ? null : bytes.toString('utf8'))
const pairs = (records: InputRecord[]) => records.map((record) => [text(record.key), text(record.value)])

describe('produce input: delimiters, templates, -Z and JSON lines', () => {
  it('decodes kcat\'s escapes in delimiters and refuses an empty one', () => {
    expect(decodeEscapes('\\t|\\n|\\0|\\\\|\\x7f|\\q')).to.deep.equal(Buffer.from('\t|\n|\0|\\|\x7f|\\q', 'latin1'))
    expect(() => parseDelimiter('', '-D')).to.throw(LignumError, /-D needs a delimiter of at least one character/)
  })

  it('cuts records at a -D of several bytes, also where it spans two chunks', async () => {
    const records = await read(['one||tw', 'o|', '|three|', '|', '||four'], {recordDelimiter: Buffer.from('||')})
    expect(records.map((record) => text(record.value))).to.deep.equal(['one', 'two', 'three', '', 'four'])
  })

  it('reads a template\'s key, value and partition, with the record delimiter at its end or not', async () => {
    for (const format of ['%k %v', '%k %v\\n']) {
      const records = await read(['a 1\nb two words\n'], {format})
      expect(pairs(records), format).to.deep.equal([['a', '1'], ['b', 'two words']])
    }
    const located = await read(['3\tk=v\n'], {format: '%p\\t%k=%v'})
    expect(located[0]).to.include({partition: 3})
    expect(pairs(located)).to.deep.equal([['k', 'v']])
  })

  it('refuses a record that does not match the template, naming the record', async () => {
    const reading = read(['a 1\nnospace\n'], {format: '%k %v'})
    await reading.then(() => expect.fail('read'), (error) => expect(error).to.be.instanceOf(LignumError).with.property('message').match(/^record 2 of the input does not match --format "%k %v": no " " after the key$/))
  })

  it('refuses templates it cannot read', async () => {
    await read(['x'], {format: '%k%v'}).then(() => expect.fail('read'), (error) => expect((error as Error).message).to.match(/two fields with nothing between them/))
    await read(['x'], {format: '%o %v'}).then(() => expect.fail('read'), (error) => expect((error as Error).message).to.match(/"%o", which produce cannot read; input templates take %k %v %p %T %%/))
    await read(['x'], {format: 'text'}).then(() => expect.fail('read'), (error) => expect((error as Error).message).to.match(/reads neither a key nor a value/))
  })

  it('makes empty keys and values null with -Z, and keeps them empty without', async () => {
    expect(pairs(await read([' v\nk \n'], {format: '%k %v', emptyIsNull: true}))).to.deep.equal([[null, 'v'], ['k', null]])
    expect(pairs(await read([' v\nk \n'], {format: '%k %v'}))).to.deep.equal([['', 'v'], ['k', '']])
    expect(pairs(await read(['\nx\n'], {emptyIsNull: true}))).to.deep.equal([[null, null], [null, 'x']])
  })

  it('reads the JSON lines consume --json writes: base64, nulls, headers, partition and timestamp', async () => {
    const line = JSON.stringify({topic: 't', partition: 2, offset: 7, timestamp: 1234, key: null, value: '/w==', valueEncoding: 'base64', headers: [{key: 'h', value: 'x'}, {key: 'n', value: null}, {key: 'b', value: 'AA==', valueEncoding: 'base64'}]})
    const [record] = await read([line + '\n\n'], {format: 'json'})
    expect(record).to.deep.equal({key: null, value: Buffer.from([0xff]), headers: [{key: 'h', value: Buffer.from('x')}, {key: 'n', value: null}, {key: 'b', value: Buffer.from([0])}], partition: 2, timestamp: 1234})
  })

  it('refuses a JSON line that is not such a record, naming the line', async () => {
    for (const [line, says] of [
      ['{"value": 5}', /line 1 of the input has a "value" that is neither a string nor null/],
      ['not json', /line 1 of the input is not JSON/],
      ['[1]', /is not a JSON object/],
      ['{"value":"x","valueEncoding":"hex"}', /may only be "base64"/],
      ['{"value":"x","partition":-1}', /"partition" that is not a whole number/],
    ] as const) {
      await read([line], {format: 'json'}).then(() => expect.fail(line), (error) => expect((error as Error).message, line).to.match(says))
    }
  })
})
