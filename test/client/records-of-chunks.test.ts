import {expect} from 'chai'
import {recordsOfChunks, type RecordChunk} from '../../src/client/consumer.js'
import type {LogRecord} from '../../src/format/record-batch.js'

function chunkOf(partition: number, offsets: number[]): RecordChunk {
  const records: LogRecord[] = offsets.map((offset) => ({offset, timestamp: 1000 + offset, key: null, value: Buffer.from(`v${offset}`), headers: []}))
  return {
    topic: 't', partition, count: records.length, records,
    offsetAt: (index) => records[index].offset,
    writeValueLines: () => ({count: 0, position: 0}),
    consumedUpTo: () => {},
    release: () => {},
  }
}

describe('recordsOfChunks', () => {
  it('yields every record of every chunk in order, skipping empty chunks', async () => {
    async function* chunks() {
      yield chunkOf(0, [0, 1])
      yield chunkOf(1, [])
      yield chunkOf(1, [5])
    }
    const seen: string[] = []
    for await (const record of recordsOfChunks(chunks())) seen.push(`${record.topic}-${record.partition}@${record.offset}:${record.value}`)
    expect(seen).to.deep.equal(['t-0@0:v0', 't-0@1:v1', 't-1@5:v5'])
  })

  it('ends the chunk stream when the reader stops early', async () => {
    let finished = false
    async function* chunks() {
      try {
        yield chunkOf(0, [0, 1, 2])
        yield chunkOf(0, [3])
      } finally {
        finished = true
      }
    }
    for await (const record of recordsOfChunks(chunks())) {
      if (record.offset === 1) break
    }
    expect(finished).to.equal(true)
  })
})
