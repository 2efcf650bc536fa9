import {expect} from 'chai'
import fc from 'fast-check'
import {chunkOfBatch} from '../../src/client/consumer.js'
import {encodeRecordBatch} from '../../src/format/record-batch.js'

/** Prints the chunk's values through a target of `targetBytes`, as the CLI's printer does with its output buffer. */
function printThrough(batch: Buffer, fromOffset: number, endOffset: number, targetBytes: number): string {
  const chunk = chunkOfBatch('t', 0, batch, 0, fromOffset, endOffset)
  if (!chunk) return ''
  const target = Buffer.alloc(targetBytes)
  let output = ''
  let index = 0
  while (index < chunk.count) {
    const written = chunk.writeValueLines(index, chunk.count, target, 0, 0x0a)
    if (written.count === 0) {
      output += `${chunk.records[index].value?.toString('latin1') ?? ''}\n`
      index++
      continue
    }
    output += target.toString('latin1', 0, written.position)
    index += written.count
  }
  return output
}

describe('writeValueLines (values copied from the batch, no object per record)', () => {
  it('prints what the decoded records say, in any output buffer size and offset range', () => {
    const value = fc.option(fc.uint8Array({maxLength: 30}).map((array) => Buffer.from(array)), {nil: null})
    fc.assert(
      fc.property(fc.array(value, {minLength: 1, maxLength: 30}), fc.integer({min: 1, max: 64}), fc.nat(30), fc.nat(30), (values, targetBytes, from, length) => {
        const batch = encodeRecordBatch(values.map((entry) => ({key: null, value: entry})), {baseOffset: 100})
        const expected = values.slice(from, from + length).map((entry) => `${entry?.toString('latin1') ?? ''}\n`).join('')
        expect(printThrough(batch, 100 + from, 100 + from + length, targetBytes)).to.equal(expected)
      }),
    )
  })
})
