import {expect} from 'chai'
import {PassThrough, Writable} from 'node:stream'
import {colourWanted, prefixedLog, readableLine} from '../../src/playground/prefixed-log.js'

function collector(isTTY: boolean): Writable & {text: string; isTTY: boolean} {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      stream.text += chunk.toString()
      done()
    },
  }) as Writable & {text: string; isTTY: boolean}
  stream.text = ''
  stream.isTTY = isTTY
  return stream
}

describe('playground/prefixed-log', () => {
  it('colours only a terminal, and never when NO_COLOR is set to anything', () => {
    expect(colourWanted(collector(true), {})).to.equal(true)
    expect(colourWanted(collector(true), {NO_COLOR: ''})).to.equal(true)
    expect(colourWanted(collector(true), {NO_COLOR: '1'})).to.equal(false)
    expect(colourWanted(collector(false), {})).to.equal(false)
  })

  it('puts each line behind its name, padded to the longest, and shows a node\'s JSON line readably', async () => {
    const output = collector(false)
    const log = prefixedLog(output, ['consul', 'n1'], false)
    const input = new PassThrough()
    log.follow('n1', input)
    input.end('{"time":"2026-12-02T02:40:24.435Z","level":"info","msg":"node started","nodeId":"n1","ports":[1,2]}\nnot json\n')
    await new Promise((resolve) => setImmediate(resolve))
    log.line('consul', '==> Starting Consul agent...')
    expect(output.text).to.equal('n1     | 02:40:24.435 INFO  node started nodeId=n1 ports=[1,2]\nn1     | not json\nconsul | ==> Starting Consul agent...\n')
  })

  it('colours the name, not the line, when asked', () => {
    const output = collector(true)
    prefixedLog(output, ['consul', 'n1'], true).line('n1', 'hello')
    expect(output.text).to.equal('\u001B[36mn1     |\u001B[0m hello\n')
  })

  it('passes through text that only looks like JSON', () => {
    expect(readableLine('{not json')).to.equal('{not json')
    expect(readableLine('{"a":1}')).to.equal('{"a":1}')
  })
})
