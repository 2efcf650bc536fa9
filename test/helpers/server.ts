/**
 * Starts a real `lignum serve` process on free loopback ports and a temporary data directory,
 * and waits until it says it has started (its JSON log line carries the bound addresses).
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtemp} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {lignumBin, repoRoot} from './cli.js'

export interface RunningServer {
  process: ChildProcess
  dataDir: string
  grpcAddress: string
  httpUrl: string
  /** host:port of the Kafka listener, when --kafka-port was given. */
  kafkaAddress: string | undefined
  nodeId: string
  logs: () => string
  /** Sends a signal and waits for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

export interface ServerOptions {
  dataDir?: string
  args?: string[]
  env?: Record<string, string>
  startTimeoutMs?: number
}

const running = new Set<ChildProcess>()

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'lignum-serve-')))
  const child = spawn(process.execPath, [lignumBin, 'serve', '--data-dir', dataDir, '--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1', ...(options.args ?? [])], {
    cwd: repoRoot,
    env: {...process.env, ...options.env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    running.delete(child)
    resolve(code)
  }))
  const started = await new Promise<{grpc: string; http: string; kafka?: string; nodeId: string}>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lignum serve did not start in time:\n${output}`)), options.startTimeoutMs ?? 20_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      for (const line of output.split('\n')) {
        if (!line.includes('"node started"')) continue
        clearTimeout(timer)
        const parsed = JSON.parse(line) as {grpc: string; http: string; kafka?: string; nodeId: string}
        resolve(parsed)
        return
      }
    }
    child.stderr?.on('data', onData)
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`lignum serve exited with ${code} before starting:\n${output}`))
    })
  })
  return {
    process: child,
    dataDir,
    grpcAddress: started.grpc,
    httpUrl: `http://${started.http}`,
    kafkaAddress: started.kafka === undefined || started.kafka === 'off' ? undefined : started.kafka,
    nodeId: started.nodeId,
    logs: () => output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** Kills any server a failed test left behind, so mocha can exit. */
export function killAllServers(): void {
  for (const child of running) child.kill('SIGKILL')
}

after(killAllServers)

/** One `lignum serve` for a describe block: started before its tests, stopped after them. */
export function serverForSuite(options: ServerOptions = {}): {readonly server: RunningServer; readonly brokers: string[]} {
  let server: RunningServer | undefined
  before(async () => {
    server = await startServer(options)
  })
  after(async () => {
    await server?.stop()
  })
  const running = () => {
    if (!server) throw new Error('the suite\'s server has not started')
    return server
  }
  return {
    get server() {
      return running()
    },
    get brokers() {
      return ['--brokers', running().grpcAddress]
    },
  }
}
