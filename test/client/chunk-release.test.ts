import {expect} from 'chai'
import {chunkOfBatch, ResponseBuffer} from '../../src/client/consumer.js'
import {borrowWithHeadroom} from '../../src/format/headroom.js'
import {batchPositions, encodeRecordBatch} from '../../src/format/record-batch.js'

const largeValue = Buffer.alloc(200 * 1024, 0x61)

/** Two batches in one pooled buffer, as a large response arrives (wire/grpc-framing.ts), cut into chunks. */
function receivedResponse() {
  const encoded = Buffer.concat([encodeRecordBatch([{key: null, value: largeValue}], {baseOffset: 0}), encodeRecordBatch([{key: null, value: largeValue}], {baseOffset: 1})])
  const batches = borrowWithHeadroom(encoded.length)
  encoded.copy(batches)
  const response = new ResponseBuffer(batches)
  const chunks = [...batchPositions(batches)].map(({position}) => chunkOfBatch('t', 0, batches, position, 0, Number.POSITIVE_INFINITY, response)!)
  response.allCut()
  return {batches, chunks}
}

describe('releasing record chunks', () => {
  it('gives the response buffer back once every chunk is released', () => {
    const {batches, chunks} = receivedResponse()
    chunks[0].release()
    expect(borrowWithHeadroom(batches.length).buffer, 'one chunk still held').to.not.equal(batches.buffer)
    chunks[1].release()
    chunks[1].release()
    expect(borrowWithHeadroom(batches.length).buffer).to.equal(batches.buffer)
    expect(borrowWithHeadroom(batches.length).buffer, 'given back once').to.not.equal(batches.buffer)
  })

  it('keeps the buffer when records were handed out: they are views of it', () => {
    const {batches, chunks} = receivedResponse()
    const kept = chunks[0].records[0].value
    for (const chunk of chunks) chunk.release()
    expect(borrowWithHeadroom(batches.length).buffer).to.not.equal(batches.buffer)
    expect(kept?.equals(largeValue)).to.equal(true)
  })

  it('refuses to read a chunk after its release', () => {
    const {chunks} = receivedResponse()
    chunks[0].release()
    expect(() => chunks[0].records).to.throw(/read after release/)
    expect(() => chunks[0].writeValueLines(0, 1, Buffer.alloc(16), 0, 0x0a)).to.throw(/read after release/)
  })
})
