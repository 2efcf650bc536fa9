/**
 * Child processes for the peer benchmark: long-running servers (Lignum, Kafka, NATS) and
 * short load tools. Every child has a deadline and is killed when it passes; every server
 * started is remembered so that `stopAllServers` can end them all, even after an error.
 * Server accounting reads /proc: CPU seconds from /proc/<pid>/stat (utime + stime, all
 * threads), peak RSS from VmHWM in /proc/<pid>/status, reset per workload through
 * /proc/<pid>/clear_refs so each row gets its own peak.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {createWriteStream} from 'node:fs'
import {readFile, writeFile} from 'node:fs/promises'
import net from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'

/** Kernel clock ticks per second for /proc/<pid>/stat (USER_HZ is 100 on Linux builds). */
const clockTicksPerSecond = 100
/** A server gets this long to exit after SIGTERM before SIGKILL (Kafka flushes and closes). */
const stopGraceMs = 20_000
/** Polling interval while waiting for a port to accept connections. */
const portPollMs = 200

export interface ToolResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  wallSeconds: number
  /** Newlines seen on stdout when it was counted rather than collected. */
  stdoutLines: number
}

export interface ToolOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  timeoutMs: number
  /** Where stdout goes: collected (default), or only its lines counted (for consumers writing records). */
  stdout?: 'collect' | 'count-lines'
}

/** Runs a tool to completion (or its deadline) and returns what it printed and how long it took. */
export function runTool(command: string, args: string[], options: ToolOptions): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const startedNs = process.hrtime.bigint()
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let stdoutLines = 0
    child.stdout?.on('data', (chunk: Buffer) => {
      if (options.stdout === 'count-lines') stdoutLines += countNewlines(chunk)
      else stdout.push(chunk)
    })
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        wallSeconds: Number(process.hrtime.bigint() - startedNs) / 1e9,
        stdoutLines,
      })
    })
  })
}

function countNewlines(chunk: Buffer): number {
  let count = 0
  for (let position = chunk.indexOf(10); position >= 0; position = chunk.indexOf(10, position + 1)) count++
  return count
}

/** Throws with the tool's last lines of output when it did not exit 0. */
export function assertToolSucceeded(name: string, result: ToolResult): void {
  if (result.code === 0) return
  const lines = (result.stderr + '\n' + result.stdout).split('\n').map((line) => line.trim()).filter(Boolean)
  const errorLines = lines.filter((line) => /error|exception|fail/i.test(line))
  const tail = (errorLines.length > 0 ? errorLines : lines).slice(-2).join(' / ')
  const how = result.signal ? `was killed by ${result.signal} (deadline?)` : `exited ${result.code}`
  throw new Error(`${name} ${how}: ${tail}`)
}

export interface Server {
  name: string
  pid: number
  child: ChildProcess
  logPath: string
  exited: Promise<void>
}

const running = new Set<Server>()

/**
 * Starts a server with its output in `logPath`. The overall deadline is a safety net: a
 * benchmark that hangs must not leave a JVM behind.
 */
export function startServer(name: string, command: string, args: string[], options: {env?: NodeJS.ProcessEnv; cwd?: string; logPath: string; deadlineMs: number}): Server {
  const log = createWriteStream(options.logPath)
  const child = spawn(command, args, {cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe']})
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  const deadline = setTimeout(() => child.kill('SIGKILL'), options.deadlineMs)
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => {
      clearTimeout(deadline)
      resolve()
    })
    child.on('error', () => {
      clearTimeout(deadline)
      resolve()
    })
  })
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`)
  const server: Server = {name, pid: child.pid, child, logPath: options.logPath, exited}
  running.add(server)
  void exited.then(() => running.delete(server))
  return server
}

/** SIGTERM, then SIGKILL after the grace period. Safe to call twice. */
export async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  server.child.kill('SIGTERM')
  const stopped = await Promise.race([server.exited.then(() => true), sleep(stopGraceMs).then(() => false)])
  if (!stopped) {
    server.child.kill('SIGKILL')
    await server.exited
  }
}

export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => stopServer(server)))
}

/** Waits until `port` on 127.0.0.1 accepts a connection, or throws naming the server's log. */
export async function waitForPort(server: Server, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`${server.name} exited while starting; see ${server.logPath}`)
    if (await canConnect(port)) return
    await sleep(portPollMs)
  }
  throw new Error(`${server.name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms; see ${server.logPath}`)
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({host: '127.0.0.1', port})
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** Asks the kernel for a free loopback port (closed again at once; races are unlikely here). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const listener = net.createServer()
    listener.once('error', reject)
    listener.listen(0, '127.0.0.1', () => {
      const address = listener.address()
      listener.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

export interface ProcessUsage {
  cpuSeconds: number
  peakRssBytes: number
}

/** CPU seconds so far (user + system, all threads) and the peak resident set since the last reset. */
export async function readUsage(pid: number): Promise<ProcessUsage> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may contain spaces) start at state, field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const userTicks = Number(fields[14 - 3])
  const systemTicks = Number(fields[15 - 3])
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status)
  return {cpuSeconds: (userTicks + systemTicks) / clockTicksPerSecond, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0}
}

/** Resets VmHWM to the current RSS, so the next reading is the peak of what follows. */
export async function resetPeakRss(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}
