/**
 * `lignum consume -G` processes for the group tests: each prints `partition offset` lines, and
 * the test reads which (partition, offset) each member printed.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {lignumBin, repoRoot} from './cli.js'

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A `consume -G` process and every (partition, offset) it printed. */
export class GroupMemberProcess {
  readonly process: ChildProcess
  readonly printed = new Map<number, Set<number>>()
  stderr = ''
  readonly exited: Promise<number | null>
  private partial = ''

  constructor(args: string[]) {
    this.process = spawn(process.execPath, [lignumBin, 'consume', '--format', '%p %o\\n', ...args], {cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe']})
    this.process.stdout?.on('data', (chunk: Buffer) => this.take(chunk.toString()))
    this.process.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()))
    this.exited = new Promise((resolve) => this.process.on('exit', resolve))
  }

  has(partition: number, offset: number): boolean {
    return this.printed.get(partition)?.has(offset) ?? false
  }

  /** The highest offset printed of a partition, -1 if none. */
  highest(partition: number): number {
    return Math.max(-1, ...(this.printed.get(partition) ?? []))
  }

  private take(text: string): void {
    const lines = (this.partial + text).split('\n')
    this.partial = lines.pop() as string
    for (const line of lines) {
      const [partition, offset] = line.split(' ').map(Number)
      if (!this.printed.has(partition)) this.printed.set(partition, new Set())
      ;(this.printed.get(partition) as Set<number>).add(offset)
    }
  }
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const giveUpAtMs = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > giveUpAtMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}


/**
 * Produces rounds (one record per partition) until one round is printed once, half of the
 * partitions by each member: the group has settled on an even split. Which partitions each has.
 */
export async function settledSplit(a: GroupMemberProcess, b: GroupMemberProcess, partitions: number, produceRound: () => Promise<{partition: number; offset: number}[]>, timeoutMs: number): Promise<{a: number[]; b: number[]}> {
  const giveUpAtMs = Date.now() + timeoutMs
  for (;;) {
    if (Date.now() > giveUpAtMs) throw new Error(`the members did not settle on an even split in ${timeoutMs} ms`)
    const round = await produceRound()
    // A round not printed in full is not a split (the test's final count says whether a record was skipped).
    const printed = await waitFor('a probe round printed', () => round.every(({partition, offset}) => a.has(partition, offset) || b.has(partition, offset)), 5_000).then(() => true, () => false)
    if (!printed) continue
    const byA = round.filter(({partition, offset}) => a.has(partition, offset)).map(({partition}) => partition)
    const byB = round.filter(({partition, offset}) => b.has(partition, offset)).map(({partition}) => partition)
    if (byA.length === partitions / 2 && byB.length === partitions / 2 && byA.every((partition) => !byB.includes(partition))) return {a: byA, b: byB}
    await sleep(200)
  }
}
