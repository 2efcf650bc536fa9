/**
 * Delimiters and template literals typed on a command line, as kcat reads them: `\n`, `\t`,
 * `\r`, `\0`, `\\` and `\xNN` (one byte) stand for their bytes; everything else is its UTF-8.
 * A delimiter (`-D`, `-K`) is never empty: an empty one would split every byte or nothing.
 */
import {LignumError} from '../errors.js'

const ESCAPES: Record<string, number> = {n: 0x0a, t: 0x09, r: 0x0d, '0': 0x00, '\\': 0x5c}

/** The bytes `text` stands for, escapes decoded. */
export function decodeEscapes(text: string): Buffer {
  const parts: Buffer[] = []
  let literal = ''
  const flush = () => {
    if (literal !== '') parts.push(Buffer.from(literal, 'utf8'))
    literal = ''
  }
  for (let index = 0; index < text.length; index++) {
    const escaped = escapeAt(text, index)
    if (escaped === undefined) {
      literal += text[index]
      continue
    }
    flush()
    parts.push(Buffer.from([escaped.byte]))
    index += escaped.length - 1
  }
  flush()
  return Buffer.concat(parts)
}

/** The escape starting at `index` (its byte and how many characters it takes), if one does. */
export function escapeAt(text: string, index: number): {byte: number; length: number} | undefined {
  if (text[index] !== '\\') return undefined
  const next = text[index + 1]
  if (next !== undefined && ESCAPES[next] !== undefined) return {byte: ESCAPES[next], length: 2}
  const hex = /^x([0-9a-fA-F]{2})/.exec(text.slice(index + 1, index + 4))
  return hex ? {byte: Number.parseInt(hex[1], 16), length: 4} : undefined
}

export function parseDelimiter(text: string, flag: string): Buffer {
  const bytes = decodeEscapes(text)
  if (bytes.length === 0) throw new LignumError('INVALID_ARGUMENT', `${flag} needs a delimiter of at least one character, e.g. ${flag} : or ${flag} '\\t'`)
  return bytes
}
