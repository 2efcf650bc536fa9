import {expect} from 'chai'
import {escapeText, terminalSafeText} from '../../src/ui/terminal-safe-text.js'

// Nothing a terminal acts on: C0, DEL, C1, and the invisible formatting characters.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]/u

describe('terminal-safe text', () => {
  it('escapes an OSC that would set the terminal title, and newlines, tabs and backslashes', () => {
    expect(terminalSafeText(Buffer.from('a\x1b]0;title\x07b\nc\td\\e'), 100)).to.equal('a\\x1b]0;title\\x07b\\nc\\td\\\\e')
  })

  it('shows bytes that are not UTF-8 as \\xNN, printable ASCII as is', () => {
    expect(terminalSafeText(Buffer.from([0x00, 0xff, 0x41, 0x9b, 0x0d]), 100)).to.equal('\\x00\\xffA\\x9b\\r')
  })

  it('keeps text, wide characters included, and escapes C1 controls and bidirectional overrides in it', () => {
    expect(escapeText('héllo 世界 \u009b31m \u202egnp.exe')).to.equal('héllo 世界 \\x9b31m \\u{202e}gnp.exe')
  })

  it('cuts at a character boundary and marks the cut, so a long text stays text', () => {
    const text = 'é'.repeat(100)
    expect(terminalSafeText(Buffer.from(text), 11)).to.equal('é'.repeat(5) + '…')
  })

  it('leaves no control character in any bytes at all', () => {
    for (let seed = 0; seed < 200; seed++) {
      const bytes = Buffer.from(Array.from({length: 64}, (_, index) => (seed * 131 + index * 97 + (index * index * seed)) & 0xff))
      expect(terminalSafeText(bytes, 64)).to.not.match(CONTROL)
      expect(escapeText(bytes.toString('latin1'))).to.not.match(CONTROL)
    }
  })
})
