/**
 * One child of the playground (a node or Consul) under supervision: spawned in a process
 * group of its own, so a terminal's Ctrl-C reaches the playground alone and the playground
 * decides the order children stop in; its output copied to the prefixed log; its exit
 * remembered and told apart as asked for (stop) or on its own (a crash, a kill from outside).
 *
 * Invariants: `stop` sends the signal once, escalates to SIGKILL after its timeout, and
 * resolves only once the process has exited, so no child outlives a finished stop; stopping
 * an exited child is a no-op.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import readline from 'node:readline'
import type {PrefixedLog} from './prefixed-log.js'

export interface ProcessExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** True when the playground asked it to stop; false when it ended on its own. */
  requested: boolean
}

export interface SupervisedOptions {
  name: string
  command: string
  args: readonly string[]
  env?: NodeJS.ProcessEnv
  log: PrefixedLog
  /** Sees every line of stderr and stdout too (a node's "node started" line). */
  onLine?: (line: string) => void
}

export class SupervisedProcess {
  readonly name: string
  readonly exited: Promise<ProcessExit>
  private readonly child: ChildProcess
  private stopRequested = false
  private exit: ProcessExit | undefined

  constructor(options: SupervisedOptions) {
    this.name = options.name
    this.child = spawn(options.command, options.args, {env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true})
    this.exited = new Promise((resolve) => {
      // 'error' without 'exit' happens when the binary cannot be spawned at all (ENOENT, EACCES).
      this.child.once('error', (error) => {
        options.log.line(options.name, `could not start ${options.command}: ${error.message}`)
        this.settle({code: 127, signal: null}, resolve)
      })
      this.child.once('exit', (code, signal) => this.settle({code, signal}, resolve))
    })
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      options.log.follow(options.name, stream)
      if (options.onLine) readline.createInterface({input: stream, crlfDelay: Infinity}).on('line', options.onLine)
    }
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  get hasExited(): boolean {
    return this.exit !== undefined
  }

  /** Sends `signal`, then SIGKILL if it has not exited after `timeoutMs`; resolves on exit. */
  async stop(signal: NodeJS.Signals, timeoutMs: number): Promise<ProcessExit> {
    if (this.exit) return this.exit
    this.stopRequested = true
    this.send(signal)
    const timer = setTimeout(() => this.send('SIGKILL'), timeoutMs)
    const exit = await this.exited
    clearTimeout(timer)
    return exit
  }

  /** SIGKILL at once (a second Ctrl-C); resolves on exit. */
  async kill(): Promise<ProcessExit> {
    if (this.exit) return this.exit
    this.stopRequested = true
    this.send('SIGKILL')
    return this.exited
  }

  /** SIGKILL without waiting: for a process 'exit' handler, where nothing asynchronous runs. */
  killNow(): void {
    this.stopRequested = true
    this.send('SIGKILL')
  }

  private send(signal: NodeJS.Signals): void {
    if (this.exit || this.child.pid === undefined) return
    try {
      this.child.kill(signal)
    } catch {
      // Exited between the check and the signal: the exit event settles it.
    }
  }

  private settle(exit: Omit<ProcessExit, 'requested'>, resolve: (exit: ProcessExit) => void): void {
    if (this.exit) return
    this.exit = {...exit, requested: this.stopRequested}
    resolve(this.exit)
  }
}

/** "code 1" or "signal SIGKILL", for one line about an exit. */
export function describeExit(exit: ProcessExit): string {
  return exit.signal === null ? `code ${exit.code}` : `signal ${exit.signal}`
}
