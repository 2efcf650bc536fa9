/**
 * The playground's interleaved log: every line a child prints goes to one stream (stderr)
 * behind its name, padded so the columns line up (`n1     | …`, `consul | …`). A node's JSON
 * log line is shown as the readable line a node prints on a terminal (time, level, message,
 * fields); anything else passes through as it came. Names are coloured only when the stream
 * is a terminal and NO_COLOR is unset or empty (no-color.org), so a pipe or a file gets plain
 * text.
 */
import readline from 'node:readline'
import type {Readable, Writable} from 'node:stream'

// Distinct from one another on dark and light terminals; a 10th node would reuse the first.
const NAME_COLOURS = ['36', '35', '33', '32', '34', '96', '95', '93', '92']
const CONSUL_COLOUR = '90'

export interface PrefixedLog {
  /** Copies each line of `input` to the log behind `name`. */
  follow(name: string, input: Readable): void
  /** One line of the playground's own behind `name`. */
  line(name: string, text: string): void
}

export function colourWanted(stream: Writable, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean((stream as NodeJS.WriteStream).isTTY) && !env.NO_COLOR
}

export function prefixedLog(output: Writable, names: readonly string[], colour: boolean): PrefixedLog {
  const width = Math.max(...names.map((name) => name.length))
  const nodeNames = names.filter((name) => name !== 'consul')
  const prefixes = new Map(names.map((name) => [name, prefixOf(name, width, colour ? colourOf(name, nodeNames.indexOf(name)) : undefined)]))
  const prefix = (name: string) => prefixes.get(name) ?? prefixOf(name, width, undefined)
  return {
    follow(name, input) {
      readline.createInterface({input, crlfDelay: Infinity}).on('line', (text) => output.write(prefix(name) + readableLine(text) + '\n'))
    },
    line(name, text) {
      output.write(prefix(name) + text + '\n')
    },
  }
}

function colourOf(name: string, index: number): string {
  return name === 'consul' ? CONSUL_COLOUR : NAME_COLOURS[index % NAME_COLOURS.length]!
}

function prefixOf(name: string, width: number, colour: string | undefined): string {
  const padded = name.padEnd(width)
  return colour === undefined ? `${padded} | ` : `\u001B[${colour}m${padded} |\u001B[0m `
}

/** A node's JSON log line as `HH:MM:SS.mmm LEVEL message key=value…`; other text unchanged. */
export function readableLine(text: string): string {
  if (!text.startsWith('{')) return text
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return text
  }
  if (!parsed || typeof parsed !== 'object') return text
  const {time, level, msg, ...fields} = parsed as Record<string, unknown>
  if (typeof msg !== 'string' || typeof level !== 'string') return text
  const clock = typeof time === 'string' ? time.slice(11, 23) : ''
  const extras = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
  return [clock, level.toUpperCase().padEnd(5), msg, ...extras].filter((part) => part !== '').join(' ')
}
