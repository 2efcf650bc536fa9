/**
 * Record bytes made safe to draw inside a live terminal view: what a record holds must never
 * reach the terminal as a control. Text (valid UTF-8) keeps its printable characters; control
 * characters (C0, DEL, C1: ESC, BEL, CSI, newlines and tabs too, which would break a redraw's
 * line count), line separators and bidirectional overrides become escapes (\n, \t, \r, \xNN,
 * \u{NNNN}), and a backslash becomes \\ so an escape shown is never ambiguous. Bytes that are
 * not UTF-8 are shown as Python shows bytes: printable ASCII as is, every other byte \xNN.
 *
 * Invariant: the result holds no character below U+0020, none in U+007F to U+009F, and none of
 * the invisible formatting characters listed below.
 */
import {isUtf8} from 'node:buffer'

const NAMED_ESCAPES: Record<number, string> = {0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x5c: '\\\\'}
// Characters that reorder, hide or break lines without being C0/C1 controls: a value could use
// them to make the line it is drawn on lie about its contents.
const INVISIBLE_FORMATTING = new Set([0x061c, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2060, 0x2066, 0x2067, 0x2068, 0x2069, 0xfeff])
const ELLIPSIS = '…'

/**
 * At most `bytesMax` bytes of `bytes`, shown safely; an ellipsis marks bytes left out. A view
 * draws a line's first hundred-odd columns, so a large value is never escaped in full.
 */
export function terminalSafeText(bytes: Buffer, bytesMax: number): string {
  const cut = bytes.length > bytesMax
  const shown = cut ? bytes.subarray(0, utf8BoundaryAtOrBefore(bytes, bytesMax)) : bytes
  const text = isUtf8(shown) ? escapeText(shown.toString('utf8')) : escapeBytes(shown)
  return cut ? text + ELLIPSIS : text
}

/** A string (from a record, a key, a header) with its control and formatting characters escaped. */
export function escapeText(text: string): string {
  let escaped = ''
  for (const char of text) {
    const code = char.codePointAt(0) as number
    if (NAMED_ESCAPES[code] !== undefined) escaped += NAMED_ESCAPES[code]
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) escaped += `\\x${hex2(code)}`
    else if (INVISIBLE_FORMATTING.has(code)) escaped += `\\u{${code.toString(16)}}`
    else escaped += char
  }
  return escaped
}

function escapeBytes(bytes: Buffer): string {
  let escaped = ''
  for (const byte of bytes) {
    if (NAMED_ESCAPES[byte] !== undefined) escaped += NAMED_ESCAPES[byte]
    else if (byte >= 0x20 && byte < 0x7f) escaped += String.fromCharCode(byte)
    else escaped += `\\x${hex2(byte)}`
  }
  return escaped
}

function hex2(code: number): string {
  return code.toString(16).padStart(2, '0')
}

/**
 * The largest end at or before `end` that does not split a UTF-8 sequence, so a cut text stays
 * text. A sequence is at most 4 bytes, so at most 3 continuation bytes are stepped back over.
 */
function utf8BoundaryAtOrBefore(bytes: Buffer, end: number): number {
  let start = end
  while (start > 0 && end - start < 3 && (bytes[start - 1]! & 0xc0) === 0x80) start--
  if (start === 0) return end
  const lead = bytes[start - 1]!
  const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1
  return start - 1 + length > end ? start - 1 : end
}
