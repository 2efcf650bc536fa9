/**
 * A real `lignum cluster up` for tests: the compiled CLI spawned as a user would, its stdout
 * and stderr collected, the summary it prints once healthy (with --json: one JSON object)
 * awaited. `forceKill` cleans up after a failing test: SIGKILL by pid to the command and to
 * every child it reported (or, before it reported any, every process naming its directory),
 * so a broken test leaves no process behind.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'
import {lignumBin, repoRoot} from '../../helpers/cli.js'

// Consul, then three nodes, then a controller: about 20 s on a loaded 2-core machine.
export const UP_TIMEOUT_MS = 150_000

export interface PlaygroundJson {
  brokers: string
  kafkaBootstrap: string
  cluster: string
  controller: string
  dataDir: string
  dataDirKept: boolean
  resumed: boolean
  consul: {url: string; dataDir: string; pid: number}
  nodes: {name: string; grpc: string; http: string; kafka: string; metrics: string; dataDir: string; pid: number}[]
}

export class PlaygroundProcess {
  stdout = ''
  stderr = ''
  readonly exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  private readonly child: ChildProcess
  private info: PlaygroundJson | undefined

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [lignumBin, 'cluster', 'up', ...args], {cwd: repoRoot, env: {...process.env, NO_COLOR: '', ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    this.child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')))
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')))
    this.exited = new Promise((resolve) => this.child.once('close', (code, signal) => resolve({code, signal})))
  }

  get pid(): number {
    return this.child.pid!
  }

  /** The --json summary, once printed; fails if the command exits first. */
  async summary(timeoutMs = UP_TIMEOUT_MS): Promise<PlaygroundJson> {
    const deadlineMs = Date.now() + timeoutMs
    let exited = false
    void this.exited.then(() => (exited = true))
    while (Date.now() < deadlineMs) {
      const line = this.stdout.split('\n').find((candidate) => candidate.startsWith('{'))
      if (line) {
        this.info = JSON.parse(line) as PlaygroundJson
        return this.info
      }
      if (exited) throw new Error(`cluster up exited before it was up: ${JSON.stringify(await this.exited)}\n${this.stderr.slice(-3000)}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`cluster up was not up within ${timeoutMs} ms:\n${this.stderr.slice(-3000)}`)
  }

  /** Closes the reading end of stdout, as `| head -1` does once it has its line. */
  closeStdout(): void {
    this.child.stdout!.destroy()
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal)
  }

  /** Every pid the summary named (before it: every process naming the playground's directory), and the command's own. */
  pids(): number[] {
    if (this.info) return [this.pid, this.info.consul.pid, ...this.info.nodes.map((node) => node.pid)]
    const dataDir = /starting a playground in (\S+)/.exec(this.stderr)?.[1]
    return [this.pid, ...(dataDir === undefined ? [] : processesMentioning(dataDir))]
  }

  forceKill(): void {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Gone already: what a passing test leaves.
      }
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The last non-empty line of `text`. */
export function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? ''
}

/** Pids of live processes whose command line names `text` (a playground's directory). */
export function processesMentioning(text: string): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)
    } catch {
      return false
    }
  }).map(Number)
}
