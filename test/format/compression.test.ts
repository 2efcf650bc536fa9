/**
 * Every codec round-trips, frames its bytes as Kafka's Java producer does, and refuses a bomb,
 * garbage and a cut stream as CORRUPT_RECORD without spending more than the bound.
 */
import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {compressFrameSync} from 'lz4-napi'
import {compressSync as snappyRaw} from 'snappy'
import {LignumError} from '../../src/errors.js'
import {CODEC_NAMES, compress, decompress, type CompressionCodec} from '../../src/format/compression.js'

const CODECS = CODEC_NAMES.filter((codec) => codec !== 'none') as Exclude<CompressionCodec, 'none'>[]
const MiB = 1024 * 1024
/** Text-like input that compresses well, spanning several snappy chunks and lz4 blocks. */
const TEXT = Buffer.from(Array.from({length: 30_000}, (_, index) => `record ${index} {"user": ${index % 97}, "event": "click"}\n`).join(''))

function expectCorrupt(codec: string, data: Buffer, maxBytes: number, message: RegExp): void {
  expect(() => decompress(codec, data, maxBytes, 'at offset 7')).to.throw(LignumError, message).with.property('code', 'CORRUPT_RECORD')
}

describe('format/compression', () => {
  for (const codec of CODECS) {
    describe(codec, () => {
      it('round-trips empty, small, random and large inputs', () => {
        for (const plain of [Buffer.alloc(0), Buffer.from('x'), randomBytes(100_000), TEXT]) {
          const packed = compress(codec, plain)
          expect(decompress(codec, packed, 64 * MiB, 'at offset 0').equals(plain), `${plain.length} bytes`).to.equal(true)
        }
        expect(compress(codec, TEXT).length).to.be.below(TEXT.length / 2)
      })

      it('refuses a bomb at the bound, quickly', () => {
        const bomb = compress(codec, Buffer.alloc(200 * MiB))
        expect(bomb.length).to.be.below(12 * MiB)
        const started = Date.now()
        expectCorrupt(codec, bomb, 8 * MiB, new RegExp(`${codec} record batch at offset 7 inflates past ${8 * MiB} bytes.*decompression bomb`))
        expect(Date.now() - started).to.be.below(5_000)
        // One byte of room short is refused as well; the exact size is taken.
        expectCorrupt(codec, compress(codec, TEXT), TEXT.length - 1, /inflates past/)
        expect(decompress(codec, compress(codec, TEXT), TEXT.length, 'x').length).to.equal(TEXT.length)
      })

      it('refuses garbage and a cut stream as CORRUPT_RECORD', () => {
        for (let seed = 0; seed < 50; seed++) expectCorrupt(codec, randomBytes(1 + seed * 37), MiB, /does not decompress|inflates past/)
        const packed = compress(codec, TEXT)
        expectCorrupt(codec, packed.subarray(0, packed.length - 3), 64 * MiB, /does not decompress/)
        expectCorrupt(codec, packed.subarray(0, Math.floor(packed.length / 2)), 64 * MiB, /does not decompress/)
      })
    })
  }

  it("snappy writes snappy-java's stream framing and reads raw snappy too", () => {
    const packed = compress('snappy', TEXT)
    expect([...packed.subarray(0, 16)]).to.deep.equal([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1])
    // 32 KiB chunks, as snappy-java writes them: the first chunk inflates to exactly that.
    const firstChunk = packed.subarray(20, 20 + packed.readInt32BE(16))
    expect(decompress('snappy', firstChunk, MiB, 'x').length).to.equal(32 * 1024)
    expect(decompress('snappy', snappyRaw(TEXT), 64 * MiB, 'x').equals(TEXT)).to.equal(true)
    // A raw block that states a length past the bound is refused before it is inflated.
    expectCorrupt('snappy', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]), 64 * MiB, /inflates past/)
  })

  it('lz4 writes a standard frame and reads frames with checksums and a content size', () => {
    const packed = compress('lz4', TEXT)
    expect(packed.readUInt32LE(0)).to.equal(0x184d2204)
    // Version 01, independent blocks, no checksums or content size: what Kafka's producer writes.
    expect(packed[4]).to.equal(0x60)
    const checked = compressFrameSync(TEXT, {contentChecksum: true, blockChecksums: true})
    expect(decompress('lz4', checked, 64 * MiB, 'x').equals(TEXT)).to.equal(true)
    // An incompressible block is stored as is (its size's high bit set).
    const random = randomBytes(300_000)
    expect(decompress('lz4', compress('lz4', random), 64 * MiB, 'x').equals(random)).to.equal(true)
  })

  it('zstd writes a zstd frame', () => {
    expect(compress('zstd', TEXT).readUInt32LE(0)).to.equal(0xfd2fb528)
  })

  it('names a codec id it does not know as UNSUPPORTED_CODEC', () => {
    expect(() => decompress('unknown codec id 6', Buffer.alloc(4), MiB, 'at offset 0')).to.throw(LignumError, /codec id 6/).with.property('code', 'UNSUPPORTED_CODEC')
  })
})
