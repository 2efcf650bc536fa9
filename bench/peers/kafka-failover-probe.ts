/**
 * Drives drivers/FailoverProbe.java, the Kafka side of the failover benchmark: compiles it
 * with javac against the installed Kafka's jars into the peers cache (one directory per
 * version of the source, so an edited probe is compiled again and a class file is never
 * committed), starts it as one JVM and talks to it one line per command (see the Java file).
 * Invariant: at most one command is outstanding at a time, so the next stdout line is its answer.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {createHash} from 'node:crypto'
import {access, mkdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import readline from 'node:readline'
import {fileURLToPath} from 'node:url'
import {peersCacheDir} from './installed-peers.js'
import {classPath, toolHeap} from './kafka.js'
import {assertToolSucceeded, runTool} from './processes.js'

const sourcePath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'drivers', 'FailoverProbe.java')
const mainClass = 'FailoverProbe'
const compileTimeoutMs = 180_000
/** A probe command other than `failover` is an Admin round trip or a clock read: seconds at most. */
const commandTimeoutMs = 30_000
/**
 * The probe's clock and this process's must be one (CLOCK_MONOTONIC); a reading taken across a
 * pipe on a loaded machine may lag by this much and still be the same clock.
 */
const clockAgreementMs = 1_000

export interface PartitionView {
  partition: number
  /** -1 while the partition has no leader. */
  leader: number
  isr: number[]
}

export interface KafkaTopicView {
  controller: number
  partitions: PartitionView[]
}

export interface KafkaFailoverObservation {
  /** Monotonic ns (process.hrtime's clock) of the first acknowledgement after the kill, or null. */
  firstAckNs: bigint | null
  /** When Admin first showed another leader (polled every 50 ms), or null. */
  leaderSeenNs: bigint | null
  newLeader: number | null
  sendErrors: number
}

/** Compiles the probe unless this version of it is compiled already; the directory of its class. */
export async function compileProbe(installDir: string): Promise<string> {
  const source = await readFile(sourcePath)
  const digest = createHash('sha256').update(source).update(installDir).digest('hex').slice(0, 16)
  const classDir = path.join(peersCacheDir(), 'failover-probe', digest)
  const compiled = await access(path.join(classDir, `${mainClass}.class`)).then(() => true, () => false)
  if (compiled) return classDir
  await mkdir(classDir, {recursive: true})
  const result = await runTool('javac', ['-cp', classPath(installDir), '-d', classDir, sourcePath], {timeoutMs: compileTimeoutMs})
  assertToolSucceeded('javac FailoverProbe.java', result)
  return classDir
}

export class KafkaFailoverProbe {
  private readonly answers: string[] = []
  private wake: (() => void) | undefined
  private readonly stderrTail: string[] = []
  private readonly exited: Promise<void>

  private constructor(private readonly child: ChildProcess) {
    readline.createInterface({input: child.stdout!}).on('line', (line) => {
      this.answers.push(line)
      this.wake?.()
    })
    readline.createInterface({input: child.stderr!}).on('line', (line) => {
      this.stderrTail.push(line)
      if (this.stderrTail.length > 20) this.stderrTail.shift()
    })
    this.exited = new Promise((resolve) => child.once('exit', () => {
      resolve()
      this.wake?.()
    }))
  }

  static async start(installDir: string, classDir: string, log4j: string, bootstrap: string, producerSettings: string[]): Promise<KafkaFailoverProbe> {
    const child = spawn('java', [
      `-Xmx${toolHeap}`, `-Dlog4j2.configurationFile=${log4j}`, '-cp', `${classDir}${path.delimiter}${classPath(installDir)}`, mainClass, bootstrap, ...producerSettings,
    ], {stdio: ['pipe', 'pipe', 'pipe']})
    const probe = new KafkaFailoverProbe(child)
    await probe.checkClock()
    return probe
  }

  /** Sends one command and returns its answer line; an `error` answer or an exit throws. */
  async command(line: string, timeoutMs = commandTimeoutMs): Promise<string> {
    if (this.child.exitCode !== null) throw new Error(`the Kafka failover probe exited: ${this.stderrTail.join(' / ')}`)
    this.child.stdin!.write(line + '\n')
    const deadline = Date.now() + timeoutMs
    while (this.answers.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`the Kafka failover probe exited during "${line}": ${this.stderrTail.join(' / ')}`)
      if (Date.now() > deadline) throw new Error(`the Kafka failover probe did not answer "${line}" within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        this.wake = resolve
        setTimeout(resolve, 200)
      })
    }
    const answer = this.answers.shift()!
    if (answer.startsWith('error ')) throw new Error(`Kafka failover probe, "${line}": ${answer.slice(6)}`)
    return answer
  }

  private async checkClock(): Promise<void> {
    const before = process.hrtime.bigint()
    const probeNs = BigInt((await this.command('clock', 60_000)).split(' ')[1]!)
    const after = process.hrtime.bigint()
    const aheadMs = Number(probeNs - before) / 1e6
    const behindMs = Number(after - probeNs) / 1e6
    if (aheadMs < -clockAgreementMs || behindMs < -clockAgreementMs) {
      throw new Error(`the JVM's System.nanoTime and Node's process.hrtime are not one clock here (${aheadMs.toFixed(1)} ms apart); the failover times cannot be compared`)
    }
  }

  async createTopic(topic: string, partitions: number, replicationFactor: number, minInsyncReplicas: number): Promise<void> {
    await this.command(`create ${topic} ${partitions} ${replicationFactor} ${minInsyncReplicas}`)
  }

  async deleteTopic(topic: string): Promise<void> {
    await this.command(`delete ${topic}`)
  }

  async describe(topic: string): Promise<KafkaTopicView> {
    const [, controller, ...partitions] = (await this.command(`describe ${topic}`)).split(' ')
    return {
      controller: Number(controller),
      partitions: partitions.map((cell) => {
        const [partition, leader, isr] = cell.split(':')
        return {partition: Number(partition), leader: Number(leader), isr: isr === '-' ? [] : isr!.split(',').map(Number)}
      }),
    }
  }

  /** Moves the steady load to `partition` and waits for `acks` acknowledgements there. */
  async produce(topic: string, partition: number, acks: number): Promise<void> {
    await this.command(`produce ${topic} ${partition}`)
    await this.command(`acks ${acks}`, commandTimeoutMs * 2)
  }

  async idle(): Promise<void> {
    await this.command('idle')
  }

  async sendErrors(): Promise<number> {
    return Number((await this.command('errors')).split(' ')[1])
  }

  async observeFailover(killedAtNs: bigint, oldLeader: number, timeoutMs: number): Promise<KafkaFailoverObservation> {
    const [, firstAck, leaderSeen, newLeader, sendErrors] = (await this.command(`failover ${killedAtNs} ${oldLeader} ${timeoutMs}`, timeoutMs + commandTimeoutMs)).split(' ')
    const orNull = (text: string | undefined) => (text === undefined || text === '-1' ? null : BigInt(text))
    return {firstAckNs: orNull(firstAck), leaderSeenNs: orNull(leaderSeen), newLeader: newLeader === '-1' ? null : Number(newLeader), sendErrors: Number(sendErrors)}
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.stdin!.end('quit\n')
    const quit = await Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000))])
    if (!quit) {
      this.child.kill('SIGKILL')
      await this.exited
    }
  }
}
