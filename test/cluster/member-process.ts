/**
 * Runs a ClusterMember in a child process (fixtures/member.ts) and reads what it says: its
 * events on stdout, its JSON log lines on stderr. Lets a test ask for its view, and kill,
 * freeze or stop it like an operator would.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import {repoRoot} from '../helpers/cli.js'
import type {ClusterView} from '../../src/cluster/cluster-member.js'

const FIXTURE = path.join(repoRoot, 'test', 'cluster', 'fixtures', 'member.ts')
// Starting a tsx child on a loaded 2-core machine can take seconds.
const ANSWER_TIMEOUT_MS = 30_000

export interface MemberSettings {
  consulUrl: string
  cluster: string
  nodeId: string
  advertiseAddress: string
  version?: string
  sessionTtlMs: number
  lockDelayMs: number
}

export interface MemberAnswer {
  view: ClusterView
  isController: boolean
  ready: boolean
}

export interface LogLine {
  level: string
  msg: string
  [field: string]: unknown
}

export class MemberProcess {
  readonly logs: LogLine[] = []
  readonly events: {event: string; [field: string]: unknown}[] = []
  private readonly waiters: ((event: {event: string}) => void)[] = []
  private exited: Promise<void>

  private constructor(
    readonly settings: MemberSettings,
    private readonly child: ChildProcess,
  ) {
    readline.createInterface({input: child.stdout!}).on('line', (line) => this.onEvent(line))
    readline.createInterface({input: child.stderr!}).on('line', (line) => this.onLog(line))
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
  }

  static async start(settings: MemberSettings): Promise<MemberProcess> {
    const options = {version: '0.0.0-test', ...settings}
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(options)], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const member = new MemberProcess(settings, child)
    await member.nextEvent('started')
    return member
  }

  get nodeId(): string {
    return this.settings.nodeId
  }

  get pid(): number {
    return this.child.pid!
  }

  async answer(): Promise<MemberAnswer> {
    const reply = this.nextEvent('view')
    this.child.stdin!.write('view\n')
    return (await reply) as unknown as MemberAnswer
  }

  /** Reports a damaged replica, which registers the node again at once. */
  reportDamaged(partitionId: string): void {
    this.child.stdin!.write(`damaged ${partitionId}\n`)
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal)
  }

  async killHard(): Promise<void> {
    this.child.kill('SIGKILL')
    await this.exited
  }

  /** SIGTERM, then waits for the clean exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill('SIGCONT')
    this.child.kill('SIGTERM')
    await this.exited
  }

  get exitCode(): number | null {
    return this.child.exitCode
  }

  logged(message: string): LogLine[] {
    return this.logs.filter((line) => line.msg === message)
  }

  private nextEvent(name: string): Promise<{event: string}> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.nodeId}: no "${name}" within ${ANSWER_TIMEOUT_MS} ms`)), ANSWER_TIMEOUT_MS)
      const waiter = (event: {event: string}) => {
        if (event.event !== name) return
        clearTimeout(timer)
        this.waiters.splice(this.waiters.indexOf(waiter), 1)
        resolve(event)
      }
      this.waiters.push(waiter)
    })
  }

  private onEvent(line: string): void {
    const event = JSON.parse(line) as {event: string}
    this.events.push(event)
    for (const waiter of [...this.waiters]) waiter(event)
  }

  private onLog(line: string): void {
    try {
      this.logs.push(JSON.parse(line) as LogLine)
    } catch {
      this.logs.push({level: 'raw', msg: line})
    }
  }
}

/** Polls `probe` until it returns a value other than undefined, or fails with `what`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      lastError = error
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`)
}
