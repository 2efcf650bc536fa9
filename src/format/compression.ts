/**
 * The compression codecs of Kafka's record batches (attribute bits 0-2). A codec compresses a
 * batch's whole record area as one block. Decompression is always bounded: a small batch may
 * claim to inflate to gigabytes (a zip bomb), and the bound stops it before the memory is spent.
 *
 * Invariant: a codec this build cannot decode is UNSUPPORTED_CODEC naming it, never garbage.
 */
import {gunzipSync, gzipSync} from 'node:zlib'
import {LignumError} from '../errors.js'

export type CompressionCodec = 'none' | 'gzip'

/** Kafka's codec ids, attribute bits 0-2. */
export const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
export const CODEC_IDS: Record<CompressionCodec, number> = {none: 0, gzip: 1}

export function compress(codec: CompressionCodec, plain: Buffer): Buffer {
  if (codec === 'none') return plain
  if (codec === 'gzip') return gzipSync(plain)
  throw new LignumError('UNSUPPORTED_CODEC', `compression "${codec}" is not supported; use none or gzip`)
}

/**
 * The record area of a batch compressed with `codec`, at most `maxBytes` once inflated;
 * CORRUPT_RECORD when it does not decompress or inflates past the bound. `where` names the
 * batch in the message.
 */
export function decompress(codec: string, data: Buffer, maxBytes: number, where: string): Buffer {
  if (codec === 'none') return data
  if (codec === 'gzip') {
    try {
      return gunzipSync(data, {maxOutputLength: maxBytes})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new LignumError('CORRUPT_RECORD', `gzip record batch ${where} inflates past ${maxBytes} bytes, the limit for one batch; it is refused as a decompression bomb`, {cause: error})
      }
      throw new LignumError('CORRUPT_RECORD', `gzip record batch ${where} does not decompress: ${(error as Error).message}`, {cause: error})
    }
  }
  throw new LignumError('UNSUPPORTED_CODEC', `record batch ${where} is compressed with ${codec}, which Lignum cannot decode; re-produce it with none or gzip`)
}
