/**
 * The compression codecs of Kafka's record batches (attribute bits 0-2: none 0, gzip 1,
 * snappy 2, lz4 3, zstd 4). A codec compresses a batch's whole record area as one block, framed
 * as Kafka's Java producer frames it (codecs/: snappy in snappy-java's stream framing, lz4 as an
 * LZ4 frame, zstd as a zstd frame), so Kafka's tools read what Lignum writes and Lignum reads
 * Kafka's data directories. Decompression is always bounded: a small batch may claim to inflate
 * to gigabytes (a zip bomb), and the bound stops it before the memory is spent.
 *
 * Invariant: a codec this build cannot decode is UNSUPPORTED_CODEC naming it, never garbage.
 */
import {gunzipSync, gzipSync} from 'node:zlib'
import {LignumError} from '../errors.js'
import {doesNotDecompress, inflatesPastBound} from './codecs/inflate-bound.js'
import {compressLz4, decompressLz4} from './codecs/lz4-codec.js'
import {compressSnappy, decompressSnappy} from './codecs/snappy-codec.js'
import {compressZstd, decompressZstd} from './codecs/zstd-codec.js'

/** Kafka's codec ids, attribute bits 0-2. */
export const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
export type CompressionCodec = (typeof CODEC_NAMES)[number]
export const CODEC_IDS: Record<CompressionCodec, number> = {none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4}

export function isCompressionCodec(name: string): name is CompressionCodec {
  return (CODEC_NAMES as readonly string[]).includes(name)
}

export function compress(codec: CompressionCodec, plain: Buffer): Buffer {
  switch (codec) {
    case 'none': return plain
    case 'gzip': return gzipSync(plain)
    case 'snappy': return compressSnappy(plain)
    case 'lz4': return compressLz4(plain)
    case 'zstd': return compressZstd(plain)
  }
  throw new LignumError('UNSUPPORTED_CODEC', `compression "${codec as string}" is not supported; use one of ${CODEC_NAMES.join(', ')}`)
}

/**
 * The most bytes `plainBytes` can take once compressed with `codec`, incompressible input
 * included: what a producer must assume when it fills a batch up to a size limit. From each
 * codec's own worst case (zlib's deflateBound, snappy's MaxCompressedLength per 32 KiB chunk
 * plus its framing, LZ4_compressBound, ZSTD_COMPRESSBOUND), rounded up.
 */
export function compressedBytesBound(codec: CompressionCodec, plainBytes: number): number {
  switch (codec) {
    case 'none': return plainBytes
    case 'gzip': return plainBytes + Math.ceil(plainBytes / 256) + 64
    case 'snappy': return 16 + Math.ceil(plainBytes / (32 * 1024)) * 36 + plainBytes + Math.ceil(plainBytes / 6)
    case 'lz4': return plainBytes + Math.ceil(plainBytes / 128) + 64
    case 'zstd': return plainBytes + Math.ceil(plainBytes / 256) + 128
  }
}

/**
 * The record area of a batch compressed with `codec`, at most `maxBytes` once inflated;
 * CORRUPT_RECORD when it does not decompress or inflates past the bound. `where` names the
 * batch in the message.
 */
export function decompress(codec: string, data: Buffer, maxBytes: number, where: string): Buffer {
  switch (codec) {
    case 'none': return data
    case 'gzip': return gunzip(data, maxBytes, where)
    case 'snappy': return decompressSnappy(data, maxBytes, where)
    case 'lz4': return decompressLz4(data, maxBytes, where)
    case 'zstd': return decompressZstd(data, maxBytes, where)
  }
  throw new LignumError('UNSUPPORTED_CODEC', `record batch ${where} is compressed with ${codec}, which Lignum cannot decode; re-produce it with one of ${CODEC_NAMES.join(', ')}`)
}

function gunzip(data: Buffer, maxBytes: number, where: string): Buffer {
  try {
    return gunzipSync(data, {maxOutputLength: maxBytes})
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw inflatesPastBound('gzip', where, maxBytes, error)
    throw doesNotDecompress('gzip', where, (error as Error).message, error)
  }
}
