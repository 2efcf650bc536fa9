/**
 * oclif's own parse errors (a missing flag, a value out of range, an unknown flag) arrive as
 * several indented lines, sometimes followed by the whole help text. A user wants one line:
 * what is wrong, and where to read how to do it right. UsageError wraps whatever the parser
 * threw and renders that line.
 */
import {stripVTControlCharacters} from 'node:util'

export class UsageError extends Error {
  constructor(readonly parseError: Error & {args?: {name: string}[]}) {
    super(describeParseError(parseError), {cause: parseError})
    this.name = 'UsageError'
  }

  /** The message and where to read more, e.g. `...; run "lignum consume --help" ...`. */
  line(bin: string, commandId: string): string {
    return `${this.message}; run "${bin} ${commandId.replaceAll(':', ' ')} --help" for the flags and examples`
  }
}

function describeParseError(error: Error & {args?: {name: string}[]}): string {
  const text = stripVTControlCharacters(error.message)
    .replace(/\s*See more help with --help\s*$/, '')
    .replace(/^The following errors? occurred:\s*/, '')
    .replace(/^Missing required flag (\w[\w-]*)/gm, 'Missing required flag --$1')
  // RequiredArgsError lists each argument with its description in a table: the names suffice.
  const missingArgs = /^Missing \d+ required args?/.exec(text)
  if (missingArgs && error.args) return `${missingArgs[0]}: ${error.args.map((arg) => arg.name).join(', ')}`
  return text
    .replace(/^Parsing (--[\w-]+)\s*\n\s*/gm, '$1: ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('; ')
}
