/**
 * A small terminal emulator for tests: replays what a program wrote to a pseudo-terminal onto a
 * grid of rows x columns, as a VT100-like terminal would, to read what a person sees at the end
 * and what went wrong on the way. It knows what ink and its escapes use (cursor moves, erase
 * line and screen, carriage return, line feed with scrolling, auto-wrap at the last column); it
 * skips colours and private modes, and records OSC sequences (a title change) and scrolling.
 */

const ESC = '\x1b'

export class TerminalScreen {
  private readonly grid: string[][]
  private row = 0
  private column = 0
  private pendingWrap = false
  /** Lines pushed off the top by output that did not fit: a view taller than the terminal. */
  scrolledOffLines = 0
  /** Times the whole screen was erased (ESC [2J): ink's answer to a frame taller than the terminal. */
  screenClears = 0
  /** OSC sequences the program sent (ESC ] ... BEL), e.g. "0;title" for a title change. */
  readonly oscs: string[] = []

  constructor(
    readonly rows: number,
    readonly columns: number,
  ) {
    this.grid = Array.from({length: rows}, () => this.blankLine())
  }

  static of(output: string, rows: number, columns: number): TerminalScreen {
    const screen = new TerminalScreen(rows, columns)
    screen.write(output)
    return screen
  }

  /** The screen's lines, trailing blanks cut, trailing empty lines dropped. */
  lines(): string[] {
    const lines = this.grid.map((line) => line.join('').trimEnd())
    while (lines.length > 0 && lines.at(-1) === '') lines.pop()
    return lines
  }

  text(): string {
    return this.lines().join('\n')
  }

  write(data: string): void {
    let index = 0
    while (index < data.length) {
      const char = data[index]!
      if (char === ESC) {
        index = this.escape(data, index)
        continue
      }
      index++
      if (char === '\r') this.moveTo(this.row, 0)
      else if (char === '\n') this.lineFeed()
      else if (char === '\b') this.moveTo(this.row, Math.max(0, this.column - 1))
      else if (char >= ' ' && char !== '\x7f') this.print(char)
    }
  }

  private escape(data: string, start: number): number {
    const kind = data[start + 1]
    if (kind === '[') {
      let end = start + 2
      while (end < data.length && !(data.charCodeAt(end) >= 0x40 && data.charCodeAt(end) <= 0x7e)) end++
      this.csi(data.slice(start + 2, end), data[end] ?? '')
      return end + 1
    }
    if (kind === ']') {
      const bell = data.indexOf('\x07', start)
      const terminator = data.indexOf(`${ESC}\\`, start)
      const end = bell === -1 ? terminator : terminator === -1 ? bell : Math.min(bell, terminator)
      if (end === -1) return data.length
      this.oscs.push(data.slice(start + 2, end))
      return end + (end === bell ? 1 : 2)
    }
    // ESC 7, ESC 8, ESC = and the like: one character, nothing to draw.
    return start + 2
  }

  private csi(parameters: string, final: string): void {
    if (parameters.startsWith('?') || parameters.startsWith('>')) return
    const numbers = parameters.split(';').map((part) => (part === '' ? undefined : Number(part)))
    const count = numbers[0] ?? 1
    switch (final) {
      case 'A':
        return this.moveTo(Math.max(0, this.row - count), this.column)
      case 'B':
        return this.moveTo(Math.min(this.rows - 1, this.row + count), this.column)
      case 'C':
        return this.moveTo(this.row, Math.min(this.columns - 1, this.column + count))
      case 'D':
        return this.moveTo(this.row, Math.max(0, this.column - count))
      case 'E':
        return this.moveTo(Math.min(this.rows - 1, this.row + count), 0)
      case 'F':
        return this.moveTo(Math.max(0, this.row - count), 0)
      case 'G':
        return this.moveTo(this.row, Math.min(this.columns - 1, count - 1))
      case 'H':
      case 'f':
        return this.moveTo(Math.min(this.rows - 1, (numbers[0] ?? 1) - 1), Math.min(this.columns - 1, (numbers[1] ?? 1) - 1))
      case 'J':
        return this.eraseScreen(numbers[0] ?? 0)
      case 'K':
        return this.eraseLine(numbers[0] ?? 0)
      default:
        // m (colours) and everything else draws nothing.
        return
    }
  }

  private print(char: string): void {
    if (this.pendingWrap) {
      this.moveTo(this.row, 0)
      this.lineFeed()
    }
    this.grid[this.row]![this.column] = char
    if (this.column === this.columns - 1) this.pendingWrap = true
    else this.column++
  }

  private lineFeed(): void {
    this.pendingWrap = false
    if (this.row < this.rows - 1) {
      this.row++
      return
    }
    this.grid.shift()
    this.grid.push(this.blankLine())
    this.scrolledOffLines++
  }

  private moveTo(row: number, column: number): void {
    this.row = row
    this.column = column
    this.pendingWrap = false
  }

  private eraseScreen(mode: number): void {
    if (mode === 3) return
    if (mode === 2) {
      this.screenClears++
      for (let row = 0; row < this.rows; row++) this.grid[row] = this.blankLine()
      return
    }
    const [from, to] = mode === 0 ? [this.row + 1, this.rows] : [0, this.row]
    for (let row = from; row < to; row++) this.grid[row] = this.blankLine()
    this.eraseLine(mode)
  }

  private eraseLine(mode: number): void {
    const line = this.grid[this.row]!
    const [from, to] = mode === 0 ? [this.column, this.columns] : mode === 1 ? [0, this.column + 1] : [0, this.columns]
    for (let column = from; column < to; column++) line[column] = ' '
  }

  private blankLine(): string[] {
    return Array.from({length: this.columns}, () => ' ')
  }
}
