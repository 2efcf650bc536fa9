/**
 * How the CLI shows an error on stderr, in one place: one line `Error: <message>`, or with
 * --json one line of JSON, `{"error":{"code":"...","message":"..."}}`, so a script that reads
 * JSON from stdout parses failures the same way. The exit code is the caller's (the error
 * table's); this module only renders. A hint (how to fix it, in the command's words) follows
 * the message after "; " on a line, and is its own field in JSON.
 */
import {errorLine, type ErrorCode} from '../errors.js'

export interface ShownError {
  code: ErrorCode
  message: string
  hint?: string
}

/** The line to write to stderr for `error`, newline included. */
export function renderError(error: ShownError, json: boolean): string {
  if (json) return `${JSON.stringify({error: {code: error.code, message: error.message, ...(error.hint === undefined ? {} : {hint: error.hint})}})}\n`
  return `Error: ${errorLine(error)}\n`
}

export function writeError(error: ShownError, json: boolean): void {
  process.stderr.write(renderError(error, json))
}

/**
 * True when the command line asks for JSON output: `--json` before any `--` (what follows `--`
 * is data, not flags), as oclif decides for the commands that declare enableJsonFlag.
 */
export function asksForJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  const flags = end === -1 ? argv : argv.slice(0, end)
  return flags.includes('--json')
}
