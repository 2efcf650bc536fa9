/**
 * Runs the real, compiled `lignum` binary (bin/run.js) as a child process, the way a user
 * would, and collects what it prints. `npm test` builds dist/ before mocha starts.
 */
import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import path from 'node:path'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const lignumBin = path.join(repoRoot, 'bin', 'run.js')

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  input?: string | Buffer
  env?: Record<string, string>
  cwd?: string
  timeoutMs?: number
  /** Run as this user (tests run as root, whom file permissions do not stop); supplementary groups are dropped. */
  user?: {uid: number; gid: number}
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [lignumBin, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: {...process.env, NO_COLOR: '1', ...options.env},
      stdio: ['pipe', 'pipe', 'pipe'],
      uid: options.user?.uid,
      gid: options.user?.gid,
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')
  })
}
