/**
 * Runs the real `lignum` binary on a pseudo-terminal, as a user at a terminal would, through
 * util-linux `script` (Node has no pty of its own). Keys typed (e.g. "\x03", Ctrl-C) go through
 * the terminal's line discipline, so Ctrl-C arrives as SIGINT exactly as it does for a user.
 * CI=false: under CI=true (as .ci/run sets) ink draws only the last frame, not a live view.
 */
import {spawn} from 'node:child_process'
import {lignumBin, repoRoot} from './cli.js'

export interface TerminalSession {
  /** Everything the program drew so far, escape sequences included. */
  screen(): string
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>
  type(keys: string): void
  /** `script -e` answers with the program's exit code, 128 + n if a signal n killed it. */
  exited: Promise<number | null>
}

export interface TerminalOptions {
  /** Stdin from this file (or FIFO) instead of the terminal; stdout and stderr stay on it. */
  stdinFrom?: string
  /** The terminal's size as the program reads it (stty); unset, the pty says 0 x 0. */
  size?: {rows: number; columns: number}
  env?: Record<string, string>
}

export function runOnTerminal(args: string[], options: TerminalOptions = {}): TerminalSession {
  // exec: `script` runs the command through $SHELL, and a shell left waiting in between (dash,
  // CI's /bin/sh) would die of the SIGINT itself and report 130 whatever lignum did.
  const quoted = (word: string) => `'${word.replaceAll("'", "'\\''")}'`
  const resize = options.size ? `stty rows ${options.size.rows} cols ${options.size.columns}; ` : ''
  const stdin = options.stdinFrom === undefined ? '' : ` < ${quoted(options.stdinFrom)}`
  const command = resize + 'exec ' + [process.execPath, lignumBin, ...args].map(quoted).join(' ') + stdin
  const sizeEnv = options.size ? {COLUMNS: String(options.size.columns), LINES: String(options.size.rows)} : {COLUMNS: '120', LINES: '30'}
  const child = spawn('script', ['-qfec', command, '/dev/null'], {cwd: repoRoot, env: {...process.env, ...sizeEnv, CI: 'false', ...options.env}, stdio: ['pipe', 'pipe', 'pipe']})
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    screen: () => output,
    type: (keys) => child.stdin.write(keys),
    exited,
    waitFor: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.stdout.off('data', check)
          reject(new Error(`timed out waiting for ${pattern} on the terminal; it shows: ${output.slice(-500)}`))
        }, timeoutMs)
        const check = () => {
          if (!pattern.test(output)) return
          clearTimeout(timer)
          child.stdout.off('data', check)
          resolve()
        }
        child.stdout.on('data', check)
        check()
      }),
  }
}
