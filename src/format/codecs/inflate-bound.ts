/**
 * The one error every codec raises when a batch inflates past its bound (a decompression bomb),
 * and the one it raises for bytes that do not decompress, so the messages read the same
 * whatever the codec.
 */
import {LignumError} from '../../errors.js'

export function inflatesPastBound(codec: string, where: string, maxBytes: number, cause?: unknown): LignumError {
  return new LignumError('CORRUPT_RECORD', `${codec} record batch ${where} inflates past ${maxBytes} bytes, the limit for one batch; it is refused as a decompression bomb`, {cause})
}

export function doesNotDecompress(codec: string, where: string, reason: string, cause?: unknown): LignumError {
  return new LignumError('CORRUPT_RECORD', `${codec} record batch ${where} does not decompress: ${reason}`, {cause})
}
