/**
 * Zstandard: a batch's records are one or more zstd frames (Kafka's producer writes one,
 * streaming, without a content size). Read by streaming into chunks no larger than what is
 * left of the bound, so a bomb is refused at the first byte past it; the window a frame may
 * ask for is capped too, as it is memory the decoder allocates.
 */
import zstdBinding from 'zstd-napi/binding.js'
import {compress as zstdCompress} from 'zstd-napi'
import {LignumError} from '../../errors.js'
import {doesNotDecompress, inflatesPastBound} from './inflate-bound.js'

/** Kafka's producer default (zstd level 3, compression.zstd.level). */
const ZSTD_LEVEL = 3
/** A frame's window is at most 2^27 bytes (zstd's own default cap for decoders, ZSTD_WINDOWLOG_LIMIT_DEFAULT). */
const WINDOW_LOG_MAX = 27
/** Each streaming step writes at most this much (zstd's recommended output size is 128 KiB). */
const CHUNK_BYTES = zstdBinding.dStreamOutSize()

let context: InstanceType<typeof zstdBinding.DCtx> | undefined

export function compressZstd(plain: Buffer): Buffer {
  return zstdCompress(plain, {compressionLevel: ZSTD_LEVEL})
}

export function decompressZstd(data: Buffer, maxBytes: number, where: string): Buffer {
  const dctx = decoder()
  const chunks: Buffer[] = []
  let total = 0
  let input = data
  let frameOpen = false
  try {
    while (input.length > 0 || frameOpen) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, maxBytes - total + 1))
      const [hint, produced, consumed] = dctx.decompressStream(chunk, input)
      total += produced
      if (total > maxBytes) throw inflatesPastBound('zstd', where, maxBytes)
      if (produced > 0) chunks.push(chunk.subarray(0, produced))
      input = input.subarray(consumed)
      frameOpen = hint !== 0
      if (frameOpen && input.length === 0 && produced < chunk.length) throw doesNotDecompress('zstd', where, 'the frame is cut short')
    }
  } catch (error) {
    context = undefined
    if (error instanceof LignumError) throw error
    throw doesNotDecompress('zstd', where, (error as Error).message, error)
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total)
}

/** One context, reused: creating one per batch costs more than decoding a small batch. */
function decoder(): InstanceType<typeof zstdBinding.DCtx> {
  if (!context) {
    context = new zstdBinding.DCtx()
    context.setParameter(zstdBinding.DParameter.windowLogMax, WINDOW_LOG_MAX)
  }
  return context
}
